"""tcpdump's printing flags (``-v -e -q -t -S -x -X -A -#``) as one record the text lines take."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# tcpdump's dumps: what -x, -xx, -X, -XX, -A, -AA print after each line (Java's PrintFlags)
DUMP_NONE, DUMP_HEX, DUMP_HEX_LINK, DUMP_HEX_ASCII, DUMP_HEX_ASCII_LINK, DUMP_ASCII, DUMP_ASCII_LINK = range(7)


@dataclass(frozen=True)
class PrintFlags:
    """``verbose``: the count of -v; ``link``: -e; ``quick``: -q; ``absolute_seq``: -S;
    ``tstamp``: the count of -t (0: the default time of day; 1: none; 2: seconds since 1970;
    3: since the previous packet; 4: date and time; 5: since the first packet); ``dump``: one
    of the ``DUMP_*`` values; ``number``: -# (a packet number first)."""

    verbose: int = 0
    link: bool = False
    quick: bool = False
    absolute_seq: bool = False
    tstamp: int = 0
    dump: int = DUMP_NONE
    number: bool = False

    @classmethod
    def from_counts(cls, verbose: int = 0, link: bool = False, quick: bool = False, absolute_seq: bool = False,
                    t: int = 0, x: int = 0, X: int = 0, A: int = 0, number: bool = False) -> "PrintFlags":
        """From tcpdump's flag counts: -X wins over -x, -x over -A (as in tcpdump)."""
        if X:
            dump = DUMP_HEX_ASCII_LINK if X > 1 else DUMP_HEX_ASCII
        elif x:
            dump = DUMP_HEX_LINK if x > 1 else DUMP_HEX
        elif A:
            dump = DUMP_ASCII_LINK if A > 1 else DUMP_ASCII
        else:
            dump = DUMP_NONE
        return cls(min(verbose, 3), link, quick, absolute_seq, min(t, 5), dump, number)

    def java(self) -> Any:
        """The Java ``PrintFlags`` (the JVM must be running)."""
        from ..engine import jvm

        return jvm.jclass("pcap4py.helper.PrintFlags")(self.verbose, self.link, self.quick, self.absolute_seq,
                                                       self.tstamp, self.dump, self.number)
