"""An incremental pcapng parser for a byte stream that arrives in pieces (a remote capture).

:class:`StreamParser` takes bytes as they come (:meth:`StreamParser.feed`) and returns what the
complete blocks among them hold: :class:`Interface` records (interface description blocks),
:class:`Frames` (the enhanced and simple packet blocks of one interface, packed for the Java
``StreamFrames`` source: a 16-byte little-endian header, time stamp in ns, captured and original
lengths, then the bytes) and :class:`Statistics` (interface statistics blocks).  A block cut by
the end of a piece waits for the next.  What is not pcapng raises :class:`StreamError`, with the
text the stream began with when it was not pcapng at all (an error line of the remote side).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Optional, Union

SHB, IDB, SPB, ISB, EPB = 0x0A0D0D0A, 1, 3, 5, 6
BYTE_ORDER_MAGIC = 0x1A2B3C4D
MAX_BLOCK = 16 << 20  # libpcap's initial limit on a block's size
MAX_FRAME = 262144  # the batch buffers' largest frame
MAX_INTERFACES = 256
# option codes
OPT_END, IF_NAME, IF_DESCRIPTION, IF_TSRESOL = 0, 2, 3, 9
ISB_IFRECV, ISB_IFDROP, ISB_FILTERACCEPT, ISB_OSDROP = 4, 5, 6, 7
_FRAME_HEADER = struct.Struct("<QII")
NS = 1_000_000_000
TS_OUT_OF_RANGE = 2**64 - 1  # the record's mark for a time no count of ns holds


class StreamError(ValueError):
    """The stream is not (or stops being) valid pcapng."""


@dataclass(frozen=True)
class Interface:
    """An interface description block: ``number`` in the stream, link type (a LINKTYPE_ value),
    snapshot length, ``if_name`` and ``if_description`` (None when absent)."""

    number: int
    linktype: int
    snaplen: int
    name: Optional[str]
    description: Optional[str]
    resolution: tuple = field(default=(10, 6), repr=False)  # (base, exponent): units of 10^-6 s


@dataclass(frozen=True)
class Frames:
    """Packets of interface ``number``: ``count`` frames packed in ``data`` (see the module)."""

    number: int
    count: int
    data: bytes


@dataclass(frozen=True)
class Statistics:
    """An interface statistics block of interface ``number`` (None: the counter is absent)."""

    number: int
    received: Optional[int]
    dropped: Optional[int]
    accepted: Optional[int]


Event = Union[Interface, Frames, Statistics]


class StreamParser:
    """Parses a pcapng byte stream piece by piece (one section after another, either byte order)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._order: Optional[str] = None  # '<' or '>' once a section header was read
        self._section: list[Interface] = []  # the current section's interfaces
        self.interfaces: list[Interface] = []  # every interface so far, numbered across sections
        self._first = 0  # global number of the current section's first interface
        self.offset = 0  # bytes consumed (for error messages)

    def feed(self, data: bytes) -> list[Event]:
        """Parse ``data`` (what followed the previous piece); the events of the blocks completed."""
        self._buf += data
        events: list[Event] = []
        frames: dict[int, list[bytes]] = {}
        pos = 0
        while True:
            block = self._next_block(pos)
            if block is None:
                break
            kind, body, length = block
            self._handle(kind, body, events, frames)
            pos += length
        del self._buf[:pos]
        self.offset += pos
        self._flush_frames(frames, events)
        return events

    def finish(self) -> None:
        """The stream has ended: raise if it ended inside a block (or never started)."""
        if self._order is None:
            raise StreamError(self._not_pcapng())
        if self._buf:
            raise StreamError(f"the stream ends inside a block ({len(self._buf)} bytes at offset {self.offset})")

    # --- blocks ---------------------------------------------------------------------------
    def _next_block(self, pos: int) -> Optional[tuple[int, bytes, int]]:
        buf = self._buf
        if len(buf) - pos < 12:
            if self._order is None and len(buf) - pos >= 4 and buf[pos:pos + 4] != b"\x0a\x0d\x0d\x0a":
                raise StreamError(self._not_pcapng())
            return None
        if buf[pos:pos + 4] == b"\x0a\x0d\x0d\x0a":
            magic = bytes(buf[pos + 8:pos + 12])
            order = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}.get(magic)
            if order is None:
                raise StreamError(self._at(pos, "a section header with an unknown byte-order magic"))
            self._order = order
        elif self._order is None:
            raise StreamError(self._not_pcapng())
        kind, length = struct.unpack_from(self._order + "II", buf, pos)
        if length < 12 or length % 4 or length > MAX_BLOCK:
            raise StreamError(self._at(pos, f"a block of impossible length {length}"))
        if len(buf) - pos < length:
            return None
        (trailer,) = struct.unpack_from(self._order + "I", buf, pos + length - 4)
        if trailer != length:
            raise StreamError(self._at(pos, f"a block whose two lengths differ ({length}, {trailer})"))
        return kind, bytes(buf[pos + 8:pos + length - 4]), length

    def _handle(self, kind: int, body: bytes, events: list, frames: dict) -> None:
        if kind == SHB:
            self._first += len(self._section)
            self._section = []
        elif kind == IDB:
            self._interface(body, events, frames)
        elif kind in (EPB, SPB):
            self._packet(kind, body, frames)
        elif kind == ISB:
            self._statistics(body, events, frames)
        # any other block (name resolution, custom, ...) carries nothing a capture needs

    def _interface(self, body: bytes, events: list, frames: dict) -> None:
        if len(body) < 8:
            raise StreamError(self._at(0, "an interface block too short"))
        if len(self.interfaces) >= MAX_INTERFACES:
            raise StreamError(f"more than {MAX_INTERFACES} interfaces")
        linktype, _, snaplen = struct.unpack_from(self._order + "HHI", body)
        options = self._options(body[8:])
        resolution = (10, 6)
        if IF_TSRESOL in options and options[IF_TSRESOL]:
            r = options[IF_TSRESOL][0]
            resolution = (2, r & 0x7F) if r & 0x80 else (10, r)
        iface = Interface(len(self.interfaces), linktype, snaplen, _text(options.get(IF_NAME)),
                          _text(options.get(IF_DESCRIPTION)), resolution)
        self._section.append(iface)
        self.interfaces.append(iface)
        self._flush_frames(frames, events)  # packets keep their order relative to interfaces
        events.append(iface)

    def _packet(self, kind: int, body: bytes, frames: dict) -> None:
        if kind == SPB:
            if len(body) < 4 or not self._section:
                raise StreamError(self._at(0, "a simple packet block without an interface"))
            (origlen,) = struct.unpack_from(self._order + "I", body)
            local, ts, data = 0, 0, body[4:4 + min(origlen, self._section[0].snaplen or origlen)]
            caplen = len(data)
        else:
            if len(body) < 20:
                raise StreamError(self._at(0, "a packet block too short"))
            local, hi, lo, caplen, origlen = struct.unpack_from(self._order + "IIIII", body)
            if caplen > len(body) - 20:
                raise StreamError(self._at(0, f"a packet of {caplen} bytes in a block of {len(body) + 12}"))
            if local >= len(self._section):
                raise StreamError(self._at(0, f"a packet of interface {local}, which is not described"))
            ts = _nanoseconds(self._section[local], (hi << 32) | lo)
            data = body[20:20 + caplen]
        if caplen > MAX_FRAME:
            raise StreamError(self._at(0, f"a packet of {caplen} bytes (at most {MAX_FRAME})"))
        ts = ts if ts < TS_OUT_OF_RANGE else TS_OUT_OF_RANGE
        frames.setdefault(self._first + local, []).append(_FRAME_HEADER.pack(ts, caplen, origlen) + data)

    def _statistics(self, body: bytes, events: list, frames: dict) -> None:
        if len(body) < 12:
            raise StreamError(self._at(0, "a statistics block too short"))
        (local,) = struct.unpack_from(self._order + "I", body)
        if local >= len(self._section):
            return  # statistics of an interface never described: nothing to attach them to
        options = self._options(body[12:])

        def counter(code: int) -> Optional[int]:
            value = options.get(code)
            return struct.unpack(self._order + "Q", value)[0] if value is not None and len(value) == 8 else None

        self._flush_frames(frames, events)
        events.append(Statistics(self._first + local, counter(ISB_IFRECV), counter(ISB_IFDROP),
                                 counter(ISB_FILTERACCEPT)))

    def _options(self, data: bytes) -> dict[int, bytes]:
        """The options of a block (the first of each code), up to opt_endofopt or the end."""
        options: dict[int, bytes] = {}
        pos = 0
        while pos + 4 <= len(data):
            code, length = struct.unpack_from(self._order + "HH", data, pos)
            if code == OPT_END:
                break
            value = data[pos + 4:pos + 4 + length]
            if len(value) < length:
                raise StreamError(self._at(0, f"option {code} runs past its block"))
            options.setdefault(code, value)
            pos += 4 + (length + 3) // 4 * 4
        return options

    @staticmethod
    def _flush_frames(frames: dict, events: list) -> None:
        for number, packed in frames.items():
            events.append(Frames(number, len(packed), b"".join(packed)))
        frames.clear()

    # --- messages -----------------------------------------------------------------------
    def _not_pcapng(self) -> str:
        text = bytes(self._buf[:400]).decode("utf-8", "replace").strip().splitlines()
        return f"not a pcapng stream: {text[0]}" if text else "the stream is empty"

    def _at(self, pos: int, what: str) -> str:
        return f"{what} (near offset {self.offset + pos})"


def _text(value: Optional[bytes]) -> Optional[str]:
    return None if value is None else value.rstrip(b"\0").decode("utf-8", "replace")


def _nanoseconds(iface: Interface, units: int) -> int:
    base, exponent = iface.resolution
    if base == 10:
        return units * 10 ** (9 - exponent) if exponent <= 9 else units // 10 ** (exponent - 9)
    return units * NS >> exponent
