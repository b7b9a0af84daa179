"""A capture's counters, as tcpdump prints them on exit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Stats:
    """Counters of a capture, as tcpdump prints them on exit.

    ``captured`` counts packets this process read; ``received`` and
    ``dropped`` come from the kernel (None for files), ``if_dropped`` from the
    interface.
    """

    captured: int
    received: Optional[int] = None
    dropped: Optional[int] = None
    if_dropped: Optional[int] = None

    def __add__(self, other: "Stats") -> "Stats":
        def add(a: Optional[int], b: Optional[int]) -> Optional[int]:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return Stats(self.captured + other.captured, add(self.received, other.received),
                     add(self.dropped, other.dropped), add(self.if_dropped, other.if_dropped))
