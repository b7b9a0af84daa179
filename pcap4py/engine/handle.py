"""Open capture handles: the Python face of Pcap4J's ``PcapHandle``.

:func:`open_live` and :func:`open_offline` return a :class:`Handle`, a context
manager that iterates :class:`~pcap4py.packet.Packet` records.  Reading goes
through the Java ``BatchReader`` (one JPype call per batch, never per packet);
writing a file goes through libpcap's own ``pcap_dump``.
"""

from __future__ import annotations

import os
import socket
from contextlib import ExitStack
from typing import Any, Iterator, Optional

from . import bpf, jvm
from .batch import Batch, BatchView
from .capture import Capture
from ..errors import (CaptureError, CaptureFileError, CaptureWriteError, HandleClosed, InterfaceNotFound,
                      PermissionDenied, Pcap4pyError)
from ..netns import NetnsRef, run_in_netns
from .limits import INT_MAX, MAX_SNAPLEN, check_range
from .resources import Native, finalizer
from .packet import Packet, Source
from .readahead import ReadAhead
from .stats import Stats

# -Q: what the kernel saw the interface do (libpcap's pcap_setdirection), by its Pcap4J name
KERNEL_DIRECTIONS = {"in": "IN", "out": "OUT", "inout": "INOUT"}
# The kernel ring a live handle gets unless told otherwise. tcpdump's 2 MiB suits a consumer
# that spends ~0.1 us per packet; a Python consumer spends 1-2 us, so it needs room for bursts.
DEFAULT_BUFFER_SIZE = 32 << 20
# A capture of a known, small count gets a ring that holds that many frames (the kernel's ring is
# mapped, so resident whole: `capture lo -c 1` peaked at 130 MiB with 32 MiB of it, 70 with 2),
# at least tcpdump's 2 MiB; a frame is counted at most 64 KiB (a GRO'd TCP segment on a veth).
SMALL_RING = 2 << 20
FRAME_ROOM = 64 << 10
# After a live read error (an interface that vanished), the wait before the last read: the kernel
# retires its ring's partly filled block after the read timeout (its own default, 8 ms, for 0);
# capped so that a long timeout does not hold a closing capture for long.
KERNEL_BLOCK_TIMEOUT_MS = 8
DRAIN_MARGIN_MS = 30
DRAIN_CAP_MS = 2000
ANY_DEVICE = "any"


CLASSIC_PCAP_MAJOR = 2  # pcap_major_version of classic pcap files (pcapng reports 1)


