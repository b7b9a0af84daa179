"""Reading pcapng files in Java, every section and interface whatever their link types.

libpcap reads a pcapng file only when all its interfaces share one link type and snapshot length
and its sections one byte order ("an interface has a type 101 different from the type of the first
interface").  The Java ``PcapngFileReader`` reads any of them into the batch buffers, stopping at
a fault where libpcap's reader stops; each interface becomes a
:class:`~pcap4py.engine.packet.Source` named by its block's ``if_name``.  A filter is compiled
once per link type and applied to each interface of that type.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any, Optional

from . import bpf, jvm
from ..errors import CaptureFileError
from .handle import Handle
from .limits import MAX_SNAPLEN
from .numbers import LINKTYPE_TO_DLT
from .packet import Source


_LINKTYPE_TO_DLT = LINKTYPE_TO_DLT  # the one map (engine/numbers.py; Java's LinkTypes)
_DLT_TO_LINKTYPE = {dlt: linktype for linktype, dlt in _LINKTYPE_TO_DLT.items()}


def dlt_of(linktype: int) -> int:
    """The DLT_ value of a file's LINKTYPE_ value."""
    return _LINKTYPE_TO_DLT.get(linktype, linktype)


def linktype_of(dlt: int) -> int:
    """The LINKTYPE_ value to write for a handle's DLT_ value."""
    return _DLT_TO_LINKTYPE.get(dlt, dlt)


class PcapngFileHandle(Handle):
    """A pcapng file open for reading; :attr:`sources` holds one source per interface."""

    def __init__(self, reader: Any, path: str, index: int):
        self._sources = _sources(reader, path, index)
        self._start(None, reader, self._sources[0], live=False)  # no libpcap handle: Java reads the file
        self.name = path

    @property
    def sources(self) -> list[Source]:
        return list(self._sources)

    def set_filter(self, expression: str) -> None:
        """Keep only packets ``expression`` accepts, compiled once per link type in the file."""
        self._require_open()
        for dlt in sorted({s.linktype for s in self._sources}):
            snaplen = max(s.snaplen for s in self._sources if s.linktype == dlt)
            program = bpf.program(expression, dlt, snaplen)
            self._native.programs.append(program)
            self._native.reader.setFilter(linktype_of(dlt), program)
        self.filter = expression

    def require_known_link_type(self) -> None:
        """Raise :class:`CaptureFileError` if libpcap knows nothing of an interface's link type:
        refused as tcpdump and the classic pcap path refuse it (a corrupt block is the usual cause)."""
        for source in self._sources:
            if not bpf.knows_link_type(source.linktype):
                raise CaptureFileError(f"{self.name}: unknown link type {source.linktype} of interface "
                                       f"{source.name} (is the file corrupt?)")

    def set_direction(self, direction: str) -> None:
        self._require_open()
        raise CaptureFileError(f"{self.name}: a file has no direction to select")

    def dump(self, path: str, dumper: Any = None, *, owned: bool = True) -> Any:
        self._require_open()
        raise CaptureFileError(f"cannot write {path} as pcap from the pcapng file {self.name}: "
                               f"write a .pcapng file instead")

    def read_uncopied(self, max_packets: int) -> int:
        self._require_open()
        raise CaptureFileError(f"{self.name}: a pcapng file is read into batches")

    def flush(self) -> int:
        """Nothing to flush: a pcapng file is read, never dumped to."""
        self._require_open()
        return -1

    def __repr__(self) -> str:
        return f"<PcapngFileHandle {self.name!r} interfaces={len(self._sources)}>"


def _sources(reader: Any, path: str, index: int) -> list[Source]:
    count = int(reader.interfaceCount())
    result = []
    for i in range(count):
        name = reader.name(i)
        description = reader.description(i)
        fallback = path if count == 1 else f"{path}#{i}"
        result.append(Source(str(name) if name is not None else fallback, dlt_of(int(reader.linkType(i))), index + i,
                             snaplen=int(reader.snaplen(i)) or MAX_SNAPLEN,
                             description=str(description) if description is not None else None))
    return result


def open_pcapng(path: str, *, filter: Optional[str] = None, index: int = 0) -> PcapngFileHandle:
    """Open the pcapng file ``path``; packets of its n-th interface get source index ``index + n``."""
    with jvm.java_errors(lambda message: CaptureFileError(f"cannot read {path}: {message}")):
        reader = jvm.jclass("pcap4py.helper.PcapngFileReader")(path, index)
    handle = PcapngFileHandle(reader, path, index)
    with ExitStack() as undo:
        undo.callback(handle.close)
        handle.require_known_link_type()
        if filter:
            handle.set_filter(filter)
        undo.pop_all()
    return handle
