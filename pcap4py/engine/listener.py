"""The one way in to a running capture for whoever owns it: a :class:`Listener`.

A sink acts on the clock (``-G`` rotation) and describes sources that join (pcapng interface
blocks); a container's owner learns that a read error means its container went away, and ends
what watches it when the capture closes.  Each registers one listener, with only the callables
it needs (:meth:`pcap4py.engine.capture.Capture.listen`); the engine knows nothing of what its
sources are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..errors import CaptureError


@dataclass(frozen=True)
class SourceGone:
    """What a read error means when it is not an error: the handle's source went away.

    With a ``reason`` the whole capture ends cleanly (as ``stop(reason)``: its ``stop_reason``,
    what the other handles hold still delivered); without one only that handle leaves (closed,
    its counters kept) and the capture goes on."""

    reason: Optional[str] = None


@dataclass(frozen=True, eq=False)  # one listener is one registration: compared by identity
class Listener:
    """Callables a capture calls on its reading thread (each optional).

    ``tick()``: after every poll wait, at most 250 ms apart even on an idle link (act on the
    clock without a check per packet).  ``added(handles)``: handles just joined, before any of
    them is read.  ``read_failed(handle, error)``: a live handle's read failed: a
    :class:`SourceGone`, or None for a real error (raised); it may wait a little, bounded, to
    learn what happened.  ``closing()``: the capture closes; called once, before its handles.
    """

    tick: Optional[Callable[[], None]] = None
    added: Optional[Callable[[list[Any]], None]] = None
    read_failed: Optional[Callable[[Any, CaptureError], Optional[SourceGone]]] = None
    closing: Optional[Callable[[], None]] = None
