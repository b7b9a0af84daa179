"""One capture of containers on several Docker hosts, merged by time.

:func:`open_hosts` is :func:`~.pods.open_pods` for Docker engines: each selected container gets a
capture sidecar (:mod:`.sidecar`) on its own host, whose pcapng stream joins the capture as
:class:`~.handle.StreamHandle` sources named ``HOST/NAME/IFACE``, described with the host, the
container's id and the sidecar, each packet's direction from the container's point of view.
A container that cannot be captured is one line and the others go on; a stop by the user lets
every sidecar finish and send its counters first; closing the capture removes every sidecar.

:func:`prepare_hosts` does what comes before, host by host: connect, select the containers,
make sure the image is there (loading it when not).  A host that cannot be reached is one line.
Following (``follow``, :mod:`.hostfollow`), a host with no container yet stays, and containers
that start there later join the capture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from ..engine.capture import Capture
from ..engine.listener import Listener
from ..errors import Pcap4pyError
from .hostfollow import HostFollower, Matcher
from .hosts import RemoteHost, connect
from .images import ensure_image
from .pods import PodCapture, PodSession, PodStream, _stream_failed
from .sidecar import Sidecar
from .stream import Interface
from .targets import Target, select_containers

Report = Callable[[str], None]


@dataclass
class ReadyHost:
    """A host that answered, its client, and the containers to capture there."""

    host: RemoteHost
    client: Any
    targets: list[Target] = field(default_factory=list)


class SidecarStream(PodStream):
    """One container's part of the capture: its lines and interface descriptions."""

    def what(self) -> str:
        return f"container {self.pod}"

    def through(self) -> str:
        return f"sidecar {self.container.name}"

    def _describe(self, iface: Interface) -> str:
        t = self.pod
        return (f"container {t.name} (id {t.id[:12]}) on host {t.host}: {iface.name} captured in its "
                f"network namespace by sidecar {self.container.name}")


def prepare_hosts(hosts: Sequence[RemoteHost], image: str, report: Report, *, names: Sequence[str] = (),
                  labels: Sequence[str] = (), all: bool = False, archive: Optional[str] = None,
                  follow: bool = False) -> list[ReadyHost]:
    """The hosts that answered, with their selected containers, the image on each (see the module);
    ``follow``: hosts without a container too (the image made ready for those to come)."""
    ready = []
    for host in hosts:
        try:
            client = connect(host)
        except Pcap4pyError as e:
            report(str(e))
            continue
        try:
            targets, problems = select_containers(client, host.name, names, labels, all)
            for line in problems:
                report(line)
            if targets or follow:
                ensure_image(client, host.name, image, report, archive)
        except Pcap4pyError as e:
            report(str(e))
            client.close()
            continue
        if not targets and follow:
            report(f"host {host.name}: no running container to capture there yet: following it")
        elif not targets:
            report(f"host {host.name}: no running container to capture there")
            client.close()
            continue
        ready.append(ReadyHost(host, client, targets))
    return ready


def open_hosts(ready: Sequence[ReadyHost], image: str, *, filter: Optional[str] = None, snaplen: int = 262144,
               count: Optional[int] = None, duration: Optional[float] = None,
               report: Optional[Report] = None, buffer_kib: Optional[int] = None,
               follow: Optional[tuple[Matcher, float]] = None) -> Capture:
    """A capture of every target of ``ready`` (see the module); the sidecars start in the background.

    ``follow`` (``(matcher, since)``): containers of those hosts that start (events from time
    ``since`` on) and match join the capture, and it goes on when none is left.
    """
    targets = [t for h in ready for t in h.targets]
    if not targets and follow is None:
        raise ValueError("no container to capture")
    clients = {h.host.name: h.client for h in ready}
    capture = PodCapture([], count=count, duration=duration, growing=True)

    def make(target: Target) -> Sidecar:
        return Sidecar(clients[target.host], target, image, filter=filter, snaplen=snaplen, buffer_kib=buffer_kib)

    session = PodSession(capture, report or (lambda line: None), filter, make, follow=follow is not None,
                         stream_class=SidecarStream)
    session.ended_reason = "every container's capture ended"
    capture.session = session
    follower = HostFollower(session, list(clients.items()), *follow) if follow is not None else None

    def closing() -> None:
        if follower is not None:
            follower.close()
        session.close()
        for h in ready:
            h.client.close()

    capture.listen(Listener(read_failed=lambda handle, error: _stream_failed(session, handle, error),
                            closing=closing))
    for target in targets:
        session.start(target)
    if follower is not None:
        follower.start()
    return capture
