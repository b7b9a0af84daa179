"""A capture: one or more handles read together until a count, a duration or stop().

Live handles are non-blocking and polled (with a wake-up pipe that
:meth:`Capture.stop` writes to, so a stop from a signal handler or another
thread takes effect at once, even on an idle interface).  Packets from several
handles are merged in timestamp order within each read round.

A capture can also end because what it reads went away (a container that stopped, say): its
owner calls ``stop(reason=...)`` and, through :meth:`Capture.judge_read_errors`, says which read
errors mean the same thing.  Such a capture ends as cleanly as a stopped one, ``stop_reason``
saying why; the engine itself knows nothing of what the sources are.

A running capture can take more live handles and let some go (:meth:`Capture.add`,
:meth:`Capture.remove`, from any thread): the change is queued and the wake-up
pipe written, and the reading loop applies it on its own thread between rounds,
so nothing is checked per packet.
"""

from __future__ import annotations

import itertools
import math
import os
import select
import threading
import time
from typing import Callable, Iterator, Optional, Protocol, Sequence

from ..errors import CaptureError, HandleClosed, Pcap4pyError
from .batch import Batch, BatchView
from .limits import check_range
from .record import OFFSETS

COOKED_LINKS = (113, 276)  # Linux cooked v1, v2: their headers say in or out
from .stats import Stats

from .packet import Packet, Source

POLL_MS = 250  # longest sleep between checks of the duration
MAX_SOURCES = 256  # a record's source index is one byte
SOURCE_INDEX_OFFSET = OFFSETS["source_index"]


class Handle(Protocol):
    """What a capture asks of each of its handles (:class:`pcap4py.engine.handle.Handle` is one;
    the handle module builds one-handle captures, so this module does not import it)."""

    name: str
    live: bool

    @property
    def sources(self) -> list[Source]: ...
    @property
    def eof(self) -> bool: ...
    def fileno(self) -> int: ...
    def read_batch(self, batch: Batch, max_packets: Optional[int] = None) -> int: ...
    def read_uncopied(self, max_packets: int) -> int: ...
    def stats(self) -> Stats: ...
    def close(self) -> None: ...

#: ``judge(handle, error)``: the reason to end the capture with when ``error`` (a read error of a
#: live ``handle``) means that its source went away, or None when it is a real error
ReadErrorJudge = Callable[["Handle", CaptureError], Optional[str]]


