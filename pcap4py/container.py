"""Docker containers as capture targets: who they are and where their packets flow.

:class:`Container` resolves a name or id prefix through the Docker Engine API
(the ``docker`` SDK) and the kernel (netlink through ``pyroute2``, never by
parsing ``docker`` or ``ip`` output) into everything a capture needs:

* the PID and network-namespace path,
* the interfaces inside that namespace (name, index, MAC, addresses),
* for each interface its host-side veth peer: the host interface whose ifindex
  equals the container interface's ``IFLA_LINK`` (the ``iflink`` of document 002),
* every Docker network the container is on (all of ``NetworkSettings.Networks``,
  not only the top-level fields), its IPs there and the network's Linux bridge.

:func:`open_container` turns that into a :class:`pcap4py.Capture` in one of
three ways (``via``):

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
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence, Union

from .errors import (
    ContainerNotFound,
    ContainerNotRunning,
    DockerError,
    DockerUnavailable,
    HostNetworkContainer,
    NetlinkError,
    NotFound,
    Pcap4pyError,
)
from .netns import netns_key, netns_path
from .engine.packet import DLT_EN10MB
from .plumbing.rtnl import IFF_LOOPBACK, IFF_UP, link_kind, rtnl

if TYPE_CHECKING:  # pragma: no cover - typing only
    import docker

    from .engine.capture import Capture

__all__ = [
    "Address",
    "ContainerInterface",
    "ContainerNetwork",
    "ContainerView",
    "Container",
    "containers",
    "docker_client",
    "open_container",
    "direction_filter",
    "parse_directions",
    "combine_filters",
    "VIAS",
    "DIRECTIONS",
]

VIAS = ("netns", "veth", "bridge")
DIRECTIONS = ("egress", "ingress")
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
ZERO_MAC_BYTES = bytes(6)  # loopback's source MAC


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

    @property
    def ips(self) -> list[str]:
        return [a.address for a in self.addresses]


@dataclass(frozen=True)
class ContainerNetwork:
    """One entry of ``NetworkSettings.Networks``: the container on one Docker network.

    ``bridge`` is the network's Linux bridge (``docker0`` for the default
    network, ``br-<id[:12]>`` for user-defined bridge networks, or the
    ``com.docker.network.bridge.name`` option), ``None`` for drivers without one
    (macvlan, host, none...).  ``interface`` is the container interface that
    carries this network (matched by MAC).
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

    @property
    def ips(self) -> list[str]:
        return [ip for ip in (self.ip, self.ipv6) if ip]


@dataclass(frozen=True)
class ContainerView:
    """The container's own MACs and IPs, and the direction of a packet from its point of view.

    Handed to :class:`pcap4py.Capture` as ``local``.  On an Ethernet interface
    of the container (or its veth peer, or its bridge after the ``host`` filter)
    a frame it did not send is one it received, broadcasts and multicasts
    included: ``'out'`` when the source MAC is the container's, ``'in'``
    otherwise.  Loopback frames (all-zero MACs) and frames without a link
    header go by IP: sent from one of its addresses is ``'out'``, so its
    loopback traffic, sent and received by itself, is ``'out'``.
    """

    macs: frozenset
    ips: frozenset
    # the MACs as the 6 bytes in a frame: the per-packet test compares bytes, formats nothing
    _mac_bytes: frozenset = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_mac_bytes", frozenset(bytes.fromhex(m.replace(":", "")) for m in self.macs))

    def direction_of(self, pkt: Any) -> Optional[str]:
        if pkt.linktype == DLT_EN10MB and pkt.caplen >= 14:
            mac = pkt.data[6:12]
            if mac != ZERO_MAC_BYTES:
                return "out" if mac in self._mac_bytes else "in"
        if pkt.src in self.ips:
            return "out"
        if pkt.dst in self.ips:
            return "in"
        return None


# --------------------------------------------------------------------------- Docker


def _docker_host(client: "docker.DockerClient | None" = None) -> str:
    """Where the Docker client looks, in words for an error message."""
    if client is not None:
        return str(client.api.base_url)
    host = os.environ.get("DOCKER_HOST")
    return f"{host} (DOCKER_HOST)" if host else f"{DEFAULT_SOCKET} (default socket; DOCKER_HOST is not set)"


def _os_error(err: BaseException, depth: int = 0) -> Optional[OSError]:
    """The operating-system error at the root of a Docker SDK / requests / urllib3 error."""
    if depth > 8 or err is None:
        return None
    if isinstance(err, OSError) and err.strerror:
        return err
    for inner in (err.__cause__, err.__context__, *[a for a in err.args if isinstance(a, BaseException)]):
        found = _os_error(inner, depth + 1) if inner is not None else None
        if found:
            return found
    return None


