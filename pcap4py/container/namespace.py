"""What a capture plan takes: one network namespace, resolved, whoever runs in it.

A :class:`Namespace` is a plain record: where the namespace is, its interfaces (from netlink), the
addresses its runtime reported, and who is in it, for people: one container, the containers that
share it (a pod, ``--network container:X``), or nobody known (``--pid``, ``--netns``).  Plans
(:mod:`.plans`) never ask which runtime a namespace came from.  :func:`by_namespace` groups
containers so that a namespace shared by several is captured once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Union

from ..errors import Pcap4pyError
from ..netns import netns_key, netns_path, resolve_netns
from . import inventory
from .inventory import norm_ip
from .model import Container, ContainerInterface

__all__ = ["Namespace", "by_namespace", "namespace_key"]


@dataclass(frozen=True)
class Namespace:
    """A network namespace to capture: ``name`` prefixes its interfaces' labels (``web/eth0``),
    ``who`` names it in messages, ``about`` in interface descriptions; ``members`` are the
    containers in it (none for a bare namespace)."""

    name: str
    who: str
    about: str
    path: str
    interfaces: tuple[ContainerInterface, ...]
    reported_ips: frozenset = frozenset()  # what the runtime says besides netlink
    members: tuple[Container, ...] = ()

    @classmethod
    def of(cls, c: Container) -> "Namespace":
        """The namespace of one container."""
        ips = frozenset(norm_ip(ip) for n in c.networks for ip in n.ips)
        kind = "pod" if c.pod and c.pod == c.name else "container"  # a CRI pod is one record
        return cls(c.name, f"{kind} {c.name}", f"{c.runtime} {kind} {c.name} (id {c.short_id})",
                   c.netns_path or "", c.interfaces, ips, (c,))

    @classmethod
    def shared(cls, members: Iterable[Container]) -> "Namespace":
        """The one namespace several containers share, named by their pod, else by their names
        (the namespace's owner first: the one that did not join another's)."""
        members = sorted(members, key=lambda c: (c.network_mode.startswith("container:"), c.name))
        if len(members) == 1:
            return cls.of(members[0])
        first = members[0]
        names = ", ".join(c.name for c in members)
        pods = {c.pod for c in members}
        if len(pods) == 1 and first.pod:
            name, who = first.pod, f"pod {first.pod}"
            about = f"{first.runtime} pod {first.pod} (containers {names})"
        else:
            name = "+".join(c.name for c in members)
            who = f"containers {names}"
            about = f"{'/'.join(sorted({c.runtime for c in members}))} containers {names}, sharing one network namespace"
        ips = frozenset(ip for c in members for ip in cls.of(c).reported_ips)
        return cls(name, who, about, first.netns_path or "", first.interfaces, ips, tuple(members))

    @classmethod
    def at(cls, ref: Union[str, int], *, pid: bool = False) -> "Namespace":
        """A bare namespace: process ``ref``'s (``pid``), else a path or a name under /run/netns."""
        if pid and not str(ref).isdigit():
            raise Pcap4pyError(f"bad PID {ref!r}: give a process id")
        path = netns_path(int(ref)) if pid else netns_path(str(ref))
        resolve_netns(int(ref) if pid else str(ref))  # a clear error for a missing process, name or file
        if inventory.is_own_namespace(path):
            raise Pcap4pyError(f"{path} is this process's own network namespace: capture its interfaces by name")
        name = f"pid{int(ref)}" if pid else os.path.basename(str(ref).rstrip(os.sep)) or str(ref)
        who = f"process {int(ref)}'s network namespace" if pid else f"network namespace {ref}"
        interfaces = tuple(ContainerInterface.from_inventory(i) for i in inventory.interfaces(path))
        return cls(name, who, who, path, interfaces)

    @property
    def macs(self) -> frozenset:
        """The MAC addresses of its interfaces (loopback has none)."""
        return frozenset(i.mac for i in self.interfaces if i.mac)

    @property
    def ips(self) -> frozenset:
        """Every address on its interfaces and those its runtime reported."""
        return frozenset({a.address for i in self.interfaces for a in i.addresses} | self.reported_ips)


def namespace_key(c: Container) -> object:
    """What is equal for containers in one network namespace (its device and inode)."""
    try:
        return netns_key(c.netns_path)
    except (OSError, TypeError):
        return ("path", c.netns_path or c.id)  # gone meanwhile: its own key, entering it will say why


def by_namespace(containers: Iterable[Container]) -> list[Namespace]:
    """One :class:`Namespace` per network namespace among ``containers``, in their order."""
    groups: dict[object, list[Container]] = {}
    for c in containers:
        groups.setdefault(namespace_key(c), []).append(c)
    return [Namespace.shared(members) for members in groups.values()]


