"""Writing pcapng: interface names, directions and statistics that a pcap file cannot hold.

The blocks are written by the Java ``PcapngWriter`` straight from the batch buffers of each read
round (one JPype call per round, packets merged by timestamp in Java).  This module describes the
section and the interfaces to it, and writes the statistics when the capture ends.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any, Callable, Optional, Sequence

from ..engine import jvm
from ..engine.batch import Batch
from ..engine.listener import Listener
from ..engine.pcapng import linktype_of
from ..errors import CaptureFileError
from .rotate import RotatingSink, Rotation

PCAPNG_SUFFIXES = (".pcapng", ".ntar")
# Several live handles: how long a packet waits for older ones from other handles.  A live handle
# delivers a packet up to its timeout (100 ms by default) after it arrived; this is several times that.
HOLDBACK_NS = 500_000_000


def wants_pcapng(path: str, forced: bool = False) -> bool:
    """Whether output to ``path`` is pcapng: by its extension, or because it was asked for."""
    return forced or path.lower().endswith(PCAPNG_SUFFIXES)


class PcapngSink:
    """A pcapng file (or stdout for '-') for the packets of ``capture``.

    One interface description block per source of the capture (named by its label, described
    by its description, with the handle's filter); ``nano`` writes nanosecond time stamps,
    ``comments`` gives every packet its interface's label as a comment.  Directions come from
    ``capture.local`` (a :class:`~pcap4py.engine.pov.PointOfView`) when it has one, else from a
    Linux cooked header's packet type.
    """

    def __init__(self, path: str, capture: Any, *, nano: bool = False, comments: bool = False):
        from .. import __version__

        self.path = path
        self._jpype = jvm.start()
        self.warnings: list[str] = []
        self._j = self._call(lambda: jvm.jclass("pcap4py.helper.PcapngWriter")(path))
        uname = os.uname()
        self._call(lambda: self._j.sectionHeader(platform.machine(), f"{uname.sysname} {uname.release}",
                                                 f"pcap4py {__version__}"))
        self._nano, self._comments, self._local = nano, comments, capture.local
        for handle in capture.handles:
            self._describe(handle)
        self._j.setComments(comments)
        if capture.growing or (len(capture.handles) > 1 and any(h.live for h in capture.handles)):
            # a capture of streams from elsewhere says how late its packets may arrive (their
            # agents hold theirs back too, and the transport adds its own delay)
            self._j.setHoldback(getattr(capture, "holdback_ns", HOLDBACK_NS))
        capture.listen(Listener(added=self.add_interfaces))

    def add_interfaces(self, handles: Sequence[Any]) -> None:
        """Interface blocks for handles that joined a running capture, written before any of their
        packets (pcapng allows an interface block anywhere in its section)."""
        for handle in handles:
            self._describe(handle)

    def _describe(self, handle: Any) -> None:
        """One interface description block per source of ``handle``, for the packets of its index."""
        for source in handle.sources:
            label = source.display_name
            # a source index that served a source gone since gets a new interface block and number
            self._call(lambda: self._j.addInterface(
                source.index, linktype_of(source.linktype), source.snaplen, self._nano, label,
                source.description, handle.filter, label if self._comments else None))
            view = self._local if self._local is not None else source.view
            if view is not None:
                self._j.setPointOfView(source.index, view.java())

    def consume(self, capture: Any, progress: Optional[Callable[[int], None]] = None) -> None:
        """Write each read round of ``capture`` as it comes, onto the file at the end of the round
        (and, on an idle link, the held-back packets once they are due)."""
        ticks = capture.listen(Listener(tick=self.tick))
        try:
            for batches in capture.rounds():
                self.write_round(batches)
                if progress is not None:
                    progress(capture.seen)
        finally:
            capture.unlisten(ticks)

    def end(self, capture: Any) -> None:
        """Statistics blocks, then everything to the file (a broken pipe has stopped the capture)."""
        try:
            self.write_statistics(capture)
            self.flush()
        except BrokenPipeError:
            pass

    def raise_for_errors(self) -> None:
        """Nothing is deferred: a failed write raised at once."""

    def write_round(self, batches: Sequence[Batch]) -> None:
        """Write the packets of one read round's batches, in timestamp order, and push them to the
        file (packets held back to merge several live interfaces by time wait until they are due)."""
        metas, datas, counts = Batch.java_arrays(batches)
        self._call(lambda: self._j.writeRound(metas, datas, counts))

    def write_statistics(self, capture: Any) -> None:
        """An interface statistics block for each live handle: received, dropped, delivered."""
        now = time.time_ns()
        for handle in capture.handles:
            if not handle.live:
                continue
            stats = handle.stats()
            self._call(lambda: self._j.statistics(handle.source.index, now, _or_unknown(stats.received),
                                                  _or_unknown(stats.dropped), stats.captured))

    @property
    def written(self) -> int:
        """Packets written so far."""
        return int(self._j.written())

    def set_size_limit(self, size: int) -> None:
        """-C: the file is full once it holds more than ``size`` bytes, checked before each packet;
        the packets left wait (:attr:`pending`) for :meth:`reopen`."""
        self._j.setSizeLimit(size)

    @property
    def full(self) -> bool:
        """Whether the file has grown past its size limit."""
        return bool(self._j.full())

    @property
    def pending(self) -> bool:
        """Whether packets wait: cut off by a full file, or held back."""
        return bool(self._j.pending())

    def release_all(self) -> None:
        """Write every packet waiting, as far as the file's size limit lets them."""
        self._call(self._j.releaseAll)

    def reopen(self, path: str) -> None:
        """Go on in the file ``path``, which starts with the same section and interface blocks
        (rotation); if it cannot be opened, the current file stays open."""
        self._call(lambda: self._j.reopen(path), path)
        self.path = path

    def tick(self) -> None:
        """Write the held-back packets that are due (an idle link has no round to do it)."""
        self._call(self._j.tick)

    def flush(self) -> None:
        """Write everything, held-back packets included (the end of the capture)."""
        self._call(self._j.flush)

    def close(self) -> None:
        """Flush and close the file (stdout stays open)."""
        self._call(self._j.close)

    def _call(self, fn: Callable[[], Any], path: Optional[str] = None) -> Any:
        """Run a Java write, turning its IOException into BrokenPipeError or CaptureFileError
        (naming ``path``, by default the current file)."""
        try:
            return fn()
        except self._jpype.JException as e:
            message = str(e.getMessage() or e.getClass().getSimpleName())  # some carry no message
            if "Broken pipe" in message:
                raise BrokenPipeError(message) from e
            raise CaptureFileError(f"cannot write {path or self.path}: {message}") from e


class PcapngRotation(RotatingSink):
    """pcapng files one after another (-C, -G): one :class:`PcapngSink` whose writer reopens on the
    next file, repeating the section and interface blocks; each file ends with its statistics."""

    def __init__(self, capture: Any, template: str, rotation: Rotation, *, nano: bool = False,
                 comments: bool = False):
        super().__init__(capture, template, rotation)
        self._sink = PcapngSink(self.path, capture, nano=nano, comments=comments)
        if rotation.size is not None:
            self._sink.set_size_limit(rotation.size)

    def _write(self, capture: Any, after_round: Callable[[], None]) -> None:
        for batches in capture.rounds():
            self._sink.write_round(batches)
            after_round()

    def _idle(self) -> None:
        self._sink.tick()

    def _file_full(self) -> bool:
        return self._sink.full and self._sink.pending

    def _switch(self, path: str) -> None:
        self._sink.write_statistics(self._capture)
        self._first_packet = self._sink.written
        self._sink.reopen(path)

    def _drain(self) -> None:
        self._sink.release_all()

    def _close_current(self) -> None:
        self._sink.close()

    def _written(self) -> int:
        return self._sink.written


def _or_unknown(value: Optional[int]) -> int:
    return -1 if value is None else value
