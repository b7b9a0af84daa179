"""Docker containers as records: who a container is and which interfaces and networks it has.

:class:`Container` is a plain record built by :meth:`Container.from_inspect`
from an inspect record plus what :mod:`.inventory` and :mod:`.docker` found;
making one does no I/O.  :func:`get_container` (also :meth:`Container.get`)
looks a running container up by name or id prefix, :func:`containers` lists
them.  The lookups talk to the Docker Engine API (:mod:`.docker`) and the
kernel (:mod:`.inventory`); nothing here opens a capture (:mod:`.capture`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Optional

from ..errors import (ContainerNotFound, ContainerNotRunning, HostNetworkContainer, InterfaceNotFound, NetlinkError,
                      NotFound)
from ..netns import netns_path
from . import docker as discovery
from . import inventory
from .inventory import norm_ip

if TYPE_CHECKING:  # pragma: no cover - typing only
    import docker

__all__ = ["Address", "ContainerInterface", "ContainerNetwork", "Container", "get_container", "containers",
           "resolve_listed"]


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
    """One entry of ``NetworkSettings.Networks``: the container on one Docker network.

    ``bridge`` is the network's Linux bridge (see
    :func:`pcap4py.container.docker.bridge_of`), ``None`` for drivers without
    one.  ``interface`` is the container interface that carries this network
    (matched by MAC).
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
            bridge=discovery.bridge_of(network),
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
class Container:
    """A Docker container, resolved for capture: a record, built by :meth:`from_inspect`.

    ``Container.get("web")`` (or :func:`get_container`) looks a running one up.
    Attributes: ``id``, ``short_id``, ``name``, ``image``, ``state``, ``pid``,
    ``netns_path``, ``network_mode``, ``host_network``, ``interfaces`` (inside
    its namespace) and ``networks`` (every Docker network it is on); ``attrs``
    is the inspect record.
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
    attrs: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_inspect(cls, attrs: dict, *, interfaces: tuple[ContainerInterface, ...] = (),
                     networks: tuple[ContainerNetwork, ...] = (), host_network: bool = False) -> "Container":
        """The record of inspect record ``attrs`` with the interfaces and networks found for it.

        Each network's ``interface`` is filled in by matching MACs.
        """
        state = attrs.get("State") or {}
        pid = state.get("Pid") or None
        by_mac = {i.mac: i.name for i in interfaces if i.mac}
        return cls(
            id=attrs["Id"],
            name=attrs.get("Name", "").lstrip("/"),
            image=(attrs.get("Config") or {}).get("Image", ""),
            state=state.get("Status", "unknown"),
            pid=pid,
            network_mode=(attrs.get("HostConfig") or {}).get("NetworkMode", ""),
            netns_path=netns_path(pid) if pid else None,
            host_network=host_network,
            interfaces=tuple(interfaces),
            networks=tuple(replace(n, interface=by_mac.get(n.mac)) for n in networks),
            attrs=attrs,
        )

    @classmethod
    def get(cls, name_or_id: str, client: "docker.DockerClient | None" = None) -> "Container":
        """The running container ``name_or_id``: see :func:`get_container`."""
        return get_container(name_or_id, client)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def running(self) -> bool:
        return bool((self.attrs.get("State") or {}).get("Running")) and self.pid is not None

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
            "interfaces": [
                {**asdict(i), "addresses": [str(a) for a in i.addresses]} for i in self.interfaces
            ],
            "networks": [asdict(n) for n in self.networks],
        }

    def __repr__(self) -> str:
        return f"<Container {self.name} {self.short_id} {self.state} pid={self.pid}>"


# --------------------------------------------------------------------------- lookups


def _is_running(attrs: dict) -> bool:
    state = attrs.get("State") or {}
    return bool(state.get("Running") and state.get("Pid"))


def _uses_host_network(attrs: dict) -> bool:
    pid = (attrs.get("State") or {}).get("Pid")
    mode = (attrs.get("HostConfig") or {}).get("NetworkMode", "")
    return mode == "host" or inventory.is_own_namespace(netns_path(pid))


def _resolved(client: "docker.DockerClient", attrs: dict) -> Container:
    """The full record of a running container with a namespace of its own."""
    settings = discovery.network_settings(client, attrs)
    networks = tuple(ContainerNetwork.from_endpoint(*entry) for entry in discovery.container_networks(client, settings))
    pid = attrs["State"]["Pid"]
    interfaces = tuple(ContainerInterface.from_inventory(i) for i in inventory.interfaces(netns_path(pid)))
    return Container.from_inspect(attrs, interfaces=interfaces, networks=networks)


def get_container(name_or_id: str, client: "docker.DockerClient | None" = None) -> Container:
    """The running container ``name_or_id`` (a name or an id prefix), resolved for capture.

    ``client`` defaults to one from ``DOCKER_HOST`` or the default socket.
    Raises :class:`DockerUnavailable`, :class:`ContainerNotFound`,
    :class:`ContainerNotRunning` or :class:`HostNetworkContainer`.
    """
    client = client or discovery.docker_client()
    attrs = discovery.inspect_container(client, name_or_id)
    record = Container.from_inspect(attrs)
    if not _is_running(attrs):
        raise ContainerNotRunning(
            f"container {record.name} is not running (state: {record.state}): "
            f"it has no network namespace to capture; start it first")
    if _uses_host_network(attrs):
        raise HostNetworkContainer(
            f"container {record.name} uses the host's network (network mode '{record.network_mode}'): "
            f"there is nothing container-specific to capture; capture the host interface "
            f"instead, e.g. `python -m pcap4py capture <host interface>`")
    return _resolved(client, attrs)


def resolve_listed(client: "docker.DockerClient", container_id: str) -> Optional[Container]:
    """The record of a listed container, or None if it stopped or went away meanwhile."""
    try:
        attrs = discovery.inspect_container(client, container_id)
        if not _is_running(attrs):
            return None
        if _uses_host_network(attrs):
            return Container.from_inspect(attrs, host_network=True)
        return _resolved(client, attrs)
    except ContainerNotFound:
        return None  # removed while we were listing
    except (NotFound, NetlinkError):
        # its process may have exited between inspect and entering its namespace
        try:
            still = _is_running(discovery.inspect_container(client, container_id))
        except ContainerNotFound:
            still = False
        if still:
            raise
        return None


def containers(client: "docker.DockerClient | None" = None) -> list[Container]:
    """The running containers, resolved and sorted by name (host-network ones have no interfaces listed)."""
    client = client or discovery.docker_client()
    found = (resolve_listed(client, cid) for cid in discovery.running_container_ids(client))
    return sorted((c for c in found if c is not None), key=lambda c: c.name)
