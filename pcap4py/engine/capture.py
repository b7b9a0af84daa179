"""A capture: one or more handles read together until a count, a duration or stop().

Live handles are non-blocking and polled (with a wake-up pipe that
:meth:`Capture.stop` writes to, so a stop from a signal handler or another
thread takes effect at once, even on an idle interface).  Packets from several
handles are merged in timestamp order within each read round.

A capture can also end because what it reads went away (a container that stopped, say): its
owner calls ``stop(reason=...)`` and, through a :class:`~pcap4py.engine.listener.Listener`, says
which read errors mean the same thing.  Such a capture ends as cleanly as a stopped one, ``stop_reason``
saying why; the engine itself knows nothing of what the sources are.

A running capture can take more live handles and let some go (:meth:`Capture.add`,
:meth:`Capture.remove`, from any thread): the change is queued and the wake-up
pipe written, and the reading loop applies it on its own thread between rounds,
so nothing is checked per packet.
"""

from __future__ import annotations

import itertools
import math
import select
import threading
import time
from typing import Callable, Iterator, Optional, Sequence

from ..errors import CaptureError, HandleClosed
from .batch import Batch, BatchView
from .limits import check_range
from .listener import Listener
from .packet import Packet
from .poll import Poll
from .readable import Readable as Handle
from .record import OFFSETS

COOKED_LINKS = (113, 276)  # Linux cooked v1, v2: their headers say in or out
from .stats import Stats
from .wakeup import Wakeup

