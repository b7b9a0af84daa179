"""The limits of the numbers users give (snapshot length, buffer size, count, duration), and the
one check that names them."""

from __future__ import annotations

from ..errors import OutOfRange

MAX_SNAPLEN = 262144  # libpcap's largest snapshot (and tcpdump's default), most link types' largest frame
INT_MAX = 2**31 - 1  # libpcap takes timeouts and buffer sizes as C ints
# a line formatter's output buffer: room for the worst usual frame, as LineFormatter budgets it (9
# bytes per frame byte for -X/-A rows of an unknown payload or DNS names, plus the record's fixed
# part); a bigger frame (D-Bus, USBPcap, EBHSCR: Java's LinkTypes.maxSnaplen) comes in pieces of it
LINE_OUTPUT_BYTES = 10 * MAX_SNAPLEN + (64 << 10)


def check_range(name: str, value: object, low: float, high: float) -> None:
    """Raise :class:`OutOfRange` naming the limits unless ``low <= value <= high`` (NaN is out)."""
    if not (isinstance(value, (int, float)) and low <= value <= high):
        raise OutOfRange(f"{name} must be between {low} and {high}, not {value!r}")