class Handle:
    """One open libpcap handle (a live interface or a capture file)."""

    def __init__(self, jhandle: Any, name: str, *, live: bool, index: int = 0):
        reader = jvm.jclass("pcap4py.helper.BatchReader")(jhandle, index)
        if not live:
            reader.setUnsignedSeconds(int(jhandle.getMajorVersion()) == CLASSIC_PCAP_MAJOR)
        linktype = int(reader.linkType())
        self._start(jhandle, reader, Source(name, linktype, index, snaplen=int(reader.snapshot())), live=live)

    def _start(self, jhandle: Any, reader: Any, source: Source, *, live: bool) -> None:
        """The state every handle has: ``reader`` (a Java ``BatchSource``) reads ``source``; ``jhandle``
        is the Pcap4J handle behind it (None for a file Java reads alone)."""
        self._native = Native(jhandle, reader)  # closed by close(), or once the handle is unreachable
        self._release = finalizer(self, self._native)
        self.name = source.name
        self.live = live
        self.linktype = source.linktype
        self.source = source
        self.filter: Optional[str] = None
        self._dump_target: Any = None  # the dumper it writes to (its own, or one shared with it)
        self._closed = False

    @property
    def _j(self) -> Any:
        """Pcap4J's handle (None for a file Java reads alone)."""
        return self._native.jhandle

    @property
    def _dumper(self) -> Any:
        """The dumper this handle opened (and closes); a sink that takes it over sets None."""
        return self._native.dumper

    @_dumper.setter
    def _dumper(self, dumper: Any) -> None:
        self._native.dumper = dumper

    @property
    def sources(self) -> list[Source]:
        """Every source this handle's packets come from (one, but a pcapng file has one per interface)."""
        return [self.source]

    # --- reading -------------------------------------------------------------------------
    def _require_open(self) -> None:
        """Every call that reaches libpcap checks this first: a closed handle's pointers are freed."""
        if self._closed:
            raise HandleClosed(f"{self.name}: handle is closed")

    def fileno(self) -> int:
        """A descriptor that polls readable when packets are waiting (live handles)."""
        self._require_open()
        return int(self._native.reader.selectableFd())

    def read_batch(self, batch: Batch, max_packets: Optional[int] = None) -> int:
        """Fill ``batch`` with what is ready now (live) or the next packets (file).

        Reading a whole file (no ``max_packets``), the next batch is read on a
        second thread while the caller works through this one.
        """
        self._require_readable()
        if not self.live and max_packets is None:
            if self._native.read_ahead is None:
                self._native.read_ahead = ReadAhead(self._native.copier, self.name)
            return self._raise_on_error(self._native.read_ahead.take(batch))
        return self._raise_on_error(batch.fill(self._native.copier, max_packets))

    def _raise_on_error(self, n: int, source: Any = None) -> int:
        """Pass a read's count through, or raise if the read (of ``source``, by default the
        copier) stopped on an error."""
        source = self._native.copier if source is None else source
        if n == 0 and source.error() is not None:
            self._require_open()  # closed by another thread while reading: say so
            raise self._read_error(str(source.error()))
        return n

    def use_file_reader(self, path: str) -> None:
        """Copy packets of this classic pcap file with Java's own reader instead of libpcap's
        (several times faster per packet); a filter or a dump switches back to libpcap."""
        self._require_open()
        self._native.copier = jvm.jclass("pcap4py.helper.PcapFileReader")(path, self.linktype, self.source.index)

    def _use_libpcap(self) -> None:
        if self._native.copier is not self._native.reader:
            if self._native.copier.total():
                raise CaptureError(f"{self.name}: set filters and dump files before reading")
            self._native.copier.close()
            self._native.copier = self._native.reader

    def read_uncopied(self, max_packets: int) -> int:
        """Read (and dump) up to ``max_packets`` without copying them to Python; returns the count."""
        self._require_readable()
        self._native.reader.setCopy(False)
        try:
            n = int(self._native.reader.fill(None, None, max_packets))
        finally:
            self._native.reader.setCopy(True)
        return self._raise_on_error(n, self._native.reader)

    def _require_readable(self) -> None:
        """Open, and not dumping to a file another handle has closed (pcap_dump would write to freed memory)."""
        self._require_open()
        if self._dump_target is not None and not self._dump_target.isOpen():
            raise HandleClosed(f"{self.name}: the dump file it writes to is closed")

    def _read_error(self, message: str) -> Pcap4pyError:
        if self.live:
            return CaptureError(f"reading from {self.name} failed: {message}")
        return CaptureFileError(f"{self.name}: {message}")

    @property
    def eof(self) -> bool:
        """True once a capture file has been read to its end."""
        self._require_open()
        return bool(self._native.copier.isEof())

    @property
    def captured(self) -> int:
        """Packets read from this handle so far."""
        self._require_open()
        if self._native.copier is self._native.reader:
            return int(self._native.reader.total())
        return int(self._native.reader.total()) + int(self._native.copier.total())

    def __iter__(self) -> Iterator[Packet]:
        self._require_open()
        return iter(Capture([self]))

    def packets(self, count: Optional[int] = None, duration: Optional[float] = None) -> Iterator[Packet]:
        """Iterate packets, stopping after ``count`` packets or ``duration`` seconds."""
        self._require_open()
        return iter(Capture([self], count=count, duration=duration))

    def raw(self, count: Optional[int] = None) -> Iterator[tuple[int, int, bytes]]:
        """Iterate ``(ts_ns, original_length, frame_bytes)`` tuples: the fastest way in."""
        self._require_open()
        return Capture([self], count=count).raw()

    def views(self, count: Optional[int] = None) -> Iterator["BatchView"]:
        """Zero-copy views of each batch (see :class:`~pcap4py.engine.batch.BatchView`): no object
        per packet.  A view is valid only until the next one is asked for."""
        return Capture([self], count=count).views()

    # --- settings -------------------------------------------------------------------------
    def set_filter(self, expression: str) -> None:
        """Apply a BPF filter; a bad one raises :class:`FilterError` naming where it goes wrong."""
        self._require_open()
        mode = jvm.jclass("org.pcap4j.core.BpfProgram$BpfCompileMode").OPTIMIZE
        self._use_libpcap()
        with jvm.java_errors(lambda message: bpf.filter_error(expression, message, self.linktype)):
            self._native.jhandle.setFilter(expression, mode)
        self.filter = expression

    def require_known_link_type(self) -> None:
        """Raise :class:`CaptureFileError` if libpcap knows nothing of this file's link type.

        tcpdump refuses such a file (it compiles a filter, if only an empty one, and libpcap
        has no code for an unknown type); a corrupt header is the usual cause.  Checked when a
        file is opened, so that a filter is never blamed for it.
        """
        if not bpf.knows_link_type(self.linktype):
            raise self._read_error(f"unknown link type {self.linktype} (is the file header corrupt?)")

    def set_direction(self, direction: str) -> None:
        """Capture only packets received ('in'), sent ('out') or both ('inout')."""
        if direction not in KERNEL_DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(KERNEL_DIRECTIONS)}, not {direction!r}")
        self._require_open()
        value = getattr(jvm.jclass("org.pcap4j.core.PcapHandle$PcapDirection"), KERNEL_DIRECTIONS[direction])
        with jvm.java_errors(lambda message: CaptureError(
                f"cannot set direction {direction!r} on {self.name}: {message}")):
            self._native.jhandle.setDirection(value)

    def dump(self, path: str, dumper: Any = None, *, owned: bool = True) -> Any:
        """Write every packet read from now on to the pcap file ``path`` ('-' is stdout).

        Returns the Pcap4J dumper; pass it as ``dumper`` to other handles to share one file.
        ``owned=False``: a dumper this call opens is the caller's to close, not this handle's
        (a file that outlives the handles of a growing capture).
        """
        self._require_open()
        self._use_libpcap()
        if dumper is None:
            with jvm.java_errors(lambda message: CaptureFileError(  # libpcap's message names the file too
                    f"cannot write {path}: {message.removeprefix(f'{path}: ')}")):
                dumper = self._native.jhandle.dumpOpen(path)
            self._native.dumper = dumper if owned else None
        self._dump_path = path
        self._native.reader.setDumper(dumper)
        self._dump_target = dumper
        return dumper

    def end_dump(self) -> None:
        """Stop dumping: flush and close the dumper this handle opened (a handle sharing it stops too,
        by calling this as well); packets read from now on are not written."""
        self._require_open()
        self._native.reader.setDumper(None)
        self._native.reader.setDumpBudget(None)
        self._dump_target = None
        if self._native.dumper is not None:
            self._native.dumper.close()  # pcap_dump_close flushes
            self._native.dumper = None

    def set_dump_budget(self, budget: Any) -> None:
        """Share ``budget`` (a Java ``long[1]``: bytes the dump file may still grow by, None: no
        limit) with the reader: it stops before a packet once the budget is negative (-C)."""
        self._require_open()
        self._native.reader.setDumpBudget(budget)

    def flush(self) -> int:
        """Push what the dumper buffered to the file; returns the file's length once written
        (-1 for a pipe), before which every packet read so far lies whole.

        Raises :class:`CaptureWriteError` once a write to the file has failed (disk
        full, the reader of a pipe gone), here or while reading.
        """
        self._require_readable()
        offset = int(self._native.reader.flushDumper())
        failed = int(self._native.reader.writeError())
        if failed:
            raise CaptureWriteError(self._dump_path, failed)
        return offset

    # --- stats and closing ---------------------------------------------------------------------
    def stats(self) -> Stats:
        """Packets read, and for live handles the kernel's received/dropped counters."""
        captured = self.captured  # raises once closed: the kernel counters are gone with the handle
        if not self.live:
            return Stats(captured)
        jpype = jvm.start()
        try:
            st = self._native.jhandle.getStats()
        except jpype.JException:
            return Stats(captured)
        return Stats(captured, int(st.getNumPacketsReceived()), int(st.getNumPacketsDropped()),
                      int(st.getNumPacketsDroppedByIf()))

    def close(self) -> None:
        """Flush and close the dump file (if any) and the handle. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._release()

    def claim(self, iteration: object) -> None:
        """Mark ``iteration`` (a token of one reading loop) as the one reading this handle until
        :meth:`unclaim`; raises :class:`~pcap4py.errors.HandleBusy` while another one reads it."""
        self._native.claim(iteration, self.name)

    def unclaim(self, iteration: object) -> None:
        """End ``iteration``'s claim."""
        self._native.unclaim(iteration)

    def __enter__(self) -> "Handle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        kind = "live" if self.live else "file"
        return f"<Handle {kind} {self.name!r} linktype={self.linktype}>"


