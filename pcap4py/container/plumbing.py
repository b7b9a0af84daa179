"""Containers as plumbing targets: the network namespace of a container, and Docker networks on mirror bridges.

The plumbing (:mod:`pcap4py.plumbing`) works on namespaces and bridges and
knows nothing of Docker; this module is where a container name becomes a
namespace, and where ``--docker-network`` becomes a
:class:`~pcap4py.container.docker.DockerBridgeNetworks`.  The CLI and
``pcap4py.attach``/``detach``/``mirror_build``/``mirror_teardown`` use it.
"""

from __future__ import annotations

import os
from typing import Optional, Union

from ..errors import ContainerNotFound, DockerUnavailable, NotFound
from ..netns import netns_path
from ..plumbing import macvlan, mirror
from .docker import DockerBridgeNetworks
from .model import get_container

__all__ = ["namespace_of", "attach", "detach", "mirror_build", "mirror_teardown"]

Target = Union[str, int]


def namespace_of(target: Target) -> Target:
    """The namespace reference of an attach target: a PID, a name under /run/netns, a namespace
    path, or else a container name or id, resolved to its ``/proc/PID/ns/net``.

    A name under ``/run/netns`` wins over a container of the same name.  Raises
    :class:`ContainerNotFound`, :class:`ContainerNotRunning` or
    :class:`HostNetworkContainer` for a container that cannot be a target.
    """
    if isinstance(target, bool) or not isinstance(target, (str, int)) or target == "":
        raise NotFound(f"bad attach target {target!r}: give a container, a PID or a namespace")
    if isinstance(target, int) or target.isdigit() or os.sep in target:
        return target
    if os.path.lexists(netns_path(target)):
        return target
    try:
        return get_container(target).netns_path
    except DockerUnavailable as e:
        # most likely a mistyped namespace name: say both places we looked
        raise ContainerNotFound(f"no network namespace /run/netns/{target}, and no container: {e}") from e


def attach(host_iface: str, target: Target, address: Union[str, macvlan.AddressSpec], **options) -> macvlan.Attachment:
    """:func:`pcap4py.plumbing.macvlan.attach`, with a container name or id accepted as ``target``."""
    return macvlan.attach(host_iface, namespace_of(target), address, **options)


def detach(target: Target, name: str = "eth1") -> macvlan.Detachment:
    """:func:`pcap4py.plumbing.macvlan.detach`, with a container name or id accepted as ``target``."""
    return macvlan.detach(namespace_of(target), name)


def mirror_build(src_iface: str, bridge: str, docker_network: Optional[str] = None) -> mirror.Mirror:
    """:func:`pcap4py.plumbing.mirror.mirror_build`; ``docker_network`` is an internal Docker network
    made on the bridge (if missing) for unprivileged sniffing containers."""
    return mirror.mirror_build(src_iface, bridge, network=docker_network, networks=DockerBridgeNetworks())


def mirror_teardown(src_iface: str, bridge: str) -> mirror.MirrorTeardown:
    """:func:`pcap4py.plumbing.mirror.mirror_teardown`, removing the Docker network build made."""
    return mirror.mirror_teardown(src_iface, bridge, networks=DockerBridgeNetworks())