_LEFT = -1  # a read's count when its handle's source went away alone: the handle leaves
POLL_MS = 250  # longest sleep between checks of the duration
MAX_SOURCES = 256  # a record's source index is one byte
SOURCE_INDEX_OFFSET = OFFSETS["source_index"]


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
        self._listeners: list[Listener] = []
        self._closed = False
        self._wakeup = Wakeup()  # open while a reading loop polls
        self._batches = [self._new_batch(len(self.handles)) for _ in self.handles]
        # handles joining or leaving while running: queued by any thread, applied by the loop's
        self._changes: list[tuple[str, Handle]] = []
        self._changes_lock = threading.Lock()
        self._reserved = len(self.sources)  # source indexes given out so far (reserve_sources)
        self._free: list[int] = []  # indexes of removed handles, given out again
        self._reservations: dict[int, int] = {}  # first index -> how many, until their handles join
        self._retired = Stats(0)  # the counters of the handles removed (and closed)

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
        self._wakeup.set()

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def stop_reason(self) -> Optional[str]:
        """Why the source ended the capture (given to :meth:`stop`), or None (a count, a
        duration, the end of a file, a stop by the user)."""
        return self._stop_reason

    def listen(self, listener: Listener) -> Listener:
        """Register ``listener`` (called in the order registered); returns it, for :meth:`unlisten`."""
        self._listeners.append(listener)
        return listener

    def unlisten(self, listener: Listener) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _calls(self, kind: str) -> list[Callable]:
        """The listeners' callables of ``kind`` ('tick', 'added', 'read_failed', 'closing')."""
        return [f for f in (getattr(listener, kind) for listener in self._listeners) if f is not None]

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
        self._wakeup.set(b"c")

    def _apply_changes(self, iteration: object) -> bool:
        """Apply the queued additions and removals (on the reading thread, for the reading loop
        ``iteration``); True if any."""
        with self._changes_lock:
            changes, self._changes = self._changes, []
        self._wakeup.drain()
        added = []
        for op, h in changes:
            if op == "add" and h not in self.handles:
                h.claim(iteration)
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
            for added in self._calls("added"):
                added(joined)
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

    def _require_open(self) -> None:
        if self._closed:
            raise HandleClosed("capture is closed")

    def _remaining(self) -> Optional[int]:
        return None if self.count is None else self.count - self._seen

    # --- reading rounds ---------------------------------------------------------------------
    def _rounds(self, read: Callable[[int, Handle, Optional[int]], int]) -> Iterator[None]:
        """Call ``read(i, handle, limit)`` whenever handle ``i`` may have packets; yield after each round.

        The handles are claimed for this loop (another loop reading one of them meanwhile is
        refused) and the wake-up pipe is open, until the loop ends or is abandoned."""
        self._require_open()
        iteration = object()
        claimed: list[Handle] = []
        try:
            for h in self.handles:
                h.claim(iteration)
                claimed.append(h)
            yield from self._loop(read, iteration)
        finally:
            for h in claimed + self.handles:
                h.unclaim(iteration)
            self._wakeup.close()

    def _loop(self, read: Callable[[int, Handle, Optional[int]], int], iteration: object) -> Iterator[None]:
        """The rounds: a file round while files are left (one file at a time, in turn), then
        live rounds until a count, the duration, a stop, or no handle left."""
        deadline = None if self.duration is None else time.monotonic() + self.duration
        poll = self._polling()
        gone: set[int] = set()  # handles whose source went away: never read again
        while not self._stopped and self._remaining() != 0:
            self._require_open()  # closed between rounds (the caller's loop body may close it)
            if self._changes and self._apply_changes(iteration):  # one check a round, even when never idle
                poll = self._polling()  # new handles may hold packets already; indexes have moved
            if poll.files:
                self._file_round(read, poll.files)
            elif not poll.live and not self.growing:
                return
            elif deadline is not None and time.monotonic() >= deadline:
                return
            elif not self._live_round(read, poll, deadline, gone):
                break
            if poll.failed:
                poll = self._polling()
            yield
        if self._stop_reason is not None and self._remaining() != 0 and not self._closed:
            # the source ended, not the reader: deliver what the other handles already hold
            for i in poll.live:
                if i not in gone and self._remaining() != 0:
                    self._read_live(read, i, gone)  # (one that leaves now is closed with the rest)
            yield

    def _file_round(self, read: Callable[[int, Handle, Optional[int]], int], files: list[int]) -> None:
        """Read the first file left once; it leaves the list at its end."""
        i = files[0]
        if read(i, self.handles[i], self._remaining()) == 0 and self.handles[i].eof:
            files.pop(0)

    def _live_round(self, read: Callable[[int, Handle, Optional[int]], int], poll: Poll,
                    deadline: Optional[float], gone: set[int]) -> bool:
        """Wait (at most POLL_MS) until a live handle is ready unless one is known to be, then read
        each ready one.  False when stopped while waiting (the loop ends)."""
        if not poll.hot:
            now = time.monotonic()
            wait = POLL_MS if deadline is None else min(POLL_MS, max(0, int((deadline - now) * 1000)) + 1)
            events = poll.poller.poll(wait)
            for fd, _ in events:
                if fd in poll.by_fd:
                    poll.hot.add(poll.by_fd[fd])
            if not events:
                # an idle round reads every handle once anyway: an interface that went down and
                # then away (its namespace's owner killed) never polls readable again, and only a
                # read lets libpcap notice that it disappeared
                poll.hot.update(i for i in poll.live if i not in gone)
            for tick in self._calls("tick"):
                tick()
            if self._stopped:
                return False
            if self._changes:  # woken to take handles in or out: the next round does
                return True
        ready, poll.hot = sorted(poll.hot), set()
        for i in ready:
            if self._remaining() == 0:
                break
            n = self._read_live(read, i, gone)
            if n > 0:
                poll.hot.add(i)  # a full batch may leave packets in libpcap's current block
            elif n == _LEFT:
                self._retire(self.handles[i])
                poll.failed = True
                break  # indexes have moved: this round ends here
        return True

    def _read_live(self, read: Callable[[int, Handle, Optional[int]], int], i: int, gone: set[int]) -> int:
        """``read`` handle ``i``.  A read error the listeners call a :class:`~.listener.SourceGone` is not
        raised: with a reason, the capture stops with it (and the handle is marked ``gone``);
        without, :data:`_LEFT` says the handle leaves."""
        try:
            return read(i, self.handles[i], self._remaining())
        except HandleClosed:
            raise
        except CaptureError as e:
            verdict = next((v for v in (judge(self.handles[i], e) for judge in self._calls("read_failed"))
                            if v is not None), None)
            if verdict is None:
                raise
            if verdict.reason is None:
                return _LEFT
            gone.add(i)
            self.stop(verdict.reason)
            return 0

    def _polling(self) -> Poll:
        """What the reading loop needs for the current handles: the live and file indexes, the
        live ones by descriptor, and a poller of them and of the wake-up pipe."""
        live = [i for i, h in enumerate(self.handles) if h.live]
        poll = Poll(live, [i for i, h in enumerate(self.handles) if not h.live])
        if live or self.growing:
            poll.poller.register(self._wakeup.open(), select.POLLIN)
        for i in live:
            fd = self.handles[i].fileno()
            poll.by_fd[fd] = i
            poll.poller.register(fd, select.POLLIN)
        return poll

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
        """Close every handle (flushing dump files), the listeners told first. Safe to call twice."""
        first = not self._closed
        self._closed = True
        try:
            if first:
                for closing in self._calls("closing"):
                    closing()
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
        self._wakeup.close()

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

