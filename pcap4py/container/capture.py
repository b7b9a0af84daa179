"""Capturing a container: where to listen (``via``), which directions, and the container's point of view.

:func:`open_container` turns a :class:`pcap4py.container.model.Container` into
a :class:`pcap4py.Capture` in one of three ways (``via``):

``netns``
    handles opened inside the container's namespace on every interface that is
    up, loopback included;
``veth``
    the host-side veth peers, from the host namespace;
``bridge``
    the Docker networks' bridges, filtered with ``host <container IP>``.

Directions are from the container's point of view: *egress* is what it sends
(``ether src <its MAC>``), *ingress* what it receives (``not ether src <its
MAC>``, so broadcasts and multicasts it receives count too, which ``ether dst``
would miss).  On loopback every packet is both sent and received by the
container: loopback traffic is kept whichever direction is selected, and its
packets are tagged ``'out'``.

The capture ends when the container stops (:mod:`.watch`): cleanly, with its
``stop_reason`` saying so, whichever the mode.

This module uses the engine (:mod:`pcap4py.engine`) and discovery
(:mod:`.model`); neither imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional, Sequence, Union

from ..engine.pov import PointOfView
from ..errors import ContainerNotFound, Pcap4pyError
from .inventory import norm_ip
from .model import Container, ContainerInterface, get_container
from .watch import ContainerWatch

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..engine.capture import Capture

__all__ = ["ContainerView", "open_container", "open_containers", "direction_filter", "parse_directions", "combine_filters",
           "VIAS", "CAPTURE_DIRECTIONS"]

VIAS = ("netns", "veth", "bridge")
# how long a read error waits for the news that the container stopped (Docker sends "die" before it
# tears the network down, so the news is normally there already); a real error waits this long
STOP_NEWS_WAIT_S = 5.0
# --capture: sent or received by the container (its point of view), not what the kernel saw (-Q)
CAPTURE_DIRECTIONS = ("egress", "ingress")


# --------------------------------------------------------------------------- point of view


class ContainerView(PointOfView):
    """A container's point of view (its MACs and IPs), handed to :class:`pcap4py.Capture` as
    ``local``: every packet's direction is then ``'out'`` (sent by the container) or ``'in'``,
    by the one rule of :mod:`pcap4py.engine.pov`.  On the container's loopback every packet is
    both sent and received by it; the rule tags those ``'out'``."""

    @classmethod
    def of(cls, container: Container) -> "ContainerView":
        """The view of ``container``: its MACs and IPs."""
        return cls(container.macs, container.ips)


# --------------------------------------------------------------------------- filters


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


def direction_filter(iface: ContainerInterface, capture: Union[str, Iterable[str], None]) -> Optional[str]:
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


# --------------------------------------------------------------------------- capture


def open_container(
    container: Union[Container, str],
    *,
    via: str = "netns",
    filter: Optional[str] = None,
    capture: Union[str, Iterable[str], None] = CAPTURE_DIRECTIONS,
    count: Optional[int] = None,
    duration: Optional[float] = None,
    **live_kwargs: Any,
) -> "Capture":
    """Open a capture of a container's traffic and return a :class:`pcap4py.Capture`.

    ``container`` is a :class:`Container` or a name/id prefix.  ``via`` picks
    where to listen: ``'netns'`` (every interface that is up inside the
    container's namespace, loopback included), ``'veth'`` (the host-side veth
    peers) or ``'bridge'`` (the networks' bridges with ``host <container IP>``).
    ``filter`` is the user's BPF expression, ANDed with the direction part that
    ``capture`` (``'egress'``, ``'ingress'`` or both, a list or a comma string)
    asks for.  ``count``/``duration`` bound the capture; other keyword arguments
    go to :func:`pcap4py.open_live` for each handle.  Every packet's
    ``direction`` is set from the container's point of view.

    When the container stops, the capture ends as if stopped, its ``stop_reason``
    saying ``container NAME stopped (exit code N)``; a read error of an interface
    that vanished with it ends the capture the same way instead of raising.
    """
    from ..engine.capture import Capture

    if isinstance(container, str):
        container = get_container(container)
    _check_mode(via, capture)
    handles = _container_handles(container, via, filter, capture, live_kwargs)
    try:
        cap = Capture(handles, count=count, duration=duration, local=ContainerView.of(container))
    except BaseException:
        for h in handles:
            h.close()
        raise
    try:
        _end_with_the_container(cap, container)
    except BaseException:
        cap.close()
        raise
    return cap


def _end_with_the_container(cap: "Capture", container: Container) -> None:
    """Stop ``cap`` when ``container`` stops; a read error after its stop is then the end, not an error."""
    watch = ContainerWatch(container, cap.stop)
    cap.add_closer(watch.close)  # first: a failed start is cleaned up with the capture
    watch.start()
    cap.judge_read_errors(lambda handle, error: watch.wait_stopped(STOP_NEWS_WAIT_S))


def _check_mode(via: str, capture) -> None:
    """Validate ``via`` and ``capture`` before opening anything."""
    if via not in VIAS:
        raise Pcap4pyError(f"unknown capture mode {via!r}: use one of {', '.join(VIAS)}")
    parse_directions(capture)


def _container_handles(container: Container, via: str, user_filter: Optional[str], capture,
                       live_kwargs: dict, reserve: Callable[[int], int] = lambda n: 0) -> list:
    """The open, labelled handles of ``container`` captured ``via``, numbered from
    ``reserve(number of handles)`` on."""
    plans = {"netns": _plan_netns, "veth": _plan_veth, "bridge": _plan_bridge}[via](container, user_filter, capture)
    if via == "bridge":
        # a bridge device sees frames switched between its ports only in promiscuous mode
        live_kwargs = {**live_kwargs, "promisc": True}
    handles = _open_all(plans, live_kwargs, reserve(len(plans)))
    _label_sources(handles, container, via)
    return handles


def open_containers(
    names: Union[str, Iterable[str], None] = None,
    *,
    labels: Union[str, Iterable[str], dict, None] = None,
    compose_service: Optional[str] = None,
    all: bool = False,
    follow: bool = False,
    via: str = "netns",
    filter: Optional[str] = None,
    capture: Union[str, Iterable[str], None] = CAPTURE_DIRECTIONS,
    count: Optional[int] = None,
    duration: Optional[float] = None,
    report: Optional[Callable[[str], None]] = None,
    **live_kwargs: Any,
) -> "Capture":
    """Capture several containers at once: every interface of each, one source per
    (container, interface), labelled ``NAME/IFACE``, each packet's direction from its own
    container's point of view.

    Containers are selected by ``names`` (names or id prefixes), ``labels`` (``"KEY=VALUE"`` or
    ``"KEY"``, a list of them or a dict: all required), ``compose_service`` (the Compose label
    ``com.docker.compose.service``) or ``all``.  A container that stops leaves the capture, which
    goes on; with ``follow`` containers that start and match join it (and the capture may start
    with none, waiting).  Without ``follow``, no match raises :class:`ContainerNotFound`.
    ``report`` gets one line per container joining or leaving.  Other arguments as for
    :func:`open_container`.  Close the capture (or use ``with``) to stop following.
    """
    import time

    from .docker import docker_client
    from .follow import Follower
    from .selection import Selection, running_matches

    selection = Selection.of(names, labels, compose_service, all)
    _check_mode(via, capture)
    client = docker_client()
    since = time.time()  # events from before the listing: a container starting meanwhile is not missed
    found = running_matches(selection, client)
    if not found and not follow:
        raise ContainerNotFound(f"no running container matches {selection}")
    opened: list = []
    try:
        for c in found:
            first = sum(len(hs) for _, hs in opened)
            opened.append((c, _container_handles(c, via, filter, capture, live_kwargs, lambda n: first)))
        cap = _containers_capture()([h for _, hs in opened for h in hs], count=count, duration=duration,
                                    growing=follow)
    except BaseException:
        for _, hs in opened:
            for h in hs:
                h.close()
        raise
    try:
        follower = Follower(cap, selection, client,
                            lambda c, reserve: _container_handles(c, via, filter, capture, live_kwargs, reserve),
                            follow=follow, report=report)
        for c, hs in opened:
            follower.track(c, hs)
        cap.follower = follower
        follower.start(since)
    except BaseException:
        cap.close()
        raise
    return cap


def _containers_capture() -> type:
    """:class:`Capture` that also stops following Docker events when it closes (made on first use:
    the engine, and with it the JVM's modules, loads lazily)."""
    global _ContainersCapture
    if _ContainersCapture is None:
        from ..engine.capture import Capture

        class ContainersCapture(Capture):
            """A capture of several containers; ``follower`` keeps it in step with Docker."""

            follower = None

            def close(self) -> None:
                if self.follower is not None:
                    self.follower.close()
                super().close()

        _ContainersCapture = ContainersCapture
    return _ContainersCapture


_ContainersCapture: Optional[type] = None


_VIA_WORDS = {"netns": "inside its network namespace", "veth": "on its host-side veth peer",
              "bridge": "on its Docker bridge"}


def _label_sources(handles: list, c: Container, via: str) -> None:
    """Name each handle's source for people (pcapng interface blocks): ``web/eth0``, ``web/veth1a2b``."""
    view = ContainerView.of(c)
    for h in handles:
        h.source = replace(h.source, label=f"{c.name}/{h.name}", view=view,
                           description=f"container {c.name} (id {c.short_id}): {h.name} captured "
                                       f"{_VIA_WORDS[via]} ({via})")


@dataclass(frozen=True)
class _Plan:
    iface: str
    filter: Optional[str]
    netns: Optional[str]


def _plan_netns(c: Container, user: Optional[str], capture) -> list[_Plan]:
    ifaces = [i for i in c.interfaces if i.up]
    if not ifaces:
        raise Pcap4pyError(f"container {c.name} has no interface that is up")
    return [_Plan(i.name, combine_filters(user, direction_filter(i, capture)), c.netns_path) for i in ifaces]


def _plan_veth(c: Container, user: Optional[str], capture) -> list[_Plan]:
    ifaces = [i for i in c.interfaces if i.host_peer]
    if not ifaces:
        raise Pcap4pyError(
            f"container {c.name} has no host-side veth peer (its interfaces: {_describe(c.interfaces)}); "
            f"use --via netns")
    return [_Plan(i.host_peer, combine_filters(user, direction_filter(i, capture)), None) for i in ifaces]


def _describe(interfaces: Iterable[ContainerInterface]) -> str:
    return ", ".join(f"{i.name} ({'loopback' if i.loopback else i.kind or 'device'})" for i in interfaces) or "none"


def _plan_bridge(c: Container, user: Optional[str], capture) -> list[_Plan]:
    plans = []
    for net in c.networks:
        if not net.bridge:
            continue
        iface = next((i for i in c.interfaces if i.name == net.interface), None)
        ips = iface.ips if iface else [norm_ip(ip) for ip in net.ips]
        direction = direction_filter(iface, capture) if iface else None
        plans.append(_Plan(net.bridge, combine_filters(user, _host_filter(ips), direction), None))
    if not plans:
        names = ", ".join(f"{n.name} ({n.driver})" for n in c.networks) or "none"
        raise Pcap4pyError(f"container {c.name} is on no bridge network (networks: {names}); use --via netns")
    return plans


# A container's interfaces get a kernel ring of their own each (mapped, so resident, whole):
# tcpdump's size rather than a lone interface's 32 MiB, so memory grows by a few MiB per
# interface captured, not by 32 (-B / buffer_size sets it as before)
INTERFACE_BUFFER_SIZE = 4 << 20
LOOPBACK_BUFFER_SIZE = 1 << 20


def _open_all(plans: list[_Plan], live_kwargs: dict, first: int = 0) -> list:
    from ..engine.handle import open_live

    handles = []
    try:
        for n, plan in enumerate(plans, first):
            ring = LOOPBACK_BUFFER_SIZE if plan.iface == "lo" else INTERFACE_BUFFER_SIZE
            kwargs = {"buffer_size": ring, **live_kwargs}
            handles.append(open_live(plan.iface, filter=plan.filter, netns=plan.netns, index=n, **kwargs))
    except BaseException:
        for h in handles:
            h.close()
        raise
    return handles
