"""Classic pcap files read by Java alone: no libpcap, no JNA, until a filter, a direction or a
dump asks for them.

Reading a whole file with no filter needs only its 24-byte header (byte order, version, snapshot
length, link type) and the Java ``PcapFileReader``, which copies its records into the batches.
Loading JNA, binding Pcap4J's ~80 libpcap functions and opening the file a second time in
libpcap cost ~50 ms and ~3 MB of a short ``read``, for nothing.  So a file whose header is an
ordinary one (version 2.4, a link type every libpcap filters) opens without them; the first
:meth:`~PcapFileHandle.set_filter`, :meth:`~PcapFileHandle.set_direction`,
:meth:`~PcapFileHandle.dump` or uncopied read opens it in libpcap too (before any packet is
read, as :class:`~pcap4py.engine.handle.Handle` requires) and from then on the handle is the
libpcap handle it always was.  Any other header goes to libpcap from the start, whose words
describe what is wrong with it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Optional

from . import jvm
from ..errors import CaptureError, CaptureFileError
from .handle import Handle
from .limits import MAX_SNAPLEN
from .numbers import LINKTYPE_TO_DLT
from .packet import Source

# magic (as read little-endian) -> (byte order of the file, nanosecond time stamps)
_MAGICS = {0xA1B2C3D4: ("<", False), 0xD4C3B2A1: (">", False), 0xA1B23C4D: ("<", True), 0x4D3CB2A1: (">", True)}
# LINKTYPE_ values (as files carry them) Java reads alone: NULL, ETHERNET, RAW, LINUX_SLL, LINUX_SLL2
JAVA_LINK_TYPES = frozenset({0, 1, 101, 113, 276})


@dataclass(frozen=True)
class PcapHeader:
    """What a classic pcap file's header says."""

    nanoseconds: bool
    major: int
    minor: int
    snaplen: int
    linktype: int  # LINKTYPE_ value, FCS bits included


def read_header(path: str) -> Optional[PcapHeader]:
    """The header of the classic pcap file ``path``, or None when it has none (short, another
    magic): the caller leaves such a file to libpcap."""
    try:
        with open(path, "rb") as f:
            raw = f.read(24)
    except OSError:
        return None
    if len(raw) < 24:
        return None
    kind = _MAGICS.get(struct.unpack_from("<I", raw)[0])
    if kind is None:
        return None
    order, nano = kind
    major, minor, _zone, _sigfigs, snaplen, linktype = struct.unpack_from(order + "HHiIII", raw, 4)
    return PcapHeader(nano, major, minor, snaplen, linktype)


def java_reads(header: Optional[PcapHeader]) -> bool:
    """Whether Java alone reads a file with this header (an ordinary one, see the module's docstring)."""
    return header is not None and (header.major, header.minor) == (2, 4) and header.linktype in JAVA_LINK_TYPES


def libpcap_handle(path: str, nanoseconds: bool) -> Any:
    """Pcap4J's handle on the file ``path`` (libpcap's ``pcap_open_offline``), time stamps in
    nanoseconds or microseconds."""
    pcaps = jvm.jclass("org.pcap4j.core.Pcaps")
    precision = jvm.jclass("org.pcap4j.core.PcapHandle$TimestampPrecision")
    with jvm.java_errors(lambda message: CaptureFileError(f"cannot read {path}: {message}")):
        return pcaps.openOffline(path, precision.NANO if nanoseconds else precision.MICRO)


class PcapFileHandle(Handle):
    """A classic pcap file open for reading, read by Java until libpcap is asked for."""

    def __init__(self, path: str, header: PcapHeader, index: int):
        dlt = LINKTYPE_TO_DLT.get(header.linktype, header.linktype)
        # libpcap's pcap_adjust_snapshot: 0 or more than the maximum reads as the maximum
        snaplen = header.snaplen if 0 < header.snaplen <= MAX_SNAPLEN else MAX_SNAPLEN
        with jvm.java_errors(lambda message: CaptureFileError(f"cannot read {path}: {message}")):
            reader = jvm.jclass("pcap4py.helper.PcapFileReader")(path, dlt, index)
        self._path = path
        self._nanoseconds = header.nanoseconds
        self._start(None, reader, Source(path, dlt, index, snaplen=snaplen), live=False)

    def _use_libpcap(self) -> None:
        """Open the file in libpcap too, and read through it from now on (before any packet)."""
        native = self._native
        if native.jhandle is not None:
            return super()._use_libpcap()
        self._require_open()
        if native.copier.total():
            raise CaptureError(f"{self.name}: set filters and dump files before reading")
        jhandle = libpcap_handle(self._path, self._nanoseconds)
        try:
            reader = jvm.jclass("pcap4py.helper.BatchReader")(jhandle, self.source.index)
            reader.setUnsignedSeconds(True)  # a classic pcap's seconds are unsigned
        except BaseException:
            jhandle.close()
            raise
        native.copier.close()
        native.jhandle, native.reader, native.copier = jhandle, reader, reader

    def set_direction(self, direction: str) -> None:
        self._use_libpcap()
        super().set_direction(direction)

    def read_uncopied(self, max_packets: int) -> int:
        self._use_libpcap()
        return super().read_uncopied(max_packets)

    def flush(self) -> int:
        """Nothing to flush until a dump opened libpcap (0, as a handle with no dumper says)."""
        if self._native.jhandle is None:
            self._require_open()
            return 0
        return super().flush()

    def __repr__(self) -> str:
        return f"<PcapFileHandle {self.name!r} linktype={self.linktype}>"
