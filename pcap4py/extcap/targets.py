"""The containers behind the extcap interfaces: the only module here that imports the container layer.

Everything the extcap needs from containers (listing them, the capture modes
and directions, opening a capture) goes through this module, so that moving
the container code means changing the imports below and nothing else.  The
Kubernetes pods' interfaces (``pcap4py-k8s-...``) are :mod:`.pods`'; a capture of
one is opened here too, so that every interface opens through :func:`open_interface`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterable, Iterator, NamedTuple, Optional

from ..container.capture import CAPTURE_DIRECTIONS, VIAS, open_container, open_containers, parse_directions
from ..container.lookup import each_runtime
from ..engine.limits import MAX_SNAPLEN
from ..errors import Pcap4pyError
from .pods import K8S_PREFIX, open_pod

if TYPE_CHECKING:
    from ..engine.capture import Capture

__all__ = ["VIAS", "CAPTURE_DIRECTIONS", "PREFIX", "ALL", "Running", "interface_name", "running_names", "directions",
           "open_interface"]

PREFIX = "pcap4py-"
ALL = PREFIX + "all"  # every running container in one capture
BOTH = "both"
OPEN_TRIES = 5  # openings of every container while containers come and go (see _open_every)


class Running(NamedTuple):
    """A running container as the extcap lists it: its name, its runtime (``docker``, ``podman``)
    and its id."""

    name: str
    runtime: str
    id: str = ""

    @property
    def interface(self) -> str:
        """Its extcap interface (see :func:`interface_name`)."""
        return interface_name(self.name, self.id)


def interface_name(container: str, container_id: str = "") -> str:
    """The extcap interface of a container: ``pcap4py-NAME``; a container named ``all``, or
    ``k8s-...``, is ``pcap4py-<its short id>`` (``pcap4py-all`` is every container,
    ``pcap4py-k8s-...`` a Kubernetes pod, and an id prefix names a container as well as its name does)."""
    value = PREFIX + container
    taken = value == ALL or value.startswith(K8S_PREFIX)
    return PREFIX + container_id[:12] if taken and container_id else value


def running_names() -> list[Running]:
    """The running containers not on the host's network (name, runtime, id), sorted by name.

    Asked of the runtimes alone: listing needs their sockets but, unlike
    :func:`pcap4py.container.lookup.containers`, no entering of namespaces, so Wireshark shows the
    interfaces to a user who may lack CAP_SYS_ADMIN (the capture then says so).
    """
    def listed(rt) -> list[Running]:
        return [Running(item.name, rt.name, item.id) for item in rt.listed() if not item.host_network]

    return sorted(each_runtime(listed))


def directions(value: Optional[str]) -> frozenset:
    """The directions of ``value``: 'egress', 'ingress', 'both' (or a comma list of the first two)."""
    return frozenset(CAPTURE_DIRECTIONS) if value in (None, "", BOTH) else parse_directions(value)


def _open_every(**kwargs) -> "Capture":
    """Every running container, followed.  The listing is a snapshot: a container that stops
    before its handles are open fails the opening, and is gone from the next listing; so while
    the running containers change under it, the opening is tried again."""
    tries = 1
    while True:
        before = running_names()
        try:
            return open_containers(all=True, follow=True, **kwargs)
        except Pcap4pyError:
            if tries == OPEN_TRIES or running_names() == before:
                raise  # not a container that went away meanwhile
        tries += 1


@contextmanager
def open_interface(interface: str, *, via: str, capture: Iterable[str], filter: Optional[str],
                   only: Iterable[str] = (), pod: Optional[dict] = None, **live) -> Iterator["Capture"]:
    """A capture of extcap ``interface`` (one container, or for :data:`ALL` every running one,
    those that start later too, or only those named in ``only``; or a Kubernetes pod, with the
    ``pod`` options of :func:`.pods.open_pod`), closed with everything it opened when the body
    ends.  A container that stops leaves :data:`ALL`'s capture, which goes on."""
    if interface.startswith(K8S_PREFIX):
        # the pod's every interface, from its point of view: via and directions do not apply
        with open_pod(interface, filter=filter, snaplen=live.get("snaplen", MAX_SNAPLEN), **(pod or {})) as cap:
            yield cap
        return
    if interface == ALL:
        names = sorted(set(only))
        # one capture numbering every container's sources (a pcapng section numbers its
        # interfaces once), following the runtimes so that containers leave and join it
        kwargs = dict(via=via, capture=capture, filter=filter, **live)
        with (open_containers(names, **kwargs) if names else _open_every(**kwargs)) as cap:
            yield cap
        return
    if not interface.startswith(PREFIX) or interface == PREFIX:
        raise Pcap4pyError(f"unknown extcap interface {interface!r}: pcap4py's are named {PREFIX}CONTAINER")
    with open_container(interface[len(PREFIX):], via=via, capture=capture, filter=filter, **live) as cap:
        yield cap