def open_live(
    iface: str,
    *,
    filter: Optional[str] = None,
    snaplen: int = MAX_SNAPLEN,
    promisc: bool = True,
    timeout_ms: int = 100,
    buffer_size: Optional[int] = DEFAULT_BUFFER_SIZE,
    immediate: bool = False,
    direction: Optional[str] = None,
    nanosecond: bool = False,
    netns: Optional[NetnsRef] = None,
    index: int = 0,
) -> Handle:
    """Open interface ``iface`` for live capture.

    ``buffer_size`` is the kernel buffer in bytes (32 MiB by default); ``immediate`` delivers each
    packet as it arrives; ``direction`` is 'in', 'out' or 'inout'; ``netns``
    (a PID, a name under /run/netns, or a path) opens the handle inside that
    network namespace.  ``index`` tags packets when several handles are merged.  Numbers out of
    range (``snaplen`` 1..262144, ``timeout_ms`` 0..2^31-1, ``buffer_size`` 1..2^31-1) raise
    :class:`~pcap4py.errors.OutOfRange`.
    """
    check_range("snaplen", snaplen, 1, MAX_SNAPLEN)
    check_range("timeout_ms", timeout_ms, 0, INT_MAX)
    if buffer_size is not None:
        check_range("buffer_size", buffer_size, 1, INT_MAX)
    jvm.load_native_soon()  # at home, before any namespace is entered; awaited before build()
    opener = lambda: _open_live_here(iface, snaplen, promisc, timeout_ms, buffer_size,  # noqa: E731
                                     immediate, nanosecond, index)
    handle = run_in_netns(netns, opener) if netns is not None else opener()
    with ExitStack() as undo:
        undo.callback(handle.close)
        if direction is not None:
            handle.set_direction(direction)
        if filter:
            handle.set_filter(filter)
        handle._j.setBlockingMode(jvm.jclass("org.pcap4j.core.PcapHandle$BlockingMode").NONBLOCKING)
        undo.pop_all()
    return handle


