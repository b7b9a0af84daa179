"""Option types that refuse, at parse time, values the capture could only choke on later."""

from __future__ import annotations

import math
from typing import Any, Optional

import click

# libpcap takes the kernel buffer size in bytes as a C int
MAX_BUFFER_KIB = (2**31 - 1) // 1024


class Seconds(click.ParamType):
    """A positive, finite number of seconds (``nan`` and ``inf`` are floats, not durations)."""

    name = "seconds"

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or seconds <= 0:
            self.fail(f"{value!r} is not a positive, finite number of seconds", param, ctx)
        return seconds


class FileSize(click.ParamType):
    """tcpdump's ``-C``: a positive whole number of millions of bytes, or of KiB, MiB, GiB with a
    ``k``, ``m``, ``g`` suffix (tcpdump 4.99.6); converts to bytes."""

    name = "size"
    UNIT = 1_000_000
    SUFFIXES = {"k": 1024, "m": 1024**2, "g": 1024**3}
    MAX_BYTES = 2**63 - 1  # the writers count a file's bytes in a Java long

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        unit = self.SUFFIXES.get(text[-1:].lower())
        digits = text[:-1] if unit else text
        # ASCII only: str.isdigit() also takes '²' and other digits int() refuses
        if not (digits.isascii() and digits.isdigit()) or int(digits) == 0:
            self.fail(f"{value!r} is not a positive whole number of millions of bytes "
                      f"(or of KiB, MiB, GiB with k, m, g)", param, ctx)
        size = int(digits) * (unit or self.UNIT)
        if size > self.MAX_BYTES:
            self.fail(f"{value!r} is more than a file can hold ({self.MAX_BYTES // self.UNIT} millions of bytes "
                      f"at most)", param, ctx)
        return size


class NonEmpty(click.ParamType):
    """A string that must not be empty (``-w ''`` names no file, ``-Z ''`` no user)."""

    name = "text"

    def __init__(self, what: str):
        self.what = what

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> str:
        if value == "":
            self.fail(f"an empty string is no {self.what}", param, ctx)
        return value


SECONDS = Seconds()
BUFFER_KIB = click.IntRange(min=1, max=MAX_BUFFER_KIB)
FILE_NAME = NonEmpty("file name")
USER_NAME = NonEmpty("user name")
FILE_SIZE = FileSize()
INTERVAL = click.IntRange(min=1)  # -G: whole seconds, as tcpdump
FILE_COUNT = click.IntRange(min=1)  # -W
COMMAND = NonEmpty("command")


# tcpdump's printing flags, on capture and read (counted where tcpdump counts them)
PRINT_OPTIONS = [
    click.option("-v", "verbose", count=True, help="More detail (-vv, -vvv: more still), as tcpdump."),
    click.option("-e", "link_header", is_flag=True, help="Print the link-level header, as tcpdump."),
    click.option("-q", "quick", is_flag=True, help="Less protocol detail, as tcpdump."),
    click.option("-t", "tstamp", count=True,
                 help="-t no time, -tt seconds since 1970, -ttt since the previous packet, "
                      "-tttt date and time, -ttttt since the first packet."),
    click.option("-S", "absolute_seq", is_flag=True, help="Absolute TCP sequence numbers."),
    click.option("-x", "hex_x", count=True, help="Hex of each packet (-xx: with its link header)."),
    click.option("-X", "hex_X", count=True, help="Hex and ASCII of each packet (-XX: with its link header)."),
    click.option("-A", "ascii_A", count=True, help="ASCII of each packet (-AA: with its link header)."),
    click.option("-#", "--number", "number", is_flag=True, help="A packet number first on each line."),
]


def print_flags(verbose: int = 0, link_header: bool = False, quick: bool = False, tstamp: int = 0,
                absolute_seq: bool = False, hex_x: int = 0, hex_X: int = 0, ascii_A: int = 0,
                number: bool = False):
    """The :class:`~pcap4py.sinks.printing.PrintFlags` the printing options ask for."""
    from ..sinks.printing import PrintFlags

    return PrintFlags.from_counts(verbose, link_header, quick, absolute_seq, tstamp, hex_x, hex_X, ascii_A, number)
