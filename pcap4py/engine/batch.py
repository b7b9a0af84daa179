"""Batches: how packets cross from Java to Python without one JPype call per packet.

Python owns two buffers (anonymous memory, see :func:`untouched`), handed to Java once as
direct ``ByteBuffer`` views.  One ``BatchReader.fill`` call appends a fixed-size record
per packet to ``meta`` and the frame bytes to ``data`` and returns the count;
Python then unpacks all records with one ``struct.iter_unpack``.

Buffers are sized to the job: a batch starts small (a short capture or a small file never
reserves megabytes it will not use) and doubles each time a read fills it, up to the default
size, so heavy traffic gets large batches after a few rounds.  A file read ahead by Java gets
slots sized from the file's length (Java's thread cannot ask Python for bigger ones).
"""

from __future__ import annotations

import itertools
import mmap
import struct
from typing import Any, Iterator

from . import record as R
from .packet import Packet, Source
from .limits import MAX_SNAPLEN
from .record import RECORD

DEFAULT_BATCH_PACKETS = 4096  # the largest batch: what heavy traffic grows to
DEFAULT_DATA_BYTES = 4 << 20  # 4096 frames of ~1 KB
# a batch with less room than the usual largest frame left counts as full (it grows next time);
# a frame above it (a few link types allow up to 128 MiB) is held by Java until a batch has room
FRAME_RESERVE = MAX_SNAPLEN
START_BATCH_PACKETS = 256  # where a batch starts before traffic asks for more
START_DATA_BYTES = FRAME_RESERVE + (256 << 10)  # 256 KiB of frames a batch, then it grows
MIN_PCAP_RECORD = 16  # a pcap record header: no file holds more packets than bytes / 16
# A file's read-ahead slots (two, both resident once filled): half the live maximum. A million-frame
# --json held ~4 MB in them at 4096; 2048 frames a crossing still costs nothing measurable.
READ_AHEAD_PACKETS = 2048
READ_AHEAD_DATA_BYTES = FRAME_RESERVE + (2 << 20)
# Idle batches kept for reuse (a fresh 8 MiB buffer costs ~5 ms of page faults); a capture that
# ends or a source that leaves hands its batches back here, and at most this many stay.
_IDLE: list["Batch"] = []
IDLE_BATCHES = 4


def untouched(size: int) -> mmap.mmap:
    """``size`` writable zero bytes that cost no memory until written: anonymous pages the kernel
    hands out as Java first writes them.  A buffer sized for the worst case (4 MiB of frames, a
    line formatter's 2.6 MB of output) then holds only what a batch really fills; a ``bytearray``
    of that size is zeroed, so all of it is resident from the start."""
    return mmap.mmap(-1, max(size, 1))