def _unavailable(where: str, err: BaseException) -> DockerUnavailable:
    root = _os_error(err)
    reason = root.strerror if root else (str(err).splitlines()[0] if str(err) else type(err).__name__)
    if "Permission denied" in reason or "PermissionError" in reason:
        reason += " (run as root or as a member of the docker group)"
    return DockerUnavailable(f"cannot reach the Docker daemon at {where}: {reason}")


def docker_client() -> "docker.DockerClient":
    """A Docker SDK client from the environment (``DOCKER_HOST`` or the default socket).

    Raises :class:`DockerUnavailable`, naming where it looked, when no daemon answers.
    """
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as e:  # the SDK's DockerException, requests' connection errors, socket errors
        raise _unavailable(_docker_host(), e) from None
    return client


def _call(client: "docker.DockerClient", fn, *args, **kwargs):
    """Call the Docker SDK, mapping its failures to pcap4py errors."""
    import docker
    import requests

    try:
        return fn(*args, **kwargs)
    except docker.errors.NotFound:
        raise
    except (requests.exceptions.ConnectionError, ConnectionError) as e:
        raise _unavailable(_docker_host(client), e) from None
    except docker.errors.APIError as e:
        raise DockerError(f"Docker daemon error: {e.explanation or e}") from None


def _inspect_container(client: "docker.DockerClient", ref: str) -> dict:
    import docker

    if not ref:
        raise ContainerNotFound("no container name or id given")
    try:
        return _call(client, client.api.inspect_container, ref)
    except docker.errors.NotFound as e:
        detail = (e.explanation or "").lower()
        if "multiple" in detail:  # an id prefix that matches several containers
            raise ContainerNotFound(f"{ref!r} matches several containers: give more of the id or the name") from None
        raise ContainerNotFound(f"no such container: {ref}") from None


def _bridge_of(network: dict) -> Optional[str]:
    """The Linux bridge of a Docker network (its inspect record), or None."""
    if network.get("Driver") != "bridge":
        return None
    name = (network.get("Options") or {}).get(BRIDGE_NAME_OPTION)
    return name or f"br-{network['Id'][:12]}"


def _networks(client: "docker.DockerClient", settings: dict) -> list[ContainerNetwork]:
    import docker

    result = []
    for name, ep in sorted((settings.get("Networks") or {}).items()):
        net_id = ep.get("NetworkID") or ""
        try:
            info = _call(client, client.api.inspect_network, net_id or name)
        except docker.errors.NotFound:  # removed meanwhile
            info = {"Id": net_id, "Driver": None}
        result.append(ContainerNetwork(
            name=name,
            id=info.get("Id") or net_id,
            driver=info.get("Driver"),
            bridge=_bridge_of(info),
            ip=ep.get("IPAddress") or None,
            prefixlen=ep.get("IPPrefixLen") if ep.get("IPAddress") else None,
            ipv6=ep.get("GlobalIPv6Address") or None,
            ipv6_prefixlen=ep.get("GlobalIPv6PrefixLen") if ep.get("GlobalIPv6Address") else None,
            mac=(ep.get("MacAddress") or "").lower() or None,
            gateway=ep.get("Gateway") or None,
        ))
    return result


# --------------------------------------------------------------------------- netlink


