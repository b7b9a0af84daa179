"""Containers as records: who a container is, its state, and which interfaces and networks it has.

:class:`Container` is a plain record built by :meth:`Container.from_inspect`
from an Engine API inspect record plus what :mod:`.inventory` found; making
one does no I/O.  :class:`ContainerState` is the one reading of an inspect
record's ``State``.  The lookups are in :mod:`.lookup` (through a runtime's
backend, :mod:`.runtimes`); nothing here talks to a runtime or opens a capture.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Optional

from ..errors import InterfaceNotFound
from ..netns import netns_path
from .inventory import norm_ip

__all__ = ["Address", "ContainerInterface", "ContainerNetwork", "ContainerState", "Container"]


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Address:
    """An address on an interface, with its prefix length."""

    address: str
    prefixlen: int

    def __str__(self) -> str:
        return f"{self.address}/{self.prefixlen}"


@dataclass(frozen=True)
class ContainerInterface:
    """A network interface inside the container's namespace.

    ``iflink`` is the kernel's ``IFLA_LINK``: for a veth, the ifindex of its peer
    in the other namespace.  ``host_peer`` is that peer's name in the host
    namespace when it is a veth pointing back at this interface (``None`` for
    loopback, macvlan and anything else), ``host_bridge`` the bridge it is
    enslaved to.
    """

    name: str
    index: int
    mac: Optional[str]
    addresses: tuple[Address, ...]
    kind: Optional[str]
    up: bool
    loopback: bool
    iflink: Optional[int] = None
    host_peer: Optional[str] = None
    host_peer_index: Optional[int] = None
    host_bridge: Optional[str] = None

    @classmethod
    def from_inventory(cls, link: dict) -> "ContainerInterface":
        """From one entry of :func:`pcap4py.container.inventory.interfaces`."""
        return cls(**{**link, "addresses": tuple(Address(ip, plen) for ip, plen in link["addresses"])})

    @property
    def ips(self) -> list[str]:
        return [a.address for a in self.addresses]


@dataclass(frozen=True)
class ContainerNetwork:
    """One entry of ``NetworkSettings.Networks``: the container on one network of its runtime.

    ``interface`` is the container interface that carries this network (matched
    by MAC); ``bridge`` the Linux bridge its host-side veth is enslaved to, as
    netlink says (whatever the runtime calls it: ``docker0``, ``br-<id>``,
    ``podman1``...), ``None`` when there is none.
    """

    name: str
    id: str
    driver: Optional[str]
    bridge: Optional[str]
    ip: Optional[str]
    prefixlen: Optional[int]
    ipv6: Optional[str]
    ipv6_prefixlen: Optional[int]
    mac: Optional[str]
    gateway: Optional[str]
    interface: Optional[str] = None

    @classmethod
    def from_endpoint(cls, name: str, endpoint: dict, network: dict) -> "ContainerNetwork":
        """From a container's endpoint on network ``name`` and that network's inspect record."""
        ip, ipv6 = endpoint.get("IPAddress") or None, endpoint.get("GlobalIPv6Address") or None
        return cls(
            name=name,
            id=network.get("Id") or endpoint.get("NetworkID") or "",
            driver=network.get("Driver"),
            bridge=None,  # filled from netlink by Container.from_inspect
            ip=ip,
            prefixlen=endpoint.get("IPPrefixLen") if ip else None,
            ipv6=ipv6,
            ipv6_prefixlen=endpoint.get("GlobalIPv6PrefixLen") if ipv6 else None,
            mac=(endpoint.get("MacAddress") or "").lower() or None,
            gateway=endpoint.get("Gateway") or None,
        )

    @property
    def ips(self) -> list[str]:
        return [ip for ip in (self.ip, self.ipv6) if ip]


@dataclass(frozen=True)
class ContainerState:
    """The one reading of an inspect record's ``State``: ``status`` (``running``, ``exited``...),
    ``running`` (it runs and has a process, so a network namespace), ``pid``, ``exit_code``."""

    status: str
    running: bool
    pid: Optional[int]
    exit_code: Optional[int]

    @classmethod
    def of(cls, attrs: dict) -> "ContainerState":
        """The state in inspect record ``attrs``."""
        state = attrs.get("State") or {}
        pid = state.get("Pid") or None
        code = state.get("ExitCode")
        return cls(status=state.get("Status", "unknown"), running=bool(state.get("Running")) and pid is not None,
                   pid=pid, exit_code=code if isinstance(code, int) else None)

    def still(self, pid: Optional[int]) -> bool:
        """Whether the container still runs the process ``pid`` (a restart means a new namespace)."""
        return self.running and self.pid == pid


@dataclass(frozen=True)
class Container:
    """A container, resolved for capture: a record, built by :meth:`from_inspect`.

    :func:`pcap4py.get_container` looks a running one up.  Attributes: ``id``,
    ``short_id``, ``name``, ``image``, ``state``, ``pid``, ``netns_path``,
    ``network_mode``, ``host_network``, ``interfaces`` (inside its namespace),
    ``networks`` (every network of its runtime it is on), ``runtime`` (the
    backend that found it: ``docker``, ``podman``), ``pod`` (its pod, if any);
    ``attrs`` is the inspect record.
    """

    id: str
    name: str
    image: str
    state: str
    pid: Optional[int]
    network_mode: str
    netns_path: Optional[str]
    host_network: bool = False  # shares the host's (our) network namespace
    interfaces: tuple[ContainerInterface, ...] = ()
    networks: tuple[ContainerNetwork, ...] = ()
    runtime: str = "docker"
    pod: Optional[str] = None
    endpoint: Optional[str] = None  # the socket of the runtime that found it (rootless Podman: the user's)
    attrs: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_inspect(cls, attrs: dict, *, interfaces: tuple[ContainerInterface, ...] = (),
                     networks: tuple[ContainerNetwork, ...] = (), host_network: bool = False,
                     runtime: str = "docker", pod: Optional[str] = None,
                     endpoint: Optional[str] = None) -> "Container":
        """The record of inspect record ``attrs`` with the interfaces and networks found for it.

        Each network's ``interface`` is filled in by matching MACs, and its ``bridge``
        from that interface's host-side master (netlink).
        """
        state = ContainerState.of(attrs)
        pid = state.pid
        by_mac = {i.mac: i for i in interfaces if i.mac}
        return cls(
            id=attrs["Id"],
            name=attrs.get("Name", "").lstrip("/"),
            image=(attrs.get("Config") or {}).get("Image", ""),
            state=state.status,
            pid=pid,
            network_mode=(attrs.get("HostConfig") or {}).get("NetworkMode", ""),
            netns_path=netns_path(pid) if pid else None,
            host_network=host_network,
            interfaces=tuple(interfaces),
            networks=tuple(_on_interface(n, by_mac.get(n.mac)) for n in networks),
            runtime=runtime,
            pod=pod,
            endpoint=endpoint,
            attrs=attrs,
        )

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def running(self) -> bool:
        """Whether it was running (with a process) when looked up."""
        return ContainerState.of(self.attrs).running

    @property
    def title(self) -> str:
        """Who it is, for people: ``docker container web``."""
        return f"{self.runtime} container {self.name}"

    def interface(self, name: str) -> ContainerInterface:
        """The interface called ``name`` inside the container."""
        for iface in self.interfaces:
            if iface.name == name:
                return iface
        names = ", ".join(i.name for i in self.interfaces)
        raise InterfaceNotFound(f"container {self.name} has no interface {name!r} (it has: {names})")

    @property
    def macs(self) -> frozenset:
        """The MAC addresses of its interfaces (loopback has none)."""
        return frozenset(i.mac for i in self.interfaces if i.mac)

    @property
    def ips(self) -> frozenset:
        """Every address on its interfaces (loopback's included) and on its Docker networks."""
        ips = {a.address for i in self.interfaces for a in i.addresses}
        ips.update(norm_ip(ip) for n in self.networks for ip in n.ips)
        return frozenset(ips)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "id": self.id,
            "name": self.name,
            "image": self.image,
            "state": self.state,
            "pid": self.pid,
            "netns": self.netns_path,
            "network_mode": self.network_mode,
            "host_network": self.host_network,
            "runtime": self.runtime,
            "pod": self.pod,
            "endpoint": self.endpoint,
            "interfaces": [
                {**asdict(i), "addresses": [str(a) for a in i.addresses]} for i in self.interfaces
            ],
            "networks": [asdict(n) for n in self.networks],
        }

    def __repr__(self) -> str:
        return f"<Container {self.runtime} {self.name} {self.short_id} {self.state} pid={self.pid}>"


def _on_interface(net: ContainerNetwork, iface: Optional[ContainerInterface]) -> ContainerNetwork:
    """``net`` with the interface that carries it and that interface's bridge (netlink's word)."""
    if iface is None:
        return net
    return replace(net, interface=iface.name, bridge=iface.host_bridge)
