"""Containers as plumbing targets: the network namespace of a container, and Docker networks on mirror bridges.

The plumbing (:mod:`pcap4py.plumbing`) works on namespaces and bridges and
knows nothing of Docker; this module is where a container name becomes a
namespace, and where ``--docker-network`` becomes a
:class:`~pcap4py.container.docker.DockerBridgeNetworks`.  The CLI and
``pcap4py.attach``/``detach``/``mirror_build``/``mirror_teardown`` use it.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Iterator, Optional, Union

from ..errors import (ContainerNotFound, ContainerNotRunning, DockerUnavailable, HostNetworkContainer, NotFound,
                      Pcap4pyError)
from ..netns import netns_path, pinned
from ..plumbing import detach as detach_mod
from ..plumbing import macvlan, mirror
from ..plumbing.address import AddressSpec
from ..plumbing.detach import Detachment
from ..plumbing.macvlan import Attachment
from . import persist as persist_mod
from .docker import DockerBridgeNetworks
from .lookup import get_container
from .model import Container

__all__ = ["namespace_of", "attach", "keep_lease", "restore", "detach", "mirror_build", "mirror_teardown"]

Target = Union[str, int]


def _is_namespace_ref(target: Target) -> bool:
    """A PID, a path, or a name under /run/netns (which wins over a container of the same name)."""
    if isinstance(target, bool) or not isinstance(target, (str, int)) or target == "":
        raise NotFound(f"bad attach target {target!r}: give a container, a PID or a namespace")
    return isinstance(target, int) or target.isdigit() or os.sep in target or os.path.lexists(netns_path(target))


def _container(target: str) -> Container:
    try:
        return get_container(target)
    except DockerUnavailable as e:
        # most likely a mistyped namespace name: say both places we looked
        raise ContainerNotFound(f"no network namespace /run/netns/{target}, and no container: {e}") from e


def namespace_of(target: Target) -> Target:
    """The namespace reference of an attach target: a PID, a name under /run/netns, a namespace
    path, or else a container name or id, resolved to its ``/proc/PID/ns/net``.

    A name under ``/run/netns`` wins over a container of the same name.  Raises
    :class:`ContainerNotFound`, :class:`ContainerNotRunning` or
    :class:`HostNetworkContainer` for a container that cannot be a target.
    """
    return target if _is_namespace_ref(target) else _container(target).netns_path


@dataclass(frozen=True)
class _Target:
    """An attach target resolved once: what to hand to the plumbing, and the container if it is one."""

    ref: Target  # the namespace reference, or for a container its pinned namespace path
    container: Optional[Container] = None

    def shown(self, result):
        """``result`` with the container's namespace path reported instead of the pinned one."""
        return replace(result, netns=self.container.netns_path) if self.container else result


@contextmanager
def _pinned(target: Target) -> Iterator[_Target]:
    """The target, resolved once, its namespace held open while the body runs.

    A container's namespace is opened, then the container is looked up again:
    if the same process still runs it, the open namespace is the container's,
    whatever happens to its PID afterwards.
    """
    if _is_namespace_ref(target):
        yield _Target(target)
        return
    first = _container(target)
    with pinned(first.netns_path) as path:
        if _container(target).pid != first.pid:
            raise ContainerNotRunning(f"container {first.name} restarted while being attached; try again")
        yield _Target(path, first)


def attach(host_iface: str, target: Target, address: Union[str, AddressSpec], *, persist: bool = False,
           **options) -> Attachment:
    """:func:`pcap4py.plumbing.macvlan.attach`, with a container name or id accepted as ``target``
    (and ``mac="U:"`` derived from the name as given).  ``persist`` (containers only) also records
    the request, so that :func:`restore` re-applies it after a restart."""
    options.setdefault("mac_seed", str(target))
    with _pinned(target) as resolved:
        if persist and resolved.container is None:
            raise NotFound(f"--persist is for a container (its id keys the record), not {target}")
        att = macvlan.attach(host_iface, resolved.ref, address, **options)
    if persist:
        extra = {k: options[k] for k in persist_mod.PERSISTED_OPTIONS if options.get(k) not in (None, False)}
        persist_mod.remember(resolved.container.id,
                             persist_mod.Request(host_iface, str(address), att.name, {**extra, "mac": att.mac}))
    return resolved.shown(att)


def keep_lease(target: Target, attachment: Attachment, stop: threading.Event) -> None:
    """Renew the DHCP lease of ``attachment`` (made by :func:`attach` with ``dhcp``) until ``stop`` is set;
    each renewal is recorded on the interface."""
    with _pinned(target) as resolved:
        macvlan.keep_lease(resolved.ref, attachment.name, stop)


def detach(target: Target, name: str = "eth1") -> Detachment:
    """:func:`pcap4py.plumbing.detach.detach`, with a container name or id accepted as ``target``;
    a container's persisted attach of ``name`` is forgotten (detached on purpose: not to be restored)."""
    with _pinned(target) as resolved:
        det = detach_mod.detach(resolved.ref, name)
    if resolved.container is not None:
        persist_mod.forget(resolved.container.id, name)
    return resolved.shown(det)


def _restore_one(container_id: str) -> persist_mod.Restored:
    short = container_id[:12]
    requests, problems = persist_mod.read_requests(container_id)
    bad = [f"pcap4py: skipped {p}" for p in problems]
    try:
        box = get_container(container_id)  # not _container: Docker unreachable must not read as "removed"
    except ContainerNotFound as e:
        persist_mod.forget_all(container_id)  # removed: its records can never apply again
        return persist_mod.Restored(short, [f"forgot the attachments of {short}: {e}"])
    except (ContainerNotRunning, HostNetworkContainer) as e:
        return persist_mod.Restored(short, [*bad, f"skipped {short}: {e}"], failed=len(bad))
    done = persist_mod.Restored(box.name, bad, failed=len(bad))
    for req in requests:
        try:
            done.lines.append(str(attach(req.host_iface, container_id, req.address, name=req.name, **req.options)))
        except Pcap4pyError as e:
            done.failed += 1
            done.lines.append(f"pcap4py: restoring {req.name} of {box.name} failed: {e}")
    return done


def restore(container: Optional[str] = None) -> list[persist_mod.Restored]:
    """Re-apply the persisted attachments (``attach(..., persist=True)``) of ``container`` (name or
    id), or of every container that has some, e.g. after a restart.  A container that is not running
    is skipped; the records of one that no longer exists are forgotten; an entry that is not an
    attach record is reported (``failed``) and the others still restored.  Idempotent: what is still
    attached is left as it is."""
    if container is None:
        return [_restore_one(cid) for cid in persist_mod.persisted_ids()]
    return [_restore_one(_container(container).id)]


def mirror_build(src_iface: str, bridge: str, docker_network: Optional[str] = None) -> mirror.Mirror:
    """:func:`pcap4py.plumbing.mirror.mirror_build`; ``docker_network`` is an internal Docker network
    made on the bridge (if missing) for unprivileged sniffing containers."""
    return mirror.mirror_build(src_iface, bridge, network=docker_network, networks=DockerBridgeNetworks())


def mirror_teardown(src_iface: str, bridge: str) -> mirror.MirrorTeardown:
    """:func:`pcap4py.plumbing.mirror.mirror_teardown`, removing the Docker network build made."""
    return mirror.mirror_teardown(src_iface, bridge, networks=DockerBridgeNetworks())
