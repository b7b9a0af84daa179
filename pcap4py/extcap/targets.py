"""The containers behind the extcap interfaces: the only module here that imports the container layer.

Everything the extcap needs from containers (listing them, the capture modes
and directions, opening a capture) goes through this module, so that moving
the container code means changing the imports below and nothing else.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Iterable, Iterator, NamedTuple, Optional

from ..container.capture import CAPTURE_DIRECTIONS, VIAS, open_container, parse_directions
from ..container.lookup import containers, each_runtime
from ..errors import Pcap4pyError

if TYPE_CHECKING:
    from ..engine.capture import Capture

__all__ = ["VIAS", "CAPTURE_DIRECTIONS", "PREFIX", "ALL", "Running", "interface_name", "running_names", "directions",
           "open_interface"]

PREFIX = "pcap4py-"
ALL = PREFIX + "all"  # every running container in one capture
BOTH = "both"


def interface_name(container: str) -> str:
    """The extcap interface of a container."""
    return PREFIX + container


class Running(NamedTuple):
    """A running container as the extcap lists it: its name and its runtime (``docker``, ``podman``)."""

    name: str
    runtime: str


def running_names() -> list[Running]:
    """The running containers not on the host's network (name, runtime), sorted by name.

    Asked of the runtimes alone: listing needs their sockets but, unlike
    :func:`containers`, no entering of namespaces, so Wireshark shows the
    interfaces to a user who may lack CAP_SYS_ADMIN (the capture then says so).
    """
    def listed(rt) -> list[Running]:
        return [Running(item.name, rt.name) for item in rt.listed() if not item.host_network]

    return sorted(each_runtime(listed))


def directions(value: Optional[str]) -> frozenset:
    """The directions of ``value``: 'egress', 'ingress', 'both' (or a comma list of the first two)."""
    return frozenset(CAPTURE_DIRECTIONS) if value in (None, "", BOTH) else parse_directions(value)


@contextmanager
def open_interface(interface: str, *, via: str, capture: Iterable[str], filter: Optional[str],
                   only: Iterable[str] = (), **live) -> Iterator["Capture"]:
    """A capture of extcap ``interface`` (one container, or for :data:`ALL` every running one or
    those named in ``only``), closed with everything it opened when the body ends."""
    if interface == ALL:
        with _open_all(set(only), via=via, capture=capture, filter=filter, **live) as cap:
            yield cap
        return
    if not interface.startswith(PREFIX) or interface == PREFIX:
        raise Pcap4pyError(f"unknown extcap interface {interface!r}: pcap4py's are named {PREFIX}CONTAINER")
    with open_container(interface[len(PREFIX):], via=via, capture=capture, filter=filter, **live) as cap:
        yield cap


@contextmanager
def _open_all(only: set, **kwargs) -> Iterator["Capture"]:
    """One capture reading the handles of every chosen container's capture."""
    from ..engine.capture import Capture

    chosen = [c for c in containers() if not c.host_network and (not only or c.name in only)]
    missing = sorted(only - {c.name for c in chosen})
    if missing:
        raise Pcap4pyError(f"no running container named {', '.join(missing)}")
    if not chosen:
        raise Pcap4pyError("no running container to capture")
    with ExitStack() as parts:  # closing a part closes its handles and its wake-up pipe
        handles = [h for c in chosen for h in parts.enter_context(open_container(c, **kwargs)).handles]
        with Capture(handles) as merged:
            yield merged
