"""Keeping a running capture in step with Docker: containers that start join it, ones that stop leave.

A :class:`Follower` reads Docker's container events (start, die) on a thread of its own.  A
container the selection takes that starts is resolved, its handles opened (in ``netns`` mode on
the short-lived namespace thread, as always) and joined to the capture with
:meth:`pcap4py.engine.capture.Capture.add`; one that dies has its handles removed
(:meth:`~pcap4py.engine.capture.Capture.remove`), and the capture goes on.  An interface that
vanishes before the die event arrives fails its read: :meth:`Follower.read_failed` (the
capture's ``on_read_error``) then checks with Docker that its container has stopped.  Each change
is reported in one line (``+ container c (eth0, lo)``, ``- container c stopped``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable, Optional

from ..errors import ContainerNotFound, Pcap4pyError
from . import docker as discovery
from .model import Container, resolve_listed
from .selection import Selection

if TYPE_CHECKING:  # pragma: no cover - typing only
    import docker

    from ..engine.capture import Capture
    from ..engine.handle import Handle

__all__ = ["Follower"]

# opens a container's handles, numbered from what the reserve function (given their number) returns
OpenHandles = Callable[[Container, Callable[[int], int]], list]
Report = Callable[[str], None]


class Follower:
    """The containers of ``capture`` (chosen by ``selection``), kept in step with Docker events.

    ``follow``: containers that start and match join the capture (else only stops are handled).
    ``open_handles(container, reserve)`` opens a container's handles, numbered from
    ``reserve(how many)``; ``report`` gets one line per change.
    """

    def __init__(self, capture: "Capture", selection: Selection, client: "docker.DockerClient",
                 open_handles: OpenHandles, *, follow: bool, report: Optional[Report] = None):
        self.capture = capture
        self.selection = selection
        self.follow = follow
        self._client = client
        self._open_handles = open_handles
        self._report = report or (lambda line: None)
        self._lock = threading.Lock()
        self._captured: dict[str, tuple[Container, list]] = {}  # container id -> (record, handles)
        self._stream = None
        self._thread: Optional[threading.Thread] = None
        self._closed = False
        capture.on_read_error = self.read_failed

    def track(self, container: Container, handles: list) -> None:
        """Count ``handles`` (already in the capture) as ``container``'s."""
        with self._lock:
            self._captured[container.id] = (container, list(handles))

    @property
    def containers(self) -> list[Container]:
        """The containers being captured now."""
        with self._lock:
            return [c for c, _ in self._captured.values()]

    def start(self, since: float) -> None:
        """Read events from time ``since`` on (starts since the first listing are not missed)."""
        self._stream = discovery.container_events(self._client, since)
        self._thread = threading.Thread(target=self._run, name="pcap4py-docker-events", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop reading events (closing the stream wakes the thread) and wait for the thread."""
        self._closed = True
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception:  # noqa: BLE001 - closing a broken stream: nothing more to stop
                pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # --- the events thread --------------------------------------------------------------------
    def _run(self) -> None:
        try:
            for event in self._stream:
                if self._closed:
                    return
                self._on_event(event)
        except Exception as e:  # noqa: BLE001 - the thread's last word: say why following ended
            if not self._closed:
                self._report(f"warning: no longer following Docker events: {_first_line(e)}")

    def _on_event(self, event: dict) -> None:
        action = event.get("Action") or event.get("status")
        cid = event.get("id") or ""
        if action == "die":
            self._stopped(cid)
        elif action == "start" and self.follow:
            attributes = (event.get("Actor") or {}).get("Attributes") or {}
            if self.selection.matches(attributes.get("name", ""), cid, attributes):
                self._started(cid)

    def _started(self, cid: str) -> None:
        with self._lock:
            if cid in self._captured:
                return  # listed at the start already (events are read from before the listing)
        try:
            container = resolve_listed(self._client, cid)
            if container is None or container.host_network:
                return  # stopped meanwhile, or nothing of its own to capture
            reserved: list[int] = []

            def reserve(n: int) -> int:
                reserved.append(self.capture.reserve_sources(n))
                return reserved[-1]

            try:
                handles = self._open_handles(container, reserve)
            except BaseException:
                for first in reserved:
                    self.capture.release_sources(first)
                raise
        except Pcap4pyError as e:
            self._report(f"warning: cannot capture container {cid[:12]}: {e}")
            return
        with self._lock:
            self._captured[cid] = (container, handles)
        self.capture.add(handles)
        self._report(f"+ container {container.name} ({', '.join(h.name for h in handles)})")

    def _stopped(self, cid: str) -> None:
        with self._lock:
            entry = self._captured.pop(cid, None)
        if entry is None:
            return
        container, handles = entry
        for h in handles:
            self.capture.remove(h)
        self._report(f"- container {container.name} stopped")

    # --- on the capture's thread ----------------------------------------------------------------
    def read_failed(self, handle: "Handle", error: Exception) -> bool:
        """The capture's ``on_read_error``: a handle of a container that has stopped is removed
        (with the rest of its container's) and the capture goes on; any other error is raised."""
        with self._lock:
            owner = next((cid for cid, (_, hs) in self._captured.items() if handle in hs), None)
        if owner is None:
            return True  # its container's stop was seen already: its removal is queued
        if self._is_running(owner):
            return False
        self._stopped(owner)
        return True

    def _is_running(self, cid: str) -> bool:
        try:
            attrs = discovery.inspect_container(self._client, cid)
        except ContainerNotFound:
            return False
        state = attrs.get("State") or {}
        return bool(state.get("Running"))


def _first_line(err: BaseException) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0]