class Batch:
    """A reusable pair of buffers and the number of packets currently in them."""

    __slots__ = ("meta", "data", "_jmeta", "_jdata", "count", "capacity", "_full")

    def __init__(self, capacity: int = DEFAULT_BATCH_PACKETS, data_bytes: int = DEFAULT_DATA_BYTES):
        self.count = 0
        self._full = False
        self._allocate(capacity, max(data_bytes, START_DATA_BYTES))

    def _allocate(self, capacity: int, data_bytes: int) -> None:
        import jpype.nio  # the JVM is already running when a batch is made

        self.capacity = capacity
        self.meta = untouched(capacity * RECORD.size)
        self.data = untouched(data_bytes)
        self._jmeta = jpype.nio.convertToDirectBuffer(self.meta)
        self._jdata = jpype.nio.convertToDirectBuffer(self.data)

    @classmethod
    def reused(cls) -> "Batch":
        """A batch for a new reader: an idle one handed back with :meth:`recycle`, or a small new
        one that grows with the traffic (see :meth:`fill`)."""
        try:
            return _IDLE.pop()
        except IndexError:
            return cls(START_BATCH_PACKETS, START_DATA_BYTES)

    @classmethod
    def for_capture(cls, count: int | None, handles: int) -> "Batch":
        """A batch for one handle of a capture of ``count`` packets (None: no end) over
        ``handles`` handles: a lone open-ended handle starts at the full size (at a high rate a
        small start measurably dropped more under load), a short capture or one of several
        handles starts small and grows with its traffic."""
        if (count is None or count > START_BATCH_PACKETS) and handles <= 1:
            return cls._idle_or_new(DEFAULT_BATCH_PACKETS, DEFAULT_DATA_BYTES)
        return cls.reused()

    @classmethod
    def for_bytes(cls, size: int | None) -> "Batch":
        """A batch with room for ``size`` bytes of capture file (None: unknown, the default
        size); what Java's read-ahead thread fills, which cannot grow a batch."""
        packets, data_bytes = READ_AHEAD_PACKETS, READ_AHEAD_DATA_BYTES
        if size is not None:
            packets = min(packets, max(1, size // MIN_PCAP_RECORD + 1))
            data_bytes = min(data_bytes, size + FRAME_RESERVE)
        return cls._idle_or_new(packets, data_bytes)

    @classmethod
    def _idle_or_new(cls, packets: int, data_bytes: int) -> "Batch":
        """An idle batch with at least this room, else a new one of exactly this room."""
        for i, idle in enumerate(_IDLE):
            if idle.capacity >= packets and len(idle.data) >= data_bytes:
                return _IDLE.pop(i)
        return cls(packets, data_bytes)

    def recycle(self) -> None:
        """Hand the buffers back for reuse; only once nothing (no Java thread either) uses them.
        One grown for a big frame is let go rather than kept idle."""
        self.count = 0
        if len(_IDLE) < IDLE_BATCHES and self not in _IDLE and len(self.data) <= DEFAULT_DATA_BYTES:
            _IDLE.append(self)

    @property
    def java_meta(self) -> Any:
        """The records' buffer as Java sees it (a direct ``ByteBuffer`` over :attr:`meta`)."""
        return self._jmeta

    @property
    def java_data(self) -> Any:
        """The frames' buffer as Java sees it (a direct ``ByteBuffer`` over :attr:`data`)."""
        return self._jdata

    @staticmethod
    def java_arrays(batches: "list[Batch]") -> tuple:
        """Java arrays of the batches' record buffers, frame buffers and counts: how a Java
        consumer takes a whole read round in one call."""
        import jpype

        buffer = jpype.JClass("java.nio.ByteBuffer")
        return (jpype.JArray(buffer)([b._jmeta for b in batches]), jpype.JArray(buffer)([b._jdata for b in batches]),
                jpype.JArray(jpype.JInt)([b.count for b in batches]))

    def fill(self, reader: Any, max_packets: int | None = None) -> int:
        """Let ``reader`` (a Java ``BatchSource``) fill the buffers; returns the packet count.

        A batch the last read filled is doubled first (up to the default size): traffic that
        fills batches gets bigger ones, a trickle keeps small ones.
        """
        if self._full:
            self._grow()
        limit = self.capacity if max_packets is None else min(self.capacity, max_packets)
        self.count = int(reader.fill(self._jmeta, self._jdata, limit))
        if not self.count and self.fit(int(reader.roomNeeded())):
            self.count = int(reader.fill(self._jmeta, self._jdata, limit))
        self._full = self.count > 0 and (self.count >= self.capacity or self._room_left() < FRAME_RESERVE)
        return self.count

    def fit(self, frame_bytes: int) -> bool:
        """Make the data area hold a frame of ``frame_bytes`` (one Java held back for lack of room:
        a link type whose frames exceed the usual 256 KiB); False when it already does.  The
        records stay; the frames' buffer is replaced (its contents were consumed already)."""
        if frame_bytes <= len(self.data):
            return False
        self.set_data_bytes(frame_bytes)
        return True

    def set_data_bytes(self, data_bytes: int) -> None:
        """Replace the frames' buffer with one of ``data_bytes`` (its contents were consumed)."""
        self._allocate(self.capacity, data_bytes)

    def _room_left(self) -> int:
        """Bytes of the data area after the last frame read."""
        last = (self.count - 1) * RECORD.size
        end = (int.from_bytes(self.meta[last + _DATA_OFF:last + _DATA_OFF + 4], "little")
               + int.from_bytes(self.meta[last + _CAPLEN:last + _CAPLEN + 4], "little"))
        return len(self.data) - end

    def _grow(self) -> None:
        """Double the buffers (up to the defaults; one :meth:`fit` grew past them goes back to the
        default); their contents were consumed already."""
        self._full = False
        capacity = min(DEFAULT_BATCH_PACKETS, self.capacity * 2)
        data_bytes = min(DEFAULT_DATA_BYTES, len(self.data) * 2)  # one grown for a big frame shrinks back
        if capacity > self.capacity or data_bytes != len(self.data):
            self._allocate(max(capacity, self.capacity), data_bytes)

    def swap(self, other: "Batch") -> None:
        """Exchange buffers and contents with ``other`` (how a prefetched batch is handed over)."""
        for name in ("meta", "data", "_jmeta", "_jdata", "count", "capacity", "_full"):
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, theirs)
            setattr(other, name, mine)

    def view(self, sources: list[Source]) -> "BatchView":
        """A zero-copy view of the packets now in the batch (valid until the batch is refilled)."""
        return BatchView(self, sources)

    def records(self) -> Iterator[tuple]:
        """The raw record tuples of the packets in the batch (field order of :data:`RECORD`)."""
        return RECORD.iter_unpack(memoryview(self.meta)[: self.count * RECORD.size])

    def packets(self, sources: list[Source]) -> Iterator[Packet]:
        """:class:`Packet` objects for the batch; their bytes are copied out of the buffer."""
        if not self.count:
            return iter(())
        records = list(self.records())
        frames = self._frames([r[R.DATA_OFF] for r in records], [r[R.CAPLEN] for r in records])
        if len(sources) == 1:
            return map(Packet, records, frames, itertools.repeat(sources[0]))
        return map(Packet, records, frames, [sources[r[R.SOURCE_INDEX]] for r in records])

    def _frames(self, offsets: list[int], lengths: list[int]) -> list[bytes]:
        """The frames as ``bytes``, sliced from one copy of the data area."""
        blob = bytes(memoryview(self.data)[: offsets[-1] + lengths[-1]])
        return [blob[o:o + n] for o, n in zip(offsets, lengths)]

    def raw(self) -> Iterator[tuple[int, int, bytes]]:
        """``(ts_ns, original_length, frame_bytes)`` per packet: the cheapest way to iterate.

        Columns come out of the records with strided casts (C loops, no tuple per record), and
        the frames are sliced from one copy of the data area.  The result holds its own copies,
        so it stays valid after the batch is refilled.
        """
        if not self.count:
            return iter(())
        meta = memoryview(self.meta)[: self.count * RECORD.size]
        ts, origlen, offset, caplen = (column(meta, name).tolist()
                                       for name in ("ts_ns", "origlen", "data_off", "caplen"))
        return zip(ts, origlen, self._frames(offset, caplen))


class BatchView:
    """The packets of one batch as columns over the batch's own buffers: no copy, no object per
    packet.

    ``ts_ns``, ``caplen``, ``length`` (on the wire), ``offset`` (of each frame in ``data``) and
    ``source`` (index into ``sources``) are memoryviews, one item per packet (index them, iterate
    them, ``sum()`` them or ``.tolist()``); ``data`` is the data area and :meth:`frame` one frame's
    slice of it.

    Lifetime: the view reads the buffers Java refills, so it is valid only until the next batch is
    asked for (the next step of ``views()``).  Copy what must outlive it (``bytes(view.frame(i))``);
    using a stale view gives the next batch's bytes, not an error.
    """

    __slots__ = ("count", "sources", "data", "meta", "ts_ns", "caplen", "length", "offset", "source")

    def __init__(self, batch: Batch, sources: list[Source]):
        self.count = batch.count
        self.sources = sources
        self.meta = memoryview(batch.meta)[: batch.count * RECORD.size]
        self.data = memoryview(batch.data)
        self.ts_ns, self.caplen, self.length, self.offset, self.source = (
            column(self.meta, name) for name in ("ts_ns", "caplen", "origlen", "data_off", "source_index"))

    def __len__(self) -> int:
        return self.count

    def frame(self, i: int) -> memoryview:
        """Packet ``i``'s captured bytes (a slice of the data area, not a copy)."""
        start = self.offset[i]
        return self.data[start:start + self.caplen[i]]


_DATA_OFF, _CAPLEN = R.OFFSETS["data_off"], R.OFFSETS["caplen"]


def column(meta: memoryview, name: str) -> memoryview:
    """Field ``name`` of every record in ``meta``: a strided cast, a C loop with no tuple per record
    (each field's offset is a multiple of its size, so the cast lines up)."""
    code = dict(R.FIELDS)[name]
    size = struct.calcsize(code)
    return meta.cast(code)[R.OFFSETS[name] // size:: R.SIZE // size]
