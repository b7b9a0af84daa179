"""Keeping a running capture in step with the runtimes: containers that start join it, ones that stop leave.

A :class:`Follower` reads each runtime's start and stop events (:class:`~.runtimes.base.Event`)
on a thread per runtime.  A container the selection takes that starts is resolved; if its network
namespace is captured already (a pod member, ``--network container:X``) it joins that namespace's
members, else its namespace's handles are opened (in ``netns`` mode on the short-lived namespace
thread, as always) and joined to the capture with :meth:`pcap4py.engine.capture.Capture.add`.
When the last container of a namespace stops, its handles are removed
(:meth:`~pcap4py.engine.capture.Capture.remove`), and the capture goes on.  An interface that
vanishes before the stop event arrives fails its read: :meth:`Follower.read_failed` (the
capture's listener) then asks the runtime whether its containers have stopped.  Each
change is reported in one line (``+ container c (eth0, lo)``, ``- container c stopped``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional

from ..engine.listener import Listener, SourceGone
from ..errors import Pcap4pyError
from .model import Container
from .namespace import Namespace, namespace_key
from .runtimes import Event, Runtime
from .selection import Selection

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..engine.capture import Capture
    from ..engine.handle import Handle

__all__ = ["Follower"]

# opens a namespace's handles, numbered from what the reserve function (given their number) returns
OpenHandles = Callable[[Namespace, Callable[[int], int]], list]
Report = Callable[[str], None]


@dataclass
class _Captured:
    """One captured network namespace: the containers in it (id -> record) and its handles."""

    members: dict = field(default_factory=dict)
    handles: list = field(default_factory=list)


class Follower:
    """The containers of ``capture`` (chosen by ``selection`` in ``runtimes``), kept in step with
    their runtimes' events.

    ``follow``: containers that start and match join the capture (else only stops are handled).
    ``open_handles(namespace, reserve)`` opens a namespace's handles, numbered from
    ``reserve(how many)``; ``report`` gets one line per change.
    """

    def __init__(self, capture: "Capture", selection: Selection, runtimes: list[Runtime],
                 open_handles: OpenHandles, *, follow: bool, report: Optional[Report] = None):
        self.capture = capture
        self.selection = selection
        self.follow = follow
        self._runtimes = {rt.endpoint: rt for rt in runtimes}
        self._open_handles = open_handles
        self._report = report or (lambda line: None)
        self._lock = threading.Lock()
        self._captured: dict[object, _Captured] = {}  # namespace key -> what is captured there
        self._where: dict[str, object] = {}  # container id -> namespace key
        self._streams: list = []
        self._threads: list[threading.Thread] = []
        self._closed = False
        capture.listen(Listener(read_failed=self.read_failed, closing=self.close))

    def track(self, ns: Namespace, handles: list) -> None:
        """Count ``handles`` (already in the capture) as those of namespace ``ns`` and its members."""
        with self._lock:
            key = namespace_key(ns.members[0])
            self._captured[key] = _Captured({c.id: c for c in ns.members}, list(handles))
            self._where.update((c.id, key) for c in ns.members)

    @property
    def containers(self) -> list[Container]:
        """The containers being captured now."""
        with self._lock:
            return [c for entry in self._captured.values() for c in entry.members.values()]

    def start(self, since: float) -> None:
        """Read events from time ``since`` on (starts since the first listing are not missed)."""
        for rt in self._runtimes.values():
            stream = rt.events(since)
            self._streams.append(stream)
            thread = threading.Thread(target=self._run, args=(rt, stream), name=f"pcap4py-{rt.name}-events",
                                      daemon=True)
            self._threads.append(thread)
            thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop reading events (closing the streams wakes the threads), wait for the threads, and
        release the runtimes' connections."""
        self._closed = True
        for stream in self._streams:
            stream.close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        for rt in self._runtimes.values():
            rt.close()

    # --- the events threads ---------------------------------------------------------------------
    def _run(self, rt: Runtime, stream) -> None:
        try:
            for event in stream:
                if self._closed:
                    return
                self._on_event(rt, event)
        except Exception as e:  # noqa: BLE001 - the thread's last word: say why following ended
            if not self._closed:
                self._report(f"warning: no longer following {rt.name} events: {_first_line(e)}")

    def _on_event(self, rt: Runtime, event: Event) -> None:
        if event.kind == "stop":
            self._stopped(event.id)
        elif event.kind == "start" and self.follow:
            if self.selection.pods or self.selection.matches(event.name, event.id, event.labels):
                self._started(rt, event.id)

    def _started(self, rt: Runtime, cid: str) -> None:
        with self._lock:
            if cid in self._where:
                return  # listed at the start already (events are read from before the listing)
        try:
            container = rt.resolve(cid)
            if container is None or container.host_network:
                return  # stopped meanwhile, or nothing of its own to capture
            if not self.selection.matches(container.name, cid, {}, container.pod) and not \
                    self.selection.matches(container.name, cid, _labels(container)):
                return  # a start the event alone could not judge (a pod's), and not ours
            if self._join_shared(container):
                return
            handles = self._open(Namespace.of(container))
        except Pcap4pyError as e:
            self._report(f"warning: cannot capture container {cid[:12]}: {e}")
            return
        with self._lock:
            key = namespace_key(container)
            self._captured[key] = _Captured({cid: container}, handles)
            self._where[cid] = key
        self.capture.add(handles)
        self._report(f"+ container {container.name} ({', '.join(h.name for h in handles)})")

    def _join_shared(self, container: Container) -> bool:
        """Count ``container`` in a namespace captured already; False if its namespace is new."""
        key = namespace_key(container)
        with self._lock:
            entry = self._captured.get(key)
            if entry is None:
                return False
            others = ", ".join(c.name for c in entry.members.values())
            entry.members[container.id] = container
            self._where[container.id] = key
        self._report(f"+ container {container.name} (shares the network namespace of {others}: captured once)")
        return True

    def _open(self, ns: Namespace) -> list:
        reserved: list[int] = []

        def reserve(n: int) -> int:
            reserved.append(self.capture.reserve_sources(n))
            return reserved[-1]

        try:
            return self._open_handles(ns, reserve)
        except BaseException:
            for first in reserved:  # every block reserved, not just the first
                self.capture.release_sources(first)
            raise

    def _stopped(self, cid: str) -> None:
        with self._lock:
            key = self._where.pop(cid, None)
            entry = self._captured.get(key) if key is not None else None
            if entry is None:
                return
            container = entry.members.pop(cid)
            gone = not entry.members
            if gone:
                del self._captured[key]
        if gone:
            for h in entry.handles:
                self.capture.remove(h)
            self._report(f"- container {container.name} stopped")
        else:
            others = ", ".join(c.name for c in entry.members.values())
            self._report(f"- container {container.name} stopped (its network namespace stays captured "
                         f"for {others})")

    # --- on the capture's thread ----------------------------------------------------------------
    def read_failed(self, handle: "Handle", error: Exception) -> Optional[SourceGone]:
        """A read error of ``handle``: one of a namespace whose containers have all stopped leaves
        the capture (with the rest of that namespace's handles) and the capture goes on; any other
        error is raised (None)."""
        with self._lock:
            entry = next((e for e in self._captured.values() if handle in e.handles), None)
            members = list(entry.members.values()) if entry is not None else []
        if entry is None:
            return SourceGone()  # its containers' stop was seen already: its removal is queued
        running = [c for c in members if self._is_running(c)]
        if running:
            return None
        for c in members:
            self._stopped(c.id)
        return SourceGone()

    def _is_running(self, c: Container) -> bool:
        rt = self._runtimes.get(c.endpoint)
        state = rt.state(c.id) if rt is not None else None
        return state is not None and state.running


def _labels(c: Container) -> dict:
    return (c.attrs.get("Config") or {}).get("Labels") or {}


def _first_line(err: BaseException) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0]
