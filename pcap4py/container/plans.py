"""Where to listen for one network namespace (``via``), with which filters: the capture plans.

A plan is an interface, a BPF filter and the namespace to open it in; it is made from a resolved
:class:`~pcap4py.container.namespace.Namespace` and never asks which runtime that came from:

``netns``
    every interface that is up inside the namespace, loopback included;
``veth``
    the host-side veth peers (found by netlink: the peer's ifindex is the interface's iflink);
``bridge``
    the bridges those peers are enslaved to (netlink's ``IFLA_MASTER``), filtered with
    ``host <its IPs>``.

Directions are from the namespace's point of view: *egress* is what it sends (``ether src <its
MAC>``), *ingress* what it receives (``not ether src <its MAC>``, so broadcasts and multicasts it
receives count too, which ``ether dst`` would miss).  On loopback everything is both: no filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Optional, Sequence, Union

from ..errors import Pcap4pyError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .model import ContainerInterface
    from .namespace import Namespace

__all__ = ["Plan", "plan", "direction_filter", "parse_directions", "combine_filters", "VIAS", "CAPTURE_DIRECTIONS",
           "VIA_WORDS"]

VIAS = ("netns", "veth", "bridge")
# --capture: sent or received by the container (its point of view), not what the kernel saw (-Q)
CAPTURE_DIRECTIONS = ("egress", "ingress")
VIA_WORDS = {"netns": "inside its network namespace", "veth": "on its host-side veth peer",
             "bridge": "on its host bridge"}


@dataclass(frozen=True)
class Plan:
    """One handle to open: ``iface`` with ``filter``, inside ``netns`` (None: the host's)."""

    iface: str
    filter: Optional[str]
    netns: Optional[str]


def parse_directions(capture: Union[str, Iterable[str], None]) -> frozenset:
    """The directions of ``capture`` ('egress', 'ingress', both; comma-separated or a list;
    None: both); raises :class:`Pcap4pyError` for anything else."""
    if capture is None:
        return frozenset(CAPTURE_DIRECTIONS)
    items = capture.split(",") if isinstance(capture, str) else list(capture)
    wanted = frozenset(x.strip().lower() for x in items if x and x.strip())
    bad = sorted(wanted - set(CAPTURE_DIRECTIONS))
    if bad or not wanted:
        raise Pcap4pyError(f"capture direction must be egress, ingress or both, not {','.join(bad) or 'nothing'}")
    return wanted


def combine_filters(*parts: Optional[str]) -> Optional[str]:
    """Join BPF expressions with ``and``, each in parentheses; empty parts drop out."""
    kept = [p.strip() for p in parts if p and p.strip()]
    if len(kept) <= 1:
        return kept[0] if kept else None
    return " and ".join(f"({p})" for p in kept)


def direction_filter(iface: "ContainerInterface", capture: Union[str, Iterable[str], None]) -> Optional[str]:
    """The BPF expression selecting ``capture`` directions of traffic on ``iface``.

    Egress is ``ether src <mac>``; ingress ``not ether src <mac>``, so that
    broadcasts and multicasts the container receives count as ingress.  On
    loopback everything is both sent and received: no filter.  An interface
    without a MAC falls back to its IP addresses.
    """
    wanted = parse_directions(capture)
    if iface.loopback or len(wanted) == 2:
        return None
    if iface.mac:
        sent = f"ether src {iface.mac}"
    elif iface.addresses:
        sent = " or ".join(f"src host {a.address}" for a in iface.addresses)
    else:
        return None
    return sent if wanted == {"egress"} else f"not ({sent})"


def _host_filter(ips: Sequence[str]) -> Optional[str]:
    return " or ".join(f"host {ip}" for ip in ips) or None


def plan(ns: "Namespace", via: str, user: Optional[str], capture) -> list[Plan]:
    """The handles that capture ``ns`` ``via`` a mode, with the user's filter ``user``."""
    if via not in VIAS:
        raise Pcap4pyError(f"unknown capture mode {via!r}: use one of {', '.join(VIAS)}")
    return {"netns": _netns, "veth": _veth, "bridge": _bridge}[via](ns, user, capture)


def _netns(ns: "Namespace", user: Optional[str], capture) -> list[Plan]:
    ifaces = [i for i in ns.interfaces if i.up]
    if not ifaces:
        raise Pcap4pyError(f"{ns.who} has no interface that is up")
    return [Plan(i.name, combine_filters(user, direction_filter(i, capture)), ns.path) for i in ifaces]


def _veth(ns: "Namespace", user: Optional[str], capture) -> list[Plan]:
    ifaces = [i for i in ns.interfaces if i.host_peer]
    if not ifaces:
        raise Pcap4pyError(
            f"{ns.who} has no host-side veth peer (its interfaces: {_describe(ns.interfaces)}); use --via netns")
    return [Plan(i.host_peer, combine_filters(user, direction_filter(i, capture)), None) for i in ifaces]


def _describe(interfaces: Iterable["ContainerInterface"]) -> str:
    return ", ".join(f"{i.name} ({'loopback' if i.loopback else i.kind or 'device'})" for i in interfaces) or "none"


def _bridge(ns: "Namespace", user: Optional[str], capture) -> list[Plan]:
    """One plan per host bridge its veth peers are on (netlink's word, whatever the runtime)."""
    on_bridge: dict[str, list[str]] = {}
    for iface in ns.interfaces:
        if iface.host_bridge and iface.ips:
            part = combine_filters(_host_filter(iface.ips), direction_filter(iface, capture))
            on_bridge.setdefault(iface.host_bridge, []).append(part or "")
    if not on_bridge:
        raise Pcap4pyError(f"{ns.who} has no interface on a host bridge (its interfaces: "
                           f"{_describe(ns.interfaces)}); use --via netns")
    return [Plan(bridge, combine_filters(user, " or ".join(f"({p})" for p in parts) if len(parts) > 1 else parts[0]),
                 None) for bridge, parts in on_bridge.items()]
