"""A remote capture's packets as live handles: fed by a thread, read by the capture like any other.

:class:`StreamFeed` reads a pcapng byte stream (an iterable of byte strings: an HTTP response
read piece by piece) on a thread of its own, parses it (:mod:`.stream`) and hands each
interface's packets to its :class:`StreamHandle`.  A stream handle is *live* in the engine's
sense: it has a descriptor that polls readable when packets wait (a pipe the feeding thread
writes a byte to), its reads never block, and it joins a running capture with
:meth:`~pcap4py.engine.capture.Capture.add` as a container's handles do.  When the stream ends,
each of its handles reads what is left and then reports its end once (``on_end``).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Iterable, Optional

from ..engine import jvm
from ..engine.batch import Batch
from ..engine.handle import Handle
from ..engine.packet import Source
from ..engine.pcapng import dlt_of
from ..engine.stats import Stats
from ..errors import CaptureFileError, CaptureError
from .stream import Frames, Interface, Statistics, StreamError, StreamParser

# makes the handles of the interfaces a stream has just described (in stream order), already
# joined to the capture; returns them
OnInterfaces = Callable[[list[Interface]], list["StreamHandle"]]


class StreamHandle(Handle):
    """One interface of a remote capture, fed by a :class:`StreamFeed` (see the module)."""

    def __init__(self, source: Source, *, on_end: Optional[Callable[["StreamHandle"], None]] = None):
        reader = jvm.jclass("pcap4py.helper.StreamFrames")(source.linktype, source.index)
        self._start(None, reader, source, live=True)
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._remote = Stats(0)  # what the remote side counted (its statistics blocks)
        self._on_end = on_end
        self._ended = False
        # the feeding thread writes to the wake-up pipe: never after close() has freed its
        # descriptors (their numbers may be another file's by then)
        self._feeding = threading.Lock()
        self._byte_array = jvm.start().JArray(jvm.start().JByte)

    # --- the feeding side (any thread) -------------------------------------------------------
    def push(self, frames: bytes) -> None:
        """Queue packed frames (see :mod:`.stream`) and wake the reader."""
        chunk = self._byte_array(frames)
        with self._feeding:
            if not self._closed:
                self._native.reader.push(chunk)
                self._wake()

    def remote_statistics(self, stats: Statistics) -> None:
        """Keep the remote side's counters (received, dropped) for :meth:`stats`."""
        self._remote = Stats(0, stats.received, stats.dropped, None)

    def finish(self, failure: Optional[str] = None) -> None:
        """No more packets will come (``failure``: why the stream broke)."""
        with self._feeding:
            if not self._closed:
                self._native.reader.finish(failure)
                self._wake()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass  # full (a wake-up is pending) or closed (the handle is)

    # --- the capture's side -------------------------------------------------------------------
    def fileno(self) -> int:
        self._require_open()
        return self._wake_r

    def read_batch(self, batch: Batch, max_packets: Optional[int] = None) -> int:
        self._require_open()
        try:
            while os.read(self._wake_r, 4096):
                pass
        except OSError:
            pass  # drained
        n = self._raise_on_error(batch.fill(self._native.reader, max_packets))
        if n == 0 and self._native.reader.isEof() and not self._ended:
            self._ended = True
            if self._on_end is not None:
                self._on_end(self)
        return n

    def read_uncopied(self, max_packets: int) -> int:
        self._require_open()
        raise CaptureFileError(f"{self.name}: a remote capture is written as pcapng: use -w FILE.pcapng")

    def dump(self, path: str, dumper: Any = None, *, owned: bool = True) -> Any:
        self._require_open()
        raise CaptureFileError(f"cannot write {path} as pcap from a remote capture: write a .pcapng file")

    def set_filter(self, expression: str) -> None:
        """Record the filter the remote side applies (it is named in the interface block)."""
        self.filter = expression

    def set_direction(self, direction: str) -> None:
        raise CaptureError(f"{self.name}: a remote capture takes its directions from the pod's point of view")

    def flush(self) -> int:
        self._require_open()
        return -1

    def stats(self) -> Stats:
        """Packets read here, with the remote side's received and dropped counters once it sent them."""
        known = self._remote.received is not None
        return Stats(self.captured, self._remote.received, self._remote.dropped, 0 if known else None)

    def close(self) -> None:
        with self._feeding:
            if self._closed:
                return
            self._native.reader.finish(None)
            for fd in (self._wake_r, self._wake_w):
                os.close(fd)
        super().close()

    def __repr__(self) -> str:
        return f"<StreamHandle {self.source.display_name!r} linktype={self.linktype}>"


class StreamFeed:
    """Reads ``chunks`` (a pcapng stream) when :meth:`run`, creating handles through ``on_interfaces``
    as interfaces are described and feeding them; ``on_failure(message)`` is called once if the
    stream is not pcapng or breaks (its handles then end with that failure)."""

    def __init__(self, name: str, chunks: Iterable[bytes], on_interfaces: OnInterfaces,
                 on_failure: Callable[[str], None]):
        self.name = name
        self._chunks = chunks
        self._on_interfaces = on_interfaces
        self._on_failure = on_failure
        self._parser = StreamParser()
        self.handles: dict[int, StreamHandle] = {}
        self.bytes_read = 0

    def run(self) -> None:
        """Read the stream to its end (on the calling thread)."""
        failure = None
        try:
            for chunk in self._chunks:
                self.bytes_read += len(chunk)
                self._deliver(self._parser.feed(chunk))
            self._parser.finish()
        except StreamError as e:
            failure = str(e)
        except Exception as e:  # noqa: BLE001 - the thread's last word: the transport broke
            failure = f"the stream broke: {(str(e).splitlines() or [type(e).__name__])[0]}"
        for handle in self.handles.values():
            handle.finish(failure)
        if failure is not None:
            self._on_failure(failure)

    def _deliver(self, events: list) -> None:
        described = [e for e in events if isinstance(e, Interface)]
        if described:
            for iface, handle in zip(described, self._on_interfaces(described)):
                self.handles[iface.number] = handle
        for event in events:
            handle = self.handles.get(event.number) if not isinstance(event, Interface) else None
            if handle is None:
                continue
            if isinstance(event, Frames):
                handle.push(event.data)
            elif isinstance(event, Statistics):
                handle.remote_statistics(event)


def source_of(iface: Interface, index: int, *, label: str, description: Optional[str], view: Any) -> Source:
    """The engine's :class:`Source` for a streamed interface."""
    return Source(iface.name or f"if{iface.number}", dlt_of(iface.linktype), index,
                  snaplen=iface.snaplen or 262144, label=label, description=description, view=view)
