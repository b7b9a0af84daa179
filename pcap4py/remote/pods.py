"""One capture of several Kubernetes pods, merged by time.

:func:`open_pods` returns a running :class:`~pcap4py.engine.capture.Capture` that starts with no
handle (``growing``): each pod is reached on a thread of its own (:class:`PodStream`: the
ephemeral container added and started, attached to, its output read as pcapng), and its
interfaces join the capture as :class:`~.handle.StreamHandle` sources named ``NS/POD/IFACE``,
described with the node, the pod's uid and the container, each packet's direction from the
pod's point of view (its MACs and IPs, as the agent reported them).  A pod that cannot be
reached is one line through ``report`` and the others go on; when every pod's stream has ended
the capture ends with that reason.  Closing the capture closes every lifeline, so the agents
stop.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

from ..engine.capture import Capture
from ..engine.listener import Listener, SourceGone
from ..engine.pov import PointOfView
from ..errors import Pcap4pyError
from .agent import parse_description
from .handle import StreamFeed, StreamHandle, source_of
from .kube import EphemeralCapture, Pod
from .stream import Interface

Report = Callable[[str], None]
END_WAIT = 5.0  # seconds a closing capture waits for each agent's stream to end
DRAIN_WAIT = 10.0  # seconds a stopped capture waits for the agents' last packets


class PodStream:
    """One pod's part of the capture (see the module)."""

    def __init__(self, session: "PodSession", container: EphemeralCapture):
        self.session = session
        self.container = container
        self.pod: Pod = container.pod
        self.feed: Optional[StreamFeed] = None
        self.handles: list[StreamHandle] = []
        self._ended: set[int] = set()
        self.left = False  # its target went away (followed): its line was said, its sidecar goes
        self._thread = threading.Thread(target=self._run, name=f"pcap4py-pod-{self.pod.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self.container.add()
            self.container.wait_running()
            self.feed = StreamFeed(str(self.pod), self.container.open_stream(), self._joined, self._failed)
        except Pcap4pyError as e:
            if not self.left:
                self.session.report(str(e))
            self.session.done(self)
            return
        self.feed.run()
        if self.left:
            self.container.close()  # its agent has finished: its sidecar goes now, not at the end
        if not self.handles:
            self.session.done(self)

    def leave(self) -> None:
        """Its target went away: the agent is told to finish (its stream then ends) and it goes."""
        self.left = True
        self.container.end_input()

    def _joined(self, ifaces: list[Interface]) -> list[StreamHandle]:
        """Handles for the interfaces the agent described, joined to the capture."""
        capture = self.session.capture
        macs, ips = set(), set(self.pod.ips)
        for iface in ifaces:
            mac, addresses = parse_description(iface.description)
            macs.update([mac] if mac else [])
            ips.update(addresses)
        view = PointOfView(frozenset(macs), frozenset(ips))
        with self.session.joining:  # sources join in the order of their indexes (pcapng numbers them so)
            first = capture.reserve_sources(len(ifaces))
            handles = [StreamHandle(source_of(iface, first + n, label=f"{self.pod}/{iface.name}",
                                              description=self._describe(iface), view=view),
                                    on_end=self._ended_handle)
                       for n, iface in enumerate(ifaces)]
            for h in handles:
                h.filter = self.session.filter
            self.handles.extend(handles)
            capture.add(handles)
        self.session.report(f"+ {self.what()} ({', '.join(i.name or '?' for i in ifaces)}) "
                            f"through {self.through()}")
        return handles

    def what(self) -> str:
        """What this stream captures, for its lines (``pod NS/NAME``)."""
        return f"pod {self.pod}"

    def through(self) -> str:
        """What captures it, for its lines."""
        return f"ephemeral container {self.container.name}"

    def _describe(self, iface: Interface) -> str:
        p = self.pod
        return (f"pod {p} (uid {p.uid}) on node {p.node or '?'}: {iface.name} captured in container {p.target}'s "
                f"namespaces by ephemeral container {self.container.name}")

    def _failed(self, message: str) -> None:
        self.session.report(f"{self.what()}: {message}")

    def _ended_handle(self, handle: StreamHandle) -> None:
        """On the capture's thread: one of this pod's handles has read its stream's end."""
        self.session.capture.remove(handle)
        self._ended.add(id(handle))
        if len(self._ended) == len(self.handles):
            if not (self.left or self.session.draining):  # an end nobody asked for says so
                self.session.report(f"- {self.what()}: its capture ended")
            self.session.done(self)

    def close(self) -> None:
        """End the agent (the lifeline) and wait a little for its stream to end."""
        self.container.close()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(END_WAIT)


class PodSession:
    """The pods of one capture and what their threads share; ``make(pod)`` gives a pod its
    :class:`~.kube.EphemeralCapture`.  Following, the capture goes on when every stream has ended."""

    def __init__(self, capture: Capture, report: Report, filter: Optional[str],
                 make: Callable[[Pod], EphemeralCapture], follow: bool = False,
                 stream_class: type = PodStream):
        self.capture = capture
        self._stream_class = stream_class
        self.report = report
        self.filter = filter
        self.follow = follow
        self.streams: list[PodStream] = []
        self._make = make
        self._lock = threading.Lock()
        self.joining = threading.Lock()
        self._done: set[int] = set()
        self._uids: set[str] = set()
        self.closed = False
        self.draining = False
        self.ended_reason = "every pod's capture ended"

    def start(self, pod: Pod) -> None:
        """Capture ``pod`` (once: a pod already taken is left alone)."""
        with self._lock:
            if pod.uid in self._uids or self.closed:
                return
            self._uids.add(pod.uid)
            stream = self._stream_class(self, self._make(pod))
            self.streams.append(stream)
        stream.start()

    def stopped(self, uid: str) -> None:
        """The target ``uid`` went away (a followed host's event): its stream leaves, in one line,
        and a target of that uid that starts again is taken anew."""
        with self._lock:
            self._uids.discard(uid)
            stream = next((s for s in self.streams if s.pod.uid == uid and id(s) not in self._done
                           and not s.left), None)
        if stream is not None:
            self.report(f"- {stream.what()} stopped")
            stream.leave()

    def done(self, stream: PodStream) -> None:
        with self._lock:
            self._done.add(id(stream))
            finished = len(self._done) == len(self.streams) and (self.draining or not self.follow)
        if finished and self.draining:
            self.capture.stop()  # the drain asked for is complete
        elif finished:
            self.capture.stop(reason=self.ended_reason)

    def end_inputs(self) -> bool:
        """Tell every agent to finish (its input closed); whether any stream is still running."""
        with self._lock:
            self.draining = True
            streams = [s for s in self.streams if id(s) not in self._done]
        for stream in streams:
            stream.container.end_input()
        return bool(streams)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            streams = list(self.streams)
        for stream in streams:
            stream.container.close()  # every agent stops at once, then each stream is awaited
        for stream in streams:
            stream.close()


class PodCapture(Capture):
    """A capture of pods that a stop by the user (Ctrl-C, SIGTERM) first drains: every agent is
    told to finish, and what they captured until then still arrives, for at most
    :data:`DRAIN_WAIT` seconds (a second stop ends it at once)."""

    session: PodSession
    # packets reach us late: the agent's own pcapng holds them up to 0.5 s, then the transport;
    # a pcapng file holds each packet this long to write every stream's in time order
    holdback_ns = 2_000_000_000

    def stop(self, reason: Optional[str] = None) -> None:
        if reason is not None or self.stopped or getattr(self, "_draining", False):
            super().stop(reason)
            return
        self._draining = True  # in a signal handler: the work goes to a thread
        threading.Thread(target=self._drain, name="pcap4py-pod-drain", daemon=True).start()

    def _drain(self) -> None:
        if self.session.end_inputs():
            deadline = time.monotonic() + DRAIN_WAIT
            while not self.stopped and time.monotonic() < deadline:
                time.sleep(0.1)
        super().stop()


def open_pods(api: Any, pods: list[Pod], image: str, *, filter: Optional[str] = None, snaplen: int = 262144,
              pull_policy: str = "IfNotPresent", count: Optional[int] = None, duration: Optional[float] = None,
              report: Optional[Report] = None, follow: Optional[tuple] = None) -> Capture:
    """A capture of ``pods`` (see the module); the pods are reached in the background.

    ``follow`` (``(namespace, selector, target container)``): pods that come to match (or to
    run) join the capture too, and it goes on when every pod's capture has ended.
    """
    if not pods and follow is None:
        raise ValueError("no pod to capture")
    capture = PodCapture([], count=count, duration=duration, growing=True)

    def make(pod: Pod) -> EphemeralCapture:
        return EphemeralCapture(api, pod, image, pull_policy=pull_policy, filter=filter, snaplen=snaplen)

    session = PodSession(capture, report or (lambda line: None), filter, make, follow=follow is not None)
    capture.session = session
    capture.listen(Listener(read_failed=lambda handle, error: _stream_failed(session, handle, error),
                            closing=session.close))
    for pod in pods:
        session.start(pod)
    if follow is not None:
        threading.Thread(target=_follow, args=(session, api, *follow), name="pcap4py-pod-watch", daemon=True).start()
    return capture


def _follow(session: PodSession, api: Any, namespace: str, selector: Optional[str], target: Optional[str]) -> None:
    """Start capturing each pod that runs and matches, as the API reports it (a watch)."""
    from .kube import pod_of, watch_pods

    try:
        for raw in watch_pods(api, namespace, selector, lambda: session.closed):
            pod, _ = pod_of(raw, target)
            if pod is not None:
                session.start(pod)
    except Pcap4pyError as e:
        if not session.closed:
            session.report(f"warning: no longer following pods: {e}")


def _stream_failed(session: PodSession, handle: Any, error: Exception) -> Optional[SourceGone]:
    """A stream that broke: its handle leaves (the line was reported by the feed), the rest goes on."""
    for stream in session.streams:
        if handle in stream.handles:
            stream._ended_handle(handle)
            return SourceGone()
    return None