def _read_namespace(ref: Optional[str] = None) -> tuple[list[dict], list[tuple[int, str, int]]]:
    """Links and addresses of namespace ``ref`` (None: the calling thread's), through netlink."""
    with rtnl(ref) as ipr:
        links = [
            {
                "index": link["index"],
                "name": link.get_attr("IFLA_IFNAME"),
                "mac": link.get_attr("IFLA_ADDRESS"),
                "flags": link["flags"],
                "kind": link_kind(link),
                "iflink": link.get_attr("IFLA_LINK"),
                "master": link.get_attr("IFLA_MASTER"),
            }
            for link in ipr.get_links()
        ]
        addrs = [(a["index"], a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr()]
    return links, addrs


def _host_peer(link: dict, host: dict[int, dict]) -> tuple[Optional[dict], Optional[str]]:
    """The host-side veth whose ifindex is the container interface's iflink, and its bridge."""
    iflink = link["iflink"]
    if link["kind"] != "veth" or not iflink:
        return None, None
    peer = host.get(iflink)
    # a veth's peer points back at us; anything else with that index is a coincidence
    if peer is None or peer["kind"] != "veth" or peer["iflink"] != link["index"]:
        return None, None
    master = host.get(peer["master"]) if peer["master"] else None
    return peer, master["name"] if master else None


def _interfaces(path: str) -> list[ContainerInterface]:
    try:
        links, addrs = _read_namespace(path)
        host_links, _ = _read_namespace()
    except Pcap4pyError:
        raise
    except Exception as e:  # pyroute2's NetlinkError and socket errors
        raise NetlinkError(f"cannot list the interfaces of {path}: {e}") from None
    host = {link["index"]: link for link in host_links}
    result = []
    for link in sorted(links, key=lambda l: l["index"]):
        peer, bridge = _host_peer(link, host)
        loopback = bool(link["flags"] & IFF_LOOPBACK)
        result.append(ContainerInterface(
            name=link["name"],
            index=link["index"],
            mac=None if loopback or not link["mac"] else link["mac"].lower(),
            addresses=tuple(Address(_norm_ip(a), p) for i, a, p in addrs if i == link["index"]),
            kind=link["kind"],
            up=bool(link["flags"] & IFF_UP),
            loopback=loopback,
            iflink=link["iflink"],
            host_peer=peer["name"] if peer else None,
            host_peer_index=peer["index"] if peer else None,
            host_bridge=bridge,
        ))
    return result


def _is_own_namespace(path: str) -> bool:
    """Whether ``path`` is the calling thread's own network namespace (e.g. joined from a host-mode container)."""
    try:
        return netns_key(path) == netns_key()
    except OSError:  # not ours to look at: entering it will say why
        return False


def _norm_ip(ip: str) -> str:
    """One spelling per address (the one ``inet_ntop`` and packets use)."""
    return ipaddress.ip_address(ip.split("%")[0]).compressed


# --------------------------------------------------------------------------- Container


class Container:
    """A running Docker container, resolved for capture.

    ``Container("web")`` takes a name or an id prefix and an optional Docker SDK
    client (default: from ``DOCKER_HOST`` or the default socket).  Raises
    :class:`DockerUnavailable`, :class:`ContainerNotFound`,
    :class:`ContainerNotRunning` or :class:`HostNetworkContainer`.

    Attributes: ``id``, ``short_id``, ``name``, ``image``, ``state``, ``pid``,
    ``netns_path``, ``network_mode``, ``interfaces`` (inside its namespace) and
    ``networks`` (every Docker network it is on).
    """

    def __init__(self, name_or_id: str, client: "docker.DockerClient | None" = None):
        client = client or docker_client()
        self._load(client, _inspect_container(client, name_or_id), strict=True)

    @classmethod
    def _from_attrs(cls, client: "docker.DockerClient", attrs: dict, strict: bool) -> "Container":
        self = cls.__new__(cls)
        self._load(client, attrs, strict)
        return self

    def _load(self, client: "docker.DockerClient", attrs: dict, strict: bool) -> None:
        self.client = client
        self.attrs = attrs
        self.id: str = attrs["Id"]
        self.short_id: str = self.id[:12]
        self.name: str = attrs.get("Name", "").lstrip("/")
        self.image: str = (attrs.get("Config") or {}).get("Image", "")
        state = attrs.get("State") or {}
        self.state: str = state.get("Status", "unknown")
        self.pid: Optional[int] = state.get("Pid") or None
        self.network_mode: str = (attrs.get("HostConfig") or {}).get("NetworkMode", "")
        self.netns_path: Optional[str] = netns_path(self.pid) if self.pid else None
        self.host_network: bool = False  # shares the host's (our) network namespace
        self.interfaces: tuple[ContainerInterface, ...] = ()
        self.networks: tuple[ContainerNetwork, ...] = ()
        if not state.get("Running") or not self.pid:
            if strict:
                raise ContainerNotRunning(
                    f"container {self.name} is not running (state: {self.state}): "
                    f"it has no network namespace to capture; start it first")
            return
        self.host_network = self.network_mode == "host" or _is_own_namespace(self.netns_path)
        if self.host_network:
            if strict:
                raise HostNetworkContainer(
                    f"container {self.name} uses the host's network (network mode '{self.network_mode}'): "
                    f"there is nothing container-specific to capture; capture the host interface "
                    f"instead, e.g. `python -m pcap4py capture <host interface>`")
            return
        self.networks = tuple(_networks(client, self._network_settings()))
        self.interfaces = tuple(_interfaces(self.netns_path))
        by_mac = {i.mac: i.name for i in self.interfaces if i.mac}
        self.networks = tuple(
            ContainerNetwork(**{**asdict(n), "interface": by_mac.get(n.mac)}) for n in self.networks)

    def _network_settings(self) -> dict:
        """This container's network settings, or those of the container whose namespace it joined."""
        mode = self.network_mode
        if mode.startswith("container:"):  # --network container:OTHER shares OTHER's namespace
            import docker

            try:
                return _inspect_container(self.client, mode.split(":", 1)[1]).get("NetworkSettings") or {}
            except (ContainerNotFound, docker.errors.NotFound):
                return {}
        return self.attrs.get("NetworkSettings") or {}

    @property
    def running(self) -> bool:
        return bool((self.attrs.get("State") or {}).get("Running")) and self.pid is not None

    def interface(self, name: str) -> ContainerInterface:
        """The interface called ``name`` inside the container."""
        from .errors import InterfaceNotFound

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
        ips.update(_norm_ip(ip) for n in self.networks for ip in n.ips)
        return frozenset(ips)

    @property
    def local(self) -> ContainerView:
        """Its MACs and IPs and the direction rule, for :class:`pcap4py.Capture`'s ``local``."""
        return ContainerView(self.macs, self.ips)

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


def containers(client: "docker.DockerClient | None" = None) -> list[Container]:
    """The running containers, resolved (host-network ones have no interfaces listed)."""
    import docker

    client = client or docker_client()
    result = []
    for summary in _call(client, client.api.containers):
        try:
            attrs = _call(client, client.api.inspect_container, summary["Id"])
            result.append(Container._from_attrs(client, attrs, strict=False))
        except docker.errors.NotFound:
            continue  # removed while we were listing
        except (NotFound, NetlinkError):
            # its process may have exited between inspect and entering its namespace
            try:
                still = _call(client, client.api.inspect_container, summary["Id"])["State"].get("Running")
            except docker.errors.NotFound:
                still = False
            if still:
                raise
    return sorted((c for c in result if c.running), key=lambda c: c.name)


# --------------------------------------------------------------------------- filters


def parse_directions(capture: Union[str, Iterable[str], None]) -> frozenset:
    """The directions of ``capture`` ('egress', 'ingress', both; comma-separated or a list;
    None: both); raises :class:`Pcap4pyError` for anything else."""
    if capture is None:
        return frozenset(DIRECTIONS)
    items = capture.split(",") if isinstance(capture, str) else list(capture)
    wanted = frozenset(x.strip().lower() for x in items if x and x.strip())
    bad = sorted(wanted - set(DIRECTIONS))
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
    capture: Union[str, Iterable[str], None] = DIRECTIONS,
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
    """
    from .engine.capture import Capture

    if isinstance(container, str):
        container = Container(container)
    if via not in VIAS:
        raise Pcap4pyError(f"unknown capture mode {via!r}: use one of {', '.join(VIAS)}")
    parse_directions(capture)  # validate before opening anything
    plans = {"netns": _plan_netns, "veth": _plan_veth, "bridge": _plan_bridge}[via](container, filter, capture)
    if via == "bridge":
        # a bridge device sees frames switched between its ports only in promiscuous mode
        live_kwargs["promisc"] = True
    handles = _open_all(plans, live_kwargs)
    _label_sources(handles, container, via)
    try:
        return Capture(handles, count=count, duration=duration, local=container.local)
    except BaseException:
        for h in handles:
            h.close()
        raise


_VIA_WORDS = {"netns": "inside its network namespace", "veth": "on its host-side veth peer",
              "bridge": "on its Docker bridge"}


def _label_sources(handles: list, c: Container, via: str) -> None:
    """Name each handle's source for people (pcapng interface blocks): ``web/eth0``, ``web/veth1a2b``."""
    for h in handles:
        h.source = replace(h.source, label=f"{c.name}/{h.name}",
                           description=f"container {c.name} (id {c.short_id}): {h.name} captured {_VIA_WORDS[via]} ({via})")


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
        ips = iface.ips if iface else [_norm_ip(ip) for ip in net.ips]
        direction = direction_filter(iface, capture) if iface else None
        plans.append(_Plan(net.bridge, combine_filters(user, _host_filter(ips), direction), None))
    if not plans:
        names = ", ".join(f"{n.name} ({n.driver})" for n in c.networks) or "none"
        raise Pcap4pyError(f"container {c.name} is on no bridge network (networks: {names}); use --via netns")
    return plans


def _open_all(plans: list[_Plan], live_kwargs: dict) -> list:
    from .engine.handle import open_live

    handles = []
    try:
        for n, plan in enumerate(plans):
            handles.append(open_live(plan.iface, filter=plan.filter, netns=plan.netns, index=n, **live_kwargs))
    except BaseException:
        for h in handles:
            h.close()
        raise
    return handles