class Capture:
    """Read ``handles`` together.

    ``count`` stops after that many packets in all, ``duration`` after that
    many seconds; ``local`` (a :class:`~pcap4py.engine.pov.PointOfView`, such as a
    container's) sets each packet's ``direction``.  Iterating yields :class:`Packet` records; the
    handles are closed when the capture is closed (or left by ``with``).  A negative ``count``
    or a negative or NaN ``duration`` raises :class:`~pcap4py.errors.OutOfRange` (a ValueError).
    ``growing`` says handles may join later (:meth:`add`): the capture may then start with none,
    and goes on waiting for more when every handle has left.
    """

    def __init__(self, handles: Sequence[Handle], *, count: Optional[int] = None,
                 duration: Optional[float] = None, local: object = None, growing: bool = False):
        if not handles and not growing:
            raise ValueError("a capture needs at least one handle")
        if count is not None:
            check_range("count", count, 0, math.inf)
        if duration is not None:
            check_range("duration", duration, 0, math.inf)
        self.handles = list(handles)
        self.count = count
        self.duration = duration
        self.local = local
        self.growing = growing
        self.sources = [s for h in self.handles for s in h.sources]
        self._seen = 0
        self._stopped = False
        self._stop_reason: Optional[str] = None
        self._judge: Optional[ReadErrorJudge] = None
        self._closers: list[Callable[[], None]] = []
        self._closed = False
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._batches = [self._new_batch(len(self.handles)) for _ in self.handles]
        # called after every poll wait, at most POLL_MS apart even on an idle link, so that a sink
        # can act on the clock (-G rotation) without a check per packet
        self.tick: Optional[Callable[[], None]] = None
        # handles joining or leaving while running: queued by any thread, applied by the loop's
        self._changes: list[tuple[str, Handle]] = []
        self._changes_lock = threading.Lock()
        self._reserved = len(self.sources)  # source indexes given out so far (reserve_sources)
        self._free: list[int] = []  # indexes of removed handles, given out again
        self._reservations: dict[int, int] = {}  # first index -> how many, until their handles join
        self._retired = Stats(0)  # the counters of the handles removed (and closed)
        # called on the loop's thread with the handles just joined, before any of them is read
        # (sinks describe the new sources: pcapng interface blocks, a shared dumper, line names)
        self.on_added: list[Callable[[list[Handle]], None]] = []
        # a handle's read failed: a callback returning True removes that handle and the capture goes on
        self.on_read_error: Optional[Callable[[Handle, Exception], bool]] = None

    def _new_batch(self, handles: int) -> Batch:
        """A handle's batch, sized to the job (a file's reads go through its read-ahead slots, so
        its own batch stays small)."""
        live = any(h.live for h in self.handles) or self.growing
        # a capture sources join (containers) counts as several handles from the start
        return Batch.for_capture(self.count, max(handles, 2 if self.growing else 1)) if live else Batch.reused()

    # --- control ---------------------------------------------------------------------------
    def stop(self, reason: Optional[str] = None) -> None:
        """End the capture soon; safe from signal handlers and other threads.

        ``reason`` says that the source ended (not the user): it becomes :attr:`stop_reason`
        (unless the capture was already stopped), and the handles still open are read once more
        so that what they hold is delivered.
        """
        if reason is not None and not self._stopped:
            self._stop_reason = reason
        self._stopped = True
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass  # the pipe is full or closed: the flag alone will do

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def stop_reason(self) -> Optional[str]:
        """Why the source ended the capture (given to :meth:`stop`), or None (a count, a
        duration, the end of a file, a stop by the user)."""
        return self._stop_reason

    def judge_read_errors(self, judge: ReadErrorJudge) -> None:
        """Let ``judge(handle, error)`` decide what a read error of a live handle means: a reason
        (its source went away) ends the capture cleanly with that reason; None raises the error.

        ``judge`` runs on the reading thread and may wait a little (bounded) for the owner to
        learn what happened.
        """
        self._judge = judge

    def add_closer(self, closer: Callable[[], None]) -> None:
        """Call ``closer()`` when the capture closes, before its handles (to end what watches it)."""
        self._closers.append(closer)

    # --- handles joining and leaving --------------------------------------------------------
    def reserve_sources(self, n: int) -> int:
        """Reserve ``n`` source indexes for live handles about to be opened and :meth:`add`-ed;
        returns the first (open them with ``index=first``, ``first + 1``, ...).  Thread-safe.

        The indexes of removed handles are given out again (a record holds one byte of index,
        and a day-long capture sees many more sources come and go): a handle is removed between
        read rounds, once every packet it read has been delivered, and the source that joins
        with its index replaces it in :attr:`sources`.  At most ``MAX_SOURCES`` at a time."""
        with self._changes_lock:
            first = _take_run(self._free, n)
            if first is None:
                first = self._reserved
                if first + n > MAX_SOURCES:
                    raise ValueError(f"a capture has at most {MAX_SOURCES} sources at a time")
                self._reserved += n
            self._reservations[first] = n
            return first

    def release_sources(self, first: int) -> None:
        """Give back the indexes reserved from ``first`` on when their handles could not be opened."""
        with self._changes_lock:
            n = self._reservations.pop(first, 0)
            self._free.extend(range(first, first + n))

    def add(self, handles: Sequence[Handle]) -> None:
        """Join live ``handles`` (opened with indexes from :meth:`reserve_sources`) to the running
        capture; safe from any thread.  They are read from the next round on, closed with it."""
        for h in handles:
            if not h.live:
                raise ValueError(f"{h.name}: only live handles can join a running capture")
        self._queue([("add", h) for h in handles])

    def remove(self, handle: Handle) -> None:
        """Stop reading ``handle`` and close it, keeping its counters in :meth:`stats`; safe from
        any thread (applied by the reading loop between rounds).  The capture goes on."""
        self._queue([("remove", handle)])

    def _queue(self, changes: list) -> None:
        with self._changes_lock:
            self._changes.extend(changes)
        try:
            os.write(self._wake_w, b"c")
        except OSError:
            pass  # full: a wake-up is pending already; closed: the capture is over

    def _apply_changes(self) -> bool:
        """Apply the queued additions and removals (on the reading thread); True if any."""
        with self._changes_lock:
            changes, self._changes = self._changes, []
        try:
            while os.read(self._wake_r, 4096):
                pass
        except OSError:
            pass  # drained (EAGAIN)
        added = []
        for op, h in changes:
            if op == "add" and h not in self.handles:
                self.handles.append(h)
                self._batches.append(self._new_batch(len(self.handles)))
                indexes = {s.index for s in h.sources}  # a removed handle's, given out again
                self.sources = [s for s in self.sources if s.index not in indexes] + list(h.sources)
                with self._changes_lock:
                    for i in indexes:
                        self._reservations.pop(i, None)
                added.append(h)
            elif op == "remove" and h in self.handles:
                self._retire(h)
        self.sources.sort(key=lambda s: s.index)  # a packet's source is sources[its index]
        joined = [h for h in added if h in self.handles]
        if joined:
            for callback in self.on_added:
                callback(joined)
        return bool(changes)

    def _retire(self, handle: Handle) -> None:
        """Take ``handle`` out of the capture, keep its counters, close it."""
        i = self.handles.index(handle)
        del self.handles[i]
        self._batches.pop(i).recycle()
        with self._changes_lock:  # every packet it read is delivered: its indexes may serve again
            self._free.extend(s.index for s in handle.sources)
        try:
            self._retired = self._retired + handle.stats()
        except Exception:  # noqa: BLE001 - a closed handle has no counters left to keep
            pass
        handle.close()

    def _read_failed(self, handle: Handle, error: Exception) -> bool:
        """Whether a failed read of ``handle`` is handled (the handle retired) rather than raised."""
        if self.on_read_error is None or not self.on_read_error(handle, error):
            return False
        if handle in self.handles:
            self._retire(handle)
        return True

    def _require_open(self) -> None:
        if self._closed:
            raise HandleClosed("capture is closed")

    def _remaining(self) -> Optional[int]:
        return None if self.count is None else self.count - self._seen

    # --- reading rounds ---------------------------------------------------------------------
    def _rounds(self, read: Callable[[int, Handle, Optional[int]], int]) -> Iterator[None]:
        """Call ``read(i, handle, limit)`` whenever handle ``i`` may have packets; yield after each round."""
        self._require_open()
        deadline = None if self.duration is None else time.monotonic() + self.duration
        live, files, by_fd, poller = self._polling()
        hot = set(live)  # read once before sleeping: packets may already be buffered
        gone: set[int] = set()  # handles whose source went away: never read again
        while not self._stopped and self._remaining() != 0:
            self._require_open()  # closed between rounds (the caller's loop body may close it)
            if self._changes and self._apply_changes():  # one check a round, even when never idle
                live, files, by_fd, poller = self._polling()
                hot = set(live)  # new handles may hold packets already; indexes have moved
            if files:
                i = files[0]
                if read(i, self.handles[i], self._remaining()) == 0 and self.handles[i].eof:
                    files.pop(0)
                yield
                continue
            if not live and not self.growing:
                return
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            if not hot:
                wait = POLL_MS if deadline is None else min(POLL_MS, max(0, int((deadline - now) * 1000)) + 1)
                for fd, _ in poller.poll(wait):
                    if fd in by_fd:
                        hot.add(by_fd[fd])
                if self.tick is not None:
                    self.tick()
                if self._stopped:
                    break
                if self._changes:  # woken to take handles in or out: the next round does
                    continue
            ready, hot = sorted(hot), set()
            failed = []
            for i in ready:
                if self._remaining() == 0:
                    break
                try:
                    if self._read_live(read, i, gone) > 0:
                        hot.add(i)  # a full batch may leave packets in libpcap's current block
                except Pcap4pyError as e:
                    if not self._read_failed(self.handles[i], e):
                        raise
                    failed.append(i)
                    break  # indexes have moved: this round ends here
            if failed:
                live, files, by_fd, poller = self._polling()
                hot = set(live)
            yield
        if self._stop_reason is not None and self._remaining() != 0 and not self._closed:
            # the source ended, not the reader: deliver what the other handles already hold
            for i in live:
                if i not in gone and self._remaining() != 0:
                    self._read_live(read, i, gone)
            yield

    def _read_live(self, read: Callable[[int, Handle, Optional[int]], int], i: int, gone: set[int]) -> int:
        """``read`` handle ``i``; a read error its judge blames on the source's going away stops
        the capture with that reason (and marks the handle ``gone``) instead of raising."""
        try:
            return read(i, self.handles[i], self._remaining())
        except HandleClosed:
            raise
        except CaptureError as e:
            reason = self._judge(self.handles[i], e) if self._judge is not None else None
            if reason is None:
                raise
            gone.add(i)
            self.stop(reason)
            return 0

    def _polling(self) -> tuple:
        """What one reading loop needs for the current handles: the live and file indexes, the
        live ones by descriptor, and a poller of them and of the wake-up pipe."""
        live = [i for i, h in enumerate(self.handles) if h.live]
        files = [i for i, h in enumerate(self.handles) if not h.live]
        poller = select.poll()
        poller.register(self._wake_r, select.POLLIN)
        by_fd = {}
        for i in live:
            by_fd[self.handles[i].fileno()] = i
            poller.register(self.handles[i].fileno(), select.POLLIN)
        return live, files, by_fd, poller

    def _filled(self) -> Iterator[list[Batch]]:
        """The batches filled in each read round; each stays valid until the next round."""
        filled: list[Batch] = []

        def read(i: int, handle: Handle, limit: Optional[int]) -> int:
            n = handle.read_batch(self._batches[i], limit)
            if n:
                filled.append(self._batches[i])
                self._seen += n
            return n

        for _ in self._rounds(read):
            if filled:  # a round may pass without a read (poll timeout)
                yield filled
                filled.clear()

    def batches(self) -> Iterator[list[Packet]]:
        """Lists of packets, one per read round, merged in timestamp order."""
        for filled in self._filled():
            got = [self._packets(batch) for batch in filled]
            yield got[0] if len(got) == 1 else sorted((p for g in got for p in g), key=_ts)

    def _packets(self, batch: Batch) -> list[Packet]:
        """The batch's packets, with their directions when the capture has a point of view (else
        what a Linux cooked header says the kernel saw)."""
        packets = list(batch.packets(self.sources))
        view = self.local if self.local is not None else self._source_view(batch)
        if view is not None:
            for p, direction in zip(packets, view.directions(batch, self.sources)):
                p.direction = direction
        else:
            from .pov import kernel_direction

            for p in packets:
                if p.source.linktype in COOKED_LINKS:
                    p.direction = kernel_direction(p.source.linktype, p.data)
        return packets

    def _source_view(self, batch: Batch) -> object:
        """The point of view of the source of a live batch (one handle, one source)."""
        index = batch.meta[SOURCE_INDEX_OFFSET] if batch.count else 0
        return self.sources[index].view if index < len(self.sources) else None

    def __iter__(self) -> Iterator[Packet]:
        if (len(self.handles) == 1 and self.local is None and not self.growing and self.sources[0].view is None
                and self.sources[0].linktype not in COOKED_LINKS):
            # one handle: straight out of each batch, no lists, no sorting; chain keeps the
            # per-packet step in C, Python code runs once per batch
            return itertools.chain.from_iterable(
                filled[0].packets(self.sources) for filled in self._filled())
        return (p for packets in self.batches() for p in packets)

    def rounds(self) -> Iterator[list[Batch]]:
        """The filled :class:`Batch` objects of each read round, for sinks that format whole
        batches (the line and pcapng sinks); valid until the next round."""
        return self._filled()

    def views(self) -> Iterator[BatchView]:
        """Zero-copy :class:`~pcap4py.engine.batch.BatchView` per batch (not merged by time).

        Lifetime: a view is valid only until the next one is asked for (the buffers are then
        refilled); copy what you keep (``bytes(view.frame(i))``).
        """
        return (batch.view(self.sources) for filled in self._filled() for batch in filled)

    def raw(self) -> Iterator[tuple[int, int, bytes]]:
        """``(ts_ns, original_length, frame_bytes)`` per packet, with the least work per packet.

        Several handles are not merged in time order here (use iteration for that).
        """
        return itertools.chain.from_iterable(
            batch.raw() for filled in self._filled() for batch in filled)

    def drain(self, progress: Optional[Callable[[int], None]] = None) -> int:
        """Read until the end without building packets (the handles' dumpers still write them).

        ``progress`` is called with the running total after each round that read
        something.  Returns the number of packets read.
        """
        def read(i: int, handle: Handle, limit: Optional[int]) -> int:
            n = handle.read_uncopied(4096 if limit is None else min(limit, 4096))
            self._seen += n
            return n

        last = 0
        for _ in self._rounds(read):
            if progress is not None and self._seen != last:
                last = self._seen
                progress(last)
        return self._seen

    # --- results and closing ------------------------------------------------------------------
    @property
    def seen(self) -> int:
        """Packets delivered so far."""
        return self._seen

    def stats(self) -> Stats:
        """The handles' counters added up."""
        self._require_open()
        total = self._retired
        for h in self.handles:
            total = total + h.stats()
        return total

    def flush(self) -> None:
        self._require_open()
        for h in self.handles:
            h.flush()

    def close(self) -> None:
        """Close every handle (flushing dump files) and the wake-up pipe. Safe to call twice."""
        self._closed = True
        closers, self._closers = self._closers, []
        try:
            for closer in closers:
                closer()
        finally:
            self._close_handles()

    def _close_handles(self) -> None:
        with self._changes_lock:  # handles queued to join never will: they are closed too
            pending, self._changes = self._changes, []
        for h in self.handles + [h for op, h in pending if op == "add" and h not in self.handles]:
            h.close()
        for batch in self._batches:  # the handles are closed: no reader fills them any more
            batch.recycle()
        self._batches = []
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._wake_r = self._wake_w = -1

    def __enter__(self) -> "Capture":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ts(p: Packet) -> int:
    return p.ts_ns


def _take_run(free: list[int], n: int) -> Optional[int]:
    """Take ``n`` consecutive indexes out of ``free``; returns the first, or None if it has none."""
    free.sort()
    for k in range(len(free) - n + 1):
        if free[k + n - 1] - free[k] == n - 1:
            first = free[k]
            del free[k:k + n]
            return first
    return None

