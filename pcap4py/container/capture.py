"""Capturing containers and namespaces: a container's point of view, and the captures themselves.

:func:`open_container` captures one container, :func:`open_containers` several (a namespace they
share captured once), :func:`open_namespace` any network namespace (``--pid``, ``--netns``).
Where to listen (``via`` ``netns``, ``veth`` or ``bridge``) and which directions are the plans
of :mod:`.plans`, made from a resolved :class:`~.namespace.Namespace` whatever its runtime.

The capture of a container ends when it stops (:mod:`.watch`): cleanly, with its ``stop_reason``
saying so, whichever the mode.

This module uses the engine (:mod:`pcap4py.engine`) and discovery (:mod:`.lookup`); neither
imports it.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional, Union

from ..engine.listener import Listener, SourceGone
from ..engine.pov import PointOfView
from ..errors import ContainerNotFound, Pcap4pyError
from ..userns import join_owner
from .follow import Follower
from .lookup import find, reachable, runtime_of
from .model import Container
from .namespace import Namespace, by_namespace
from .plans import CAPTURE_DIRECTIONS, VIA_WORDS, VIAS, combine_filters, direction_filter, parse_directions, plan
from .runtimes import chosen
from .selection import Selection, compose_projects, running_matches
from .watch import ContainerWatch, ProcessWatch

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..engine.capture import Capture

__all__ = ["ContainerView", "open_container", "open_containers", "open_namespace", "direction_filter",
           "parse_directions", "combine_filters", "VIAS", "CAPTURE_DIRECTIONS"]

# how long a read error waits for the news that the container stopped (the runtime sends its stop
# event before it tears the network down, so the news is normally there already); a real error waits this long
STOP_NEWS_WAIT_S = 5.0


# --------------------------------------------------------------------------- point of view


class ContainerView(PointOfView):
    """A container's point of view (its MACs and IPs), handed to :class:`pcap4py.Capture` as
    ``local``: every packet's direction is then ``'out'`` (sent by the container) or ``'in'``,
    by the one rule of :mod:`pcap4py.engine.pov`.  On the container's loopback every packet is
    both sent and received by it; the rule tags those ``'out'``."""

    @classmethod
    def of(cls, who: Union[Container, Namespace]) -> "ContainerView":
        """The view of a container or a namespace: its MACs and IPs."""
        return cls(who.macs, who.ips)


# --------------------------------------------------------------------------- capture


def open_container(
    container: Union[Container, str],
    *,
    via: str = "netns",
    filter: Optional[str] = None,
    capture: Union[str, Iterable[str], None] = CAPTURE_DIRECTIONS,
    count: Optional[int] = None,
    duration: Optional[float] = None,
    runtime: Optional[str] = None,
    **live_kwargs: Any,
) -> "Capture":
    """Open a capture of a container's traffic and return a :class:`pcap4py.Capture`.

    ``container`` is a :class:`Container` or a name/id prefix (looked up in ``runtime``, by
    default every runtime present).  ``via`` picks where to listen: ``'netns'`` (every interface
    that is up inside the container's namespace, loopback included), ``'veth'`` (the host-side
    veth peers) or ``'bridge'`` (the bridges of those peers with ``host <container IP>``).
    ``filter`` is the user's BPF expression, ANDed with the direction part that ``capture``
    (``'egress'``, ``'ingress'`` or both, a list or a comma string) asks for.
    ``count``/``duration`` bound the capture; other keyword arguments go to
    :func:`pcap4py.open_live` for each handle.  Every packet's ``direction`` is set from the
    container's point of view.

    When the container stops, the capture ends as if stopped, its ``stop_reason``
    saying ``container NAME stopped (exit code N)``; a read error of an interface
    that vanished with it ends the capture the same way instead of raising.
    """
    _check_mode(via, capture)
    rt, container = find(container, runtime) if isinstance(container, str) else (runtime_of(container), container)
    with ExitStack() as undo:
        undo.callback(rt.close)
        cap = _open_namespace(Namespace.of(container), via, filter, capture, count, duration, live_kwargs)
        undo.callback(cap.close)
        _end_with_the_container(cap, container, rt)
        undo.pop_all()
    return cap


def open_namespace(
    ref: Union[str, int],
    *,
    pid: bool = False,
    via: str = "netns",
    filter: Optional[str] = None,
    capture: Union[str, Iterable[str], None] = CAPTURE_DIRECTIONS,
    count: Optional[int] = None,
    duration: Optional[float] = None,
    **live_kwargs: Any,
) -> "Capture":
    """Capture every interface of a network namespace, as :func:`open_container` does a container's:
    process ``ref``'s namespace with ``pid``, else ``ref`` is a namespace file or a name under
    ``/run/netns``.  Sources are labelled ``pid1234/eth0`` or ``NAME/eth0``.  With ``pid``, the
    capture ends cleanly when the process has exited and its interfaces vanish."""
    _check_mode(via, capture)
    ns = Namespace.at(ref, pid=pid)
    cap = _open_namespace(ns, via, filter, capture, count, duration, live_kwargs)
    if pid:
        with ExitStack() as undo:
            undo.callback(cap.close)
            # our sockets keep the namespace (and its interfaces) alive: watch the process itself
            watch = ProcessWatch(int(ref), cap.stop)
            cap.listen(Listener(read_failed=lambda handle, error: None if os.path.exists(f"/proc/{int(ref)}")
                                else SourceGone(f"process {int(ref)} exited"), closing=watch.close))
            watch.start()
            undo.pop_all()
    return cap


def _open_namespace(ns: Namespace, via: str, user_filter: Optional[str], capture, count, duration,
                    live_kwargs: dict) -> "Capture":
    from ..engine.capture import Capture

    handles = _namespace_handles(ns, via, user_filter, capture, live_kwargs)
    with ExitStack() as undo:
        for h in handles:
            undo.callback(h.close)
        cap = Capture(handles, count=count, duration=duration, local=ContainerView.of(ns))
        undo.pop_all()
    return cap


def _end_with_the_container(cap: "Capture", container: Container, runtime: Any) -> None:
    """Stop ``cap`` when ``container`` stops; a read error after its stop is then the end, not an error."""
    watch = ContainerWatch(container, cap.stop, runtime)

    def read_failed(handle, error) -> Optional[SourceGone]:
        reason = watch.wait_stopped(STOP_NEWS_WAIT_S)
        return None if reason is None else SourceGone(reason)

    # listening first: a failed start is cleaned up with the capture
    cap.listen(Listener(read_failed=read_failed, closing=watch.close))
    cap.listen(Listener(closing=runtime.close))
    watch.start()


def _check_mode(via: str, capture) -> None:
    """Validate ``via`` and ``capture`` before opening anything."""
    if via not in VIAS:
        raise Pcap4pyError(f"unknown capture mode {via!r}: use one of {', '.join(VIAS)}")
    parse_directions(capture)


def _namespace_handles(ns: Namespace, via: str, user_filter: Optional[str], capture,
                       live_kwargs: dict, reserve: Callable[[int], int] = lambda n: 0) -> list:
    """The open, labelled handles of namespace ``ns`` captured ``via``, numbered from
    ``reserve(number of handles)`` on."""
    plans = plan(ns, via, user_filter, capture)
    if ns.path:
        join_owner(ns.path)  # a rootless container's owner, without root: this process moves in (before the JVM)
    if via == "bridge":
        # a bridge device sees frames switched between its ports only in promiscuous mode
        live_kwargs = {**live_kwargs, "promisc": True}
    handles = _open_all(plans, live_kwargs, reserve(len(plans)))
    view = ContainerView.of(ns)
    for h in handles:  # named for people (pcapng interface blocks, text lines): web/eth0, web/veth1a2b
        h.source = replace(h.source, label=f"{ns.name}/{h.name}", view=view,
                           description=f"{ns.about}: {h.name} captured {VIA_WORDS[via]} ({via})")
    return handles


def open_containers(
    names: Union[str, Iterable[str], None] = None,
    *,
    labels: Union[str, Iterable[str], dict, None] = None,
    compose_service: Optional[str] = None,
    compose_project: Optional[str] = None,
    pods: Union[str, Iterable[str], None] = None,
    all: bool = False,
    follow: bool = False,
    runtime: Optional[str] = None,
    via: str = "netns",
    filter: Optional[str] = None,
    capture: Union[str, Iterable[str], None] = CAPTURE_DIRECTIONS,
    count: Optional[int] = None,
    duration: Optional[float] = None,
    report: Optional[Callable[[str], None]] = None,
    **live_kwargs: Any,
) -> "Capture":
    """Capture several containers at once: every interface of each network namespace, one source
    per (namespace, interface), labelled ``NAME/IFACE``, each packet's direction from its own
    namespace's point of view.  Containers sharing a namespace (a pod, ``--network container:X``)
    are captured once, named by their pod or by all their names (``a+b/eth0``).

    Containers are selected by ``names`` (names or id prefixes), ``labels`` (``"KEY=VALUE"`` or
    ``"KEY"``, a list of them or a dict: all required), ``compose_service`` / ``compose_project``
    (the Compose labels), ``pods`` (pod names) or ``all``, in ``runtime`` (by default every
    runtime present).  A container that stops leaves the capture, which goes on; with ``follow``
    containers that start and match join it (and the capture may start with none, waiting).
    Without ``follow``, no match raises :class:`ContainerNotFound`.  ``report`` gets one line per
    container joining or leaving, and a warning when a Compose service spans several projects.
    Other arguments as for :func:`open_container`.  Close the capture (or use ``with``) to stop following.
    """
    selection = Selection.of(names, labels, compose_service, all, pods, compose_project)
    _check_mode(via, capture)
    report = report or (lambda line: None)
    runtimes = reachable(chosen(runtime), report)
    since = time.time()  # events from before the listing: a container starting meanwhile is not missed
    found = running_matches(selection, runtimes)
    if not found and not follow:
        raise ContainerNotFound(f"no running container matches {selection}")
    projects = compose_projects(c for _, c in found) if selection.compose_service and not selection.compose_project else []
    if len(projects) > 1:
        report(f"warning: Compose service {selection.compose_service} is in {len(projects)} projects "
               f"({', '.join(projects)}): capturing all of them (choose one with --compose-project)")
    from ..engine.capture import Capture

    opened: list = []
    with ExitStack() as undo:  # closed again on failure (closing twice is harmless)
        for rt in runtimes:
            undo.callback(rt.close)
        for ns in _unique_names(by_namespace(c for _, c in found)):
            first = sum(len(hs) for _, hs in opened)
            opened.append((ns, _namespace_handles(ns, via, filter, capture, live_kwargs, lambda n: first)))
            for h in opened[-1][1]:
                undo.callback(h.close)
        cap = Capture([h for _, hs in opened for h in hs], count=count, duration=duration, growing=follow)
        undo.callback(cap.close)
        follower = Follower(cap, selection, runtimes,  # it listens to the capture: closed with it
                            lambda ns, reserve: _namespace_handles(ns, via, filter, capture, live_kwargs, reserve),
                            follow=follow, report=report)
        for ns, hs in opened:
            follower.track(ns, hs)
        cap.follower = follower  # (for inspection: the containers captured now)
        follower.start(since)
        undo.pop_all()
    return cap


def _unique_names(namespaces: list[Namespace]) -> list[Namespace]:
    """Namespaces of two runtimes with one name (a Docker and a Podman ``web``) get the runtime
    in front of it (``podman:web/eth0``): interface names stay unique in the capture."""
    seen = Counter(ns.name for ns in namespaces)
    return [replace(ns, name=f"{ns.members[0].runtime}:{ns.name}") if seen[ns.name] > 1 and ns.members else ns
            for ns in namespaces]


# A container's interfaces get a kernel ring of their own each (mapped, so resident, whole):
# tcpdump's size rather than a lone interface's 32 MiB, so memory grows by a few MiB per
# interface captured, not by 32 (-B / buffer_size sets it as before)
INTERFACE_BUFFER_SIZE = 4 << 20
LOOPBACK_BUFFER_SIZE = 1 << 20


def _open_all(plans: list, live_kwargs: dict, first: int = 0) -> list:
    from ..engine.handle import open_live

    handles = []
    with ExitStack() as undo:
        for n, p in enumerate(plans, first):
            ring = LOOPBACK_BUFFER_SIZE if p.iface == "lo" else INTERFACE_BUFFER_SIZE
            kwargs = {"buffer_size": ring, **live_kwargs}
            handles.append(open_live(p.iface, filter=p.filter, netns=p.netns, index=n, **kwargs))
            undo.callback(handles[-1].close)
        undo.pop_all()
    return handles
