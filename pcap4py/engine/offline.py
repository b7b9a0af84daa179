"""Opening capture files: classic pcap (Java's reader, libpcap once a filter or a dump asks, see
:mod:`.pcapfile`; libpcap alone for unusual headers), pcapng (Java's reader: any link types, any
sections), and streams ('-', pipes) through libpcap."""

from __future__ import annotations

import os
import stat
from contextlib import ExitStack
from typing import Optional

from ..errors import CaptureFileError
from .handle import Handle
from .pcapfile import PcapFileHandle, java_reads, libpcap_handle, read_header
from .pcapng import open_pcapng

STDIN = "-"  # libpcap's name for standard input, as tcpdump -r - uses it
# first four bytes of a capture file -> whether its timestamps are nanoseconds
_MAGICS = {
    b"\xa1\xb2\xc3\xd4": False, b"\xd4\xc3\xb2\xa1": False,
    b"\xa1\xb2\x3c\x4d": True, b"\x4d\x3c\xb2\xa1": True,
    b"\xa1\xb2\xcd\x34": False, b"\x34\xcd\xb2\xa1": False,  # Kuznetsov's modified pcap
    b"\x0a\x0d\x0d\x0a": True,  # pcapng: read by Java's PcapngFileReader, in nanoseconds
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
# what Java's PcapFileReader reads (standard records only; the rest goes through libpcap)
_STANDARD_PCAP_MAGICS = {b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1"}


def open_offline(path: str, *, filter: Optional[str] = None, index: int = 0) -> Handle:
    """Open a pcap or pcapng file for reading (nanosecond timestamps are kept).

    ``path`` may be '-' (standard input) or a pipe (``/dev/stdin``, ``<(...)``): a stream is
    read by libpcap alone, with nanosecond time stamps (so a pcap written from it with
    :meth:`Handle.dump` is a nanosecond pcap).
    """
    path = os.fspath(path)
    magic = None if _is_stream(path) else _capture_file_magic(path)
    if magic == PCAPNG_MAGIC:  # read in Java: libpcap refuses mixed link types and later sections
        return open_pcapng(path, filter=filter, index=index)
    nano = True if magic is None else _MAGICS[magic]
    header = read_header(path) if magic in _STANDARD_PCAP_MAGICS else None
    if java_reads(header):  # an ordinary classic pcap: Java reads it, libpcap only if asked
        handle: Handle = PcapFileHandle(path, header, index)
    else:
        handle = Handle(libpcap_handle(path, nano), path, live=False, index=index)
    with ExitStack() as undo:
        undo.callback(handle.close)
        handle.require_known_link_type()
        if filter:
            handle.set_filter(filter)
        elif magic in _STANDARD_PCAP_MAGICS and not isinstance(handle, PcapFileHandle):
            handle.use_file_reader(path)
        undo.pop_all()
    return handle


def _is_stream(path: str) -> bool:
    """Standard input, or a pipe, socket or device: what cannot be read twice (sniffing its magic
    would consume the bytes libpcap needs)."""
    if path == STDIN:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False  # _capture_file_magic says what is wrong
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


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
