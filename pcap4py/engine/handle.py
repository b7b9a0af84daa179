"""Open capture handles: the Python face of Pcap4J's ``PcapHandle``.

:func:`open_live` and :func:`open_offline` return a :class:`Handle`, a context
manager that iterates :class:`~pcap4py.packet.Packet` records.  Reading goes
through the Java ``BatchReader`` (one JPype call per batch, never per packet);
writing a file goes through libpcap's own ``pcap_dump``.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any, Iterator, Optional

from . import bpf, jvm
from .batch import Batch
from ..errors import (CaptureError, CaptureFileError, InterfaceNotFound, PermissionDenied,
                     Pcap4pyError)
from ..netns import NetnsRef, run_in_netns
from .packet import Packet, Source

DIRECTIONS = {"in": "IN", "out": "OUT", "inout": "INOUT"}
# The kernel ring a live handle gets unless told otherwise. tcpdump's 2 MiB suits a consumer
# that spends ~0.1 us per packet; a Python consumer spends 1-2 us, so it needs room for bursts.
DEFAULT_BUFFER_SIZE = 32 << 20
ANY_DEVICE = "any"

# first four bytes of a capture file -> whether its timestamps are nanoseconds
_MAGICS = {
    b"\xa1\xb2\xc3\xd4": False, b"\xd4\xc3\xb2\xa1": False,
    b"\xa1\xb2\x3c\x4d": True, b"\x4d\x3c\xb2\xa1": True,
    b"\x0a\x0d\x0d\x0a": True,  # pcapng: libpcap scales to what we ask for
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


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


class Handle:
    """One open libpcap handle (a live interface or a capture file)."""

    def __init__(self, jhandle: Any, name: str, *, live: bool, index: int = 0):
        self._j = jhandle
        self.name = name
        self.live = live
        self._reader = jvm.jclass("pcap4py.helper.BatchReader")(jhandle, index)
        # what copies packets into batches: libpcap (above), or for a whole classic pcap file
        # with no filter and no dump, the Java file reader (see use_file_reader)
        self._copier: Any = self._reader
        self.linktype = int(self._reader.linkType())
        self.source = Source(name, self.linktype, index)
        self.filter: Optional[str] = None
        self._dumper: Any = None
        self._prefetcher: Optional[_Prefetcher] = None
        self._closed = False

    # --- reading -------------------------------------------------------------------------
    def fileno(self) -> int:
        """A descriptor that polls readable when packets are waiting (live handles)."""
        return int(self._reader.selectableFd())

    def read_batch(self, batch: Batch, max_packets: Optional[int] = None) -> int:
        """Fill ``batch`` with what is ready now (live) or the next packets (file).

        Reading a whole file (no ``max_packets``), the next batch is read on a
        second thread while the caller works through this one.
        """
        if not self.live and max_packets is None:
            if self._prefetcher is None:
                self._prefetcher = _Prefetcher(self)
            return self._raise_on_error(self._prefetcher.take(batch))
        return self._raise_on_error(batch.fill(self._copier, max_packets))

    def _raise_on_error(self, n: int, source: Any = None) -> int:
        """Pass a read's count through, or raise if the read (of ``source``, by default the
        copier) stopped on an error."""
        source = self._copier if source is None else source
        if n == 0 and source.error() is not None:
            raise self._read_error(str(source.error()))
        return n

    def use_file_reader(self, path: str) -> None:
        """Copy packets of this classic pcap file with Java's own reader instead of libpcap's
        (several times faster per packet); a filter or a dump switches back to libpcap."""
        self._copier = jvm.jclass("pcap4py.helper.PcapFileReader")(path, self.linktype, self.source.index)

    def _use_libpcap(self) -> None:
        if self._copier is not self._reader:
            if self._copier.total():
                raise CaptureError(f"{self.name}: set filters and dump files before reading")
            self._copier.close()
            self._copier = self._reader

    def read_uncopied(self, max_packets: int) -> int:
        """Read (and dump) up to ``max_packets`` without copying them to Python; returns the count."""
        self._reader.setCopy(False)
        try:
            n = int(self._reader.fill(None, None, max_packets))
        finally:
            self._reader.setCopy(True)
        return self._raise_on_error(n, self._reader)

    def _read_error(self, message: str) -> Pcap4pyError:
        if self.live:
            return CaptureError(f"reading from {self.name} failed: {message}")
        return CaptureFileError(f"{self.name}: {message}")

    @property
    def eof(self) -> bool:
        """True once a capture file has been read to its end."""
        return bool(self._copier.isEof())

    @property
    def captured(self) -> int:
        """Packets read from this handle so far."""
        if self._copier is self._reader:
            return int(self._reader.total())
        return int(self._reader.total()) + int(self._copier.total())

    def __iter__(self) -> Iterator[Packet]:
        from .capture import Capture

        return iter(Capture([self]))

    def packets(self, count: Optional[int] = None, duration: Optional[float] = None) -> Iterator[Packet]:
        """Iterate packets, stopping after ``count`` packets or ``duration`` seconds."""
        from .capture import Capture

        return iter(Capture([self], count=count, duration=duration))

    def raw(self, count: Optional[int] = None) -> Iterator[tuple[int, int, bytes]]:
        """Iterate ``(ts_ns, original_length, frame_bytes)`` tuples: the fastest way in."""
        from .capture import Capture

        return Capture([self], count=count).raw()

    # --- settings -------------------------------------------------------------------------
    def set_filter(self, expression: str) -> None:
        """Apply a BPF filter; a bad one raises :class:`FilterError` naming where it goes wrong."""
        jpype = jvm.start()
        mode = jvm.jclass("org.pcap4j.core.BpfProgram$BpfCompileMode").OPTIMIZE
        self._use_libpcap()
        try:
            self._j.setFilter(expression, mode)
        except jpype.JException as e:
            raise bpf.filter_error(expression, str(e.getMessage()), self.linktype) from None
        self.filter = expression

    def set_direction(self, direction: str) -> None:
        """Capture only packets received ('in'), sent ('out') or both ('inout')."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
        jpype = jvm.start()
        value = getattr(jvm.jclass("org.pcap4j.core.PcapHandle$PcapDirection"), DIRECTIONS[direction])
        try:
            self._j.setDirection(value)
        except jpype.JException as e:
            raise CaptureError(f"cannot set direction {direction!r} on {self.name}: {e.getMessage()}") from None

    def dump(self, path: str, dumper: Any = None) -> Any:
        """Write every packet read from now on to the pcap file ``path`` ('-' is stdout).

        Returns the Pcap4J dumper; pass it as ``dumper`` to other handles to share one file.
        """
        jpype = jvm.start()
        self._use_libpcap()
        if dumper is None:
            try:
                dumper = self._j.dumpOpen(path)
            except jpype.JException as e:
                raise CaptureFileError(f"cannot write {path}: {e.getMessage()}") from None
            self._dumper = dumper
        self._dump_path = path
        self._reader.setDumper(dumper)
        return dumper

    def flush(self) -> int:
        """Push what the dumper buffered to the file; returns the file's length once written
        (-1 for a pipe), before which every packet read so far lies whole.

        Raises :class:`CaptureWriteError` once a write to the file has failed (disk
        full, the reader of a pipe gone), here or while reading.
        """
        from ..errors import CaptureWriteError  # (imported here: this method is the only user)

        offset = int(self._reader.flushDumper())
        failed = int(self._reader.writeError())
        if failed:
            raise CaptureWriteError(self._dump_path, failed)
        return offset

    # --- stats and closing ---------------------------------------------------------------------
    def stats(self) -> Stats:
        """Packets read, and for live handles the kernel's received/dropped counters."""
        captured = self.captured
        if not self.live or self._closed:
            return Stats(captured)
        jpype = jvm.start()
        try:
            st = self._j.getStats()
        except jpype.JException:
            return Stats(captured)
        return Stats(captured, int(st.getNumPacketsReceived()), int(st.getNumPacketsDropped()),
                      int(st.getNumPacketsDroppedByIf()))

    def close(self) -> None:
        """Flush and close the dump file (if any) and the handle. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._prefetcher is not None:
            self._prefetcher.stop()
        if self._copier is not self._reader:
            self._copier.close()
        if self._dumper is not None:
            self._reader.flushDumper()
            self._dumper.close()
        self._j.close()

    def __enter__(self) -> "Handle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        kind = "live" if self.live else "file"
        return f"<Handle {kind} {self.name!r} linktype={self.linktype}>"


class _Prefetcher:
    """Reads a file ahead on a Java thread (``pcap4py.helper.ReadAhead``) into a ring of batches,
    so reading and the caller's per-packet work run on two cores.

    The caller's batch is lent a filled slot by swapping buffers with it, and swapped back (and
    the slot handed back to Java) at the next :meth:`take`.
    """

    SLOTS = 2  # Java fills faster than Python consumes: one slot lent, one being filled

    def __init__(self, handle: Handle):
        self._slots = [Batch() for _ in range(self.SLOTS)]
        metas = jvm.jclass("java.nio.ByteBuffer")[:]([b._jmeta for b in self._slots])
        datas = jvm.jclass("java.nio.ByteBuffer")[:]([b._jdata for b in self._slots])
        self._ahead = jvm.jclass("pcap4py.helper.ReadAhead")(
            handle._copier, metas, datas, self._slots[0].capacity, f"pcap4py-read-{handle.name}")
        self._lent: Optional[int] = None
        self._finished = False

    def take(self, batch: Batch) -> int:
        """Give back the slot ``batch`` holds, then swap the next filled one into it."""
        self._give_back(batch)
        if self._finished:
            batch.count = 0
            return 0
        slot = int(self._ahead.next())
        batch.swap(self._slots[slot])
        batch.count = int(self._ahead.count(slot))
        self._lent = slot
        if batch.count == 0:
            self._finished = True  # Java's thread has stopped; nothing more will be filled
        return batch.count

    def _give_back(self, batch: Batch) -> None:
        if self._lent is not None:
            batch.swap(self._slots[self._lent])
            if not self._finished:
                self._ahead.release(self._lent)
            self._lent = None

    def stop(self) -> None:
        """Stop the Java thread (waiting for it) before the slots' buffers can be freed."""
        self._ahead.close()


