"""pcap output: written by libpcap's own dumper from the native buffers, checked after every read round.

No Python object is made per packet: ``pcap_dump`` writes each packet as the Java reader reads it
(:meth:`pcap4py.engine.handle.Handle.dump`), and the capture is drained without copying.

libpcap's dumper writes through stdio and says nothing when a write fails
(disk full, ``-w -`` into a pipe whose reader has gone).  Flushing after each
round and asking whether the stream failed stops the capture at the first
failed write; the file is then cut back to the end of the last flush that
succeeded, plus the whole records that the failed write still got onto the disk,
so it stays valid up to its last whole record.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from typing import TYPE_CHECKING, Callable, Optional

from ..engine import jvm
from ..engine.listener import Listener
from ..errors import CaptureWriteError
from .rotate import RotatingSink, Rotation

if TYPE_CHECKING:
    from ..engine.capture import Capture


class PcapSink:
    """Every handle of ``capture`` dumping into ``path`` ('-' is stdout), with its write errors caught.

    ``warnings`` says what a pcap file loses (the interface and direction of several sources).
    """

    def __init__(self, capture: Capture, path: str):
        self.path = path
        self._capture = capture
        self.warnings = [] if len(capture.sources) < 2 else [
            f"a pcap file keeps neither the interface nor the direction of the packets of "
            f"{len(capture.sources)} interfaces; write a .pcapng file to keep them"]
        dumper = None
        # handles that come and go: the file must outlive the one that opened it, so the sink
        # closes it (after the capture has stopped reading) instead of that handle
        for h in capture.handles:
            dumper = h.dump(path, dumper, owned=not capture.growing)
        self._dumper = dumper
        if capture.growing:
            capture.listen(Listener(added=self._dump_added))
        # opened now, while the process may still write there (before -Z), to cut the file back later
        self._fd = _open_if_regular(path)
        self.good_offset = 0
        self.written = 0
        self.error: Optional[CaptureWriteError] = None
        self.checkpoint(0)  # the file header

    def consume(self, capture: Capture, progress: Optional[Callable[[int], None]] = None) -> None:
        """Read ``capture`` to its end (nothing is copied to Python), flushing after each round."""
        def after_round(total: int) -> None:
            self.checkpoint(total)
            if progress is not None:
                progress(total)

        capture.drain(after_round)

    def end(self, capture: Capture) -> None:
        """The last flush, once the capture has stopped."""
        self.checkpoint(capture.seen)

    def close(self) -> None:
        """Close the file if handles come and go (else the handle that opened it closes it)."""
        if self._capture.growing and self._dumper is not None:
            self._dumper.flush()
            self._dumper.close()
            self._dumper = None

    def _dump_added(self, handles: list) -> None:
        """Handles that joined the capture write to the same file (the first opens it, if none has)."""
        for h in handles:
            self._dumper = h.dump(self.path, self._dumper, owned=False)

    @property
    def _owner(self):
        """A handle to flush the shared stdio stream through (flushing one flushes all)."""
        return self._capture.handles[0] if self._capture.handles else None

    def checkpoint(self, packets: int) -> None:
        """Flush; on success the file holds ``packets`` whole records, on a failed write the capture stops."""
        if self.error is not None:
            return
        if self._owner is None:
            return  # no handle left (a growing capture waiting for more): nothing was written
        try:
            self.good_offset = self._owner.flush()
        except CaptureWriteError as e:
            self.error = e
            self._capture.stop()
            if self._fd is not None:  # what reached the disk, before closing writes any more
                self._extend_good_part(os.fstat(self._fd).st_size)
            return
        self.written = packets

    def _extend_good_part(self, size: int) -> None:
        """Count the whole records between the last good flush and ``size`` as written too."""
        offset, count = _whole_records(self._fd, self.good_offset, size)
        self.good_offset = offset
        self.written += count

    def raise_for_errors(self) -> None:
        """Once the capture is closed: cut a failed file back to its last whole record and raise
        :class:`CaptureWriteError`.  A reader that went away is no error (as for tcpdump)."""
        try:
            if self.error is None or self.error.errno == errno.EPIPE:
                return
            if self._fd is not None:
                os.ftruncate(self._fd, self.good_offset)
            raise CaptureWriteError(self.path, self.error.errno, self.written) from self.error
        finally:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class PcapRotation(RotatingSink):
    """pcap files one after another (-C, -G): a :class:`PcapSink` per file; -C's budget is shared
    with the Java readers, which stop before the packet that would take the file past it."""

    def __init__(self, capture: "Capture", template: str, rotation: Rotation):
        super().__init__(capture, template, rotation)
        self._budget = jvm.start().JArray(jvm.start().JLong)(1) if rotation.size is not None else None
        self._sink = self._open(self.path)

    def _open(self, path: str) -> PcapSink:
        sink = PcapSink(self._capture, path)
        if self._budget is not None:
            self._budget[0] = self.rotation.size - sink.good_offset  # the file header counts
            for h in self._capture.handles:
                h.set_dump_budget(self._budget)
        return sink

    def _write(self, capture: "Capture", after_round: Callable[[], None]) -> None:
        def after(total: int) -> None:
            self._sink.checkpoint(total)
            after_round()

        capture.drain(after)

    def _file_full(self) -> bool:
        return self._budget is not None and self._budget[0] < 0 and self._sink.error is None

    def _switch(self, path: str) -> None:
        self._close_current()
        self._first_packet = self._capture.seen
        self._sink = self._open(path)

    def _close_current(self) -> None:
        self._sink.checkpoint(self._capture.seen)
        if self._sink.error is None:
            for h in self._capture.handles:
                h.end_dump()
            self._sink.close()  # the file of a growing capture, which no handle owns
            self._sink.raise_for_errors()  # closes its descriptor (no error: nothing raised)

    def _written(self) -> int:
        return self._capture.seen


def _open_if_regular(path: str) -> Optional[int]:
    if path == "-":
        return None
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return None


_RECORD_HEADER = 16  # ts_sec, ts_frac, caplen, len: four 32-bit words in the file's byte order


def _whole_records(fd: int, start: int, end: int) -> tuple[int, int]:
    """The end offset and number of the whole pcap records of the file ``fd`` from ``start`` to ``end``.

    ``start`` is a record boundary (or 0: the file header then comes first).
    """
    if start == 0:
        if end < 24:
            return 0, 0
        start = 24
    magic = os.pread(fd, 4, 0)
    order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    offset, count = start, 0
    while offset + _RECORD_HEADER <= end:
        header = os.pread(fd, _RECORD_HEADER, offset)
        if len(header) < _RECORD_HEADER:
            break
        caplen = struct.unpack(order + "I", header[8:12])[0]
        if offset + _RECORD_HEADER + caplen > end:
            break
        offset += _RECORD_HEADER + caplen
        count += 1
    return offset, count