def _open_live_here(iface: str, snaplen: int, promisc: bool, timeout_ms: int,
                    buffer_size: Optional[int], immediate: bool, nanosecond: bool, index: int) -> Handle:
    """Open ``iface`` in the calling thread's network namespace."""
    require_interface(iface)
    # the builder's classes need no libpcap: made while open_live's Java thread loads it
    ph = jvm.jclass("org.pcap4j.core.PcapHandle", native=False)
    precision = jvm.jclass("org.pcap4j.core.PcapHandle$TimestampPrecision", native=False)
    promiscuity = jvm.jclass("org.pcap4j.core.PcapNetworkInterface$PromiscuousMode", native=False)
    builder = (ph.Builder(iface).snaplen(snaplen).timeoutMillis(timeout_ms)
               .promiscuousMode(promiscuity.PROMISCUOUS if promisc else promiscuity.NONPROMISCUOUS)
               .timestampPrecision(precision.NANO if nanosecond else precision.MICRO))
    if buffer_size:
        builder = builder.bufferSize(buffer_size)
    if immediate:
        builder = builder.immediateMode(True)
    jvm.start_native()  # libpcap's first call is build()'s
    with jvm.java_errors(lambda message: _open_error(iface, message)):
        jhandle = builder.build()
    handle = Handle(jhandle, iface, live=True, index=index)
    handle._native.reader.setDrainMillis(drain_wait_ms(timeout_ms))
    return handle


def ring_for(count: Optional[int], snaplen: int, immediate: bool = False) -> int:
    """The kernel ring for a capture of ``count`` packets (None: no end) of at most ``snaplen``
    bytes each: room for all of them, between :data:`SMALL_RING` and :data:`DEFAULT_BUFFER_SIZE`.
    Immediate mode's ring has a slot of ``snaplen`` per frame, in blocks of a power of two (so up
    to twice that) whatever the frame's size."""
    if count is None or count <= 0:
        return DEFAULT_BUFFER_SIZE
    per_frame = 2 * snaplen if immediate else min(snaplen, FRAME_ROOM)
    return max(SMALL_RING, min(DEFAULT_BUFFER_SIZE, count * per_frame))


def drain_wait_ms(timeout_ms: int) -> int:
    """How long a live handle waits after a read error before reading its last frames: long
    enough for the kernel to retire the ring's partly filled block (see BatchReader.setDrainMillis)."""
    return min(max(timeout_ms, KERNEL_BLOCK_TIMEOUT_MS), DRAIN_CAP_MS) + DRAIN_MARGIN_MS


def require_interface(iface: str) -> None:
    """Raise :class:`InterfaceNotFound`, naming the interfaces there are, unless this thread's
    network namespace has ``iface`` (or it is libpcap's ``any``)."""
    if iface == ANY_DEVICE:
        return
    try:
        socket.if_nametoindex(iface)
    except OSError:
        names = ", ".join(name for _, name in socket.if_nameindex())
        raise InterfaceNotFound(f"no such interface: {iface!r} (this namespace has: {names})") from None


def _open_error(iface: str, message: str) -> Pcap4pyError:
    lowered = message.lower()
    if "permission" in lowered or "not permitted" in lowered:
        return PermissionDenied(
            f"no permission to capture on {iface}: CAP_NET_RAW is missing "
            f"(run as root, or grant it: setcap cap_net_raw+ep $(readlink -f $(which python3)))")
    if "no such device" in lowered:
        return InterfaceNotFound(f"no such interface: {iface!r}")
    return CaptureError(f"cannot capture on {iface}: {message}")