def open_live(
    iface: str,
    *,
    filter: Optional[str] = None,
    snaplen: int = 262144,
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
    network namespace.  ``index`` tags packets when several handles are merged.
    """
    jvm.start()
    opener = lambda: _open_live_here(iface, snaplen, promisc, timeout_ms, buffer_size,  # noqa: E731
                                     immediate, nanosecond, index)
    handle = run_in_netns(netns, opener) if netns is not None else opener()
    try:
        if direction is not None:
            handle.set_direction(direction)
        if filter:
            handle.set_filter(filter)
        handle._j.setBlockingMode(jvm.jclass("org.pcap4j.core.PcapHandle$BlockingMode").NONBLOCKING)
    except BaseException:
        handle.close()
        raise
    return handle


def _open_live_here(iface: str, snaplen: int, promisc: bool, timeout_ms: int,
                    buffer_size: Optional[int], immediate: bool, nanosecond: bool, index: int) -> Handle:
    """Open ``iface`` in the calling thread's network namespace."""
    _require_interface(iface)
    jpype = jvm.start()
    ph = jvm.jclass("org.pcap4j.core.PcapHandle")
    precision = jvm.jclass("org.pcap4j.core.PcapHandle$TimestampPrecision")
    promiscuity = jvm.jclass("org.pcap4j.core.PcapNetworkInterface$PromiscuousMode")
    builder = (ph.Builder(iface).snaplen(snaplen).timeoutMillis(timeout_ms)
               .promiscuousMode(promiscuity.PROMISCUOUS if promisc else promiscuity.NONPROMISCUOUS)
               .timestampPrecision(precision.NANO if nanosecond else precision.MICRO))
    if buffer_size:
        builder = builder.bufferSize(buffer_size)
    if immediate:
        builder = builder.immediateMode(True)
    try:
        jhandle = builder.build()
    except jpype.JException as e:
        raise _open_error(iface, str(e.getMessage())) from None
    return Handle(jhandle, iface, live=True, index=index)


def _require_interface(iface: str) -> None:
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


def open_offline(path: str, *, filter: Optional[str] = None, index: int = 0) -> Handle:
    """Open a pcap or pcapng file for reading (nanosecond timestamps are kept)."""
    magic = _capture_file_magic(path)
    nano = _MAGICS[magic]
    jpype = jvm.start()
    pcaps = jvm.jclass("org.pcap4j.core.Pcaps")
    precision = jvm.jclass("org.pcap4j.core.PcapHandle$TimestampPrecision")
    try:
        jhandle = pcaps.openOffline(os.fspath(path), precision.NANO if nano else precision.MICRO)
    except jpype.JException as e:
        raise CaptureFileError(f"cannot read {path}: {e.getMessage()}") from None
    handle = Handle(jhandle, os.fspath(path), live=False, index=index)
    if not filter and magic != PCAPNG_MAGIC:
        handle.use_file_reader(os.fspath(path))
    if filter:
        try:
            handle.set_filter(filter)
        except BaseException:
            handle.close()
            raise
    return handle


def _capture_file_magic(path: str) -> bytes:
    """Check that ``path`` is a readable capture file and return its first four bytes."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except FileNotFoundError:
        raise CaptureFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CaptureFileError(f"{path} is a directory, not a capture file") from None
    except PermissionError:
        raise CaptureFileError(f"{path}: permission denied") from None
    if magic not in _MAGICS:
        raise CaptureFileError(f"{path} is not a pcap or pcapng capture file")
    return magic
