"""pipework-style macvlan attachment of a container (or any network namespace) to a host interface.

:func:`attach` does document 000's six steps through netlink, in pipework's order:

1. create a macvlan in bridge mode on the host interface (temporary name, the host's MTU),
2. move it into the target's network namespace,
3. name it (``eth1``) and set its MAC if one was given,
4. bring it up,
5. add the address,
6. with a gateway: replace the target's default route by one through the gateway on the new link,

then, for IPv4, a gratuitous ARP so that the LAN learns the new address at once (as pipework does).

If any step fails, every earlier step is undone in reverse order: no half-made
interface is left in the host or in the target, the default route and the host
interface's promiscuous flag are as they were.

What attach changed is recorded on the new interface itself, as its ``ifalias``
(``pcap4py-attach {json}``): host interface, the default routes it replaced,
whether it turned promiscuous mode on.  The record lives and dies with the
interface, so it can never go stale; :func:`detach` reads it to remove exactly
what attach made, and a second identical :func:`attach` recognises its own work
and does nothing.

Targets: a container name or id (resolved through Docker), a PID, a name under
``/run/netns``, or a namespace file path.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import uuid
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

from ..errors import (AddressError, ContainerNotFound, DockerUnavailable, HostNetworkContainer,
                     NetlinkError, NotFound, Pcap4pyError)
from ..netns import netns_key, netns_path, run_in_netns
from .rtnl import (IFF_PROMISC, check_ifname, ethernet_link, link_by_index, link_by_name, link_kind,
                   netlink_error, rollback, rtnl, set_promisc)

__all__ = ["Attachment", "Detachment", "AddressSpec", "parse_address", "parse_mac", "attach", "detach",
           "resolve_target"]

IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
Target = Union[str, int]

ALIAS_TAG = "pcap4py-attach "
RT_TABLE_MAIN = 254

#: Test seam (documented, not a mock): callables run after each attach step with the
#: step's name ("promisc", "create", "move", "name", "mac", "up", "address", "gateway").
#: One that raises makes attach fail right there, on real kernel objects, so tests
#: can check that the rollback leaves nothing behind.
STEP_HOOKS: list[Callable[[str], None]] = []


# --------------------------------------------------------------------------- grammar


@dataclass(frozen=True)
class AddressSpec:
    """pipework's ``IP/PREFIX[@GATEWAY]``: an interface address and an optional gateway."""

    interface: IPInterface
    gateway: Optional[IPAddress] = None

    def __str__(self) -> str:
        return f"{self.interface}@{self.gateway}" if self.gateway else str(self.interface)


def parse_address(spec: str, gateway: Optional[str] = None) -> AddressSpec:
    """Parse ``IP/PREFIX[@GATEWAY]`` (IPv4 or IPv6), as pipework does, and check it makes sense.

    ``gateway`` may instead be given separately.  Raises :class:`AddressError` for a
    missing or bad prefix, a malformed address, a network or broadcast address, a
    gateway of another family, outside the subnet, or equal to the address.
    """
    text = spec.strip()
    if "@" in text:
        text, _, gw_text = text.partition("@")
        if gateway is not None:
            raise AddressError(f"gateway given twice: {spec!r} and {gateway!r}")
        gateway = gw_text
    if "/" not in text:
        raise AddressError(f"address {spec!r} needs a prefix length: IP/PREFIX, e.g. 192.168.1.200/24")
    ip_text, _, prefix = text.partition("/")
    try:
        ip = ipaddress.ip_address(ip_text)
    except ValueError:
        raise AddressError(f"{ip_text!r} is not an IPv4 or IPv6 address") from None
    if not prefix.isdigit() or int(prefix) > ip.max_prefixlen:
        raise AddressError(f"bad prefix length /{prefix} for {ip_text} (0-{ip.max_prefixlen})")
    iface = ipaddress.ip_interface(f"{ip}/{int(prefix)}")
    net = iface.network
    if ip.version == 4 and net.prefixlen < 31 and ip in (net.network_address, net.broadcast_address):
        raise AddressError(f"{iface} is the {'network' if ip == net.network_address else 'broadcast'} "
                           f"address of {net}, not a host address")
    gw = None
    if gateway is not None and gateway != "":
        try:
            gw = ipaddress.ip_address(gateway)
        except ValueError:
            raise AddressError(f"gateway {gateway!r} is not an IPv4 or IPv6 address") from None
        if gw.version != ip.version:
            raise AddressError(f"gateway {gw} is IPv{gw.version} but the address {iface} is IPv{ip.version}")
        if gw not in net:
            raise AddressError(f"gateway {gw} is outside the subnet {net} of {iface}")
        if gw == ip:
            raise AddressError(f"gateway {gw} is the interface's own address")
    elif gateway == "":
        raise AddressError(f"empty gateway after '@' in {spec!r}")
    return AddressSpec(iface, gw)


_MAC = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")


def parse_mac(mac: str) -> str:
    """Normalise a unicast MAC address to ``aa:bb:cc:dd:ee:ff``; :class:`AddressError` otherwise."""
    m = mac.strip().lower()
    if not _MAC.match(m):
        raise AddressError(f"{mac!r} is not a MAC address (aa:bb:cc:dd:ee:ff)")
    hexes = m.replace(":", "").replace("-", "")
    norm = ":".join(hexes[i:i + 2] for i in range(0, 12, 2))
    if int(hexes[:2], 16) & 1:
        raise AddressError(f"{norm} is a multicast MAC address; an interface needs a unicast one")
    if hexes == "0" * 12:
        raise AddressError("00:00:00:00:00:00 cannot be an interface's MAC address")
    return norm


# --------------------------------------------------------------------------- targets


def resolve_target(target: Target) -> str:
    """The network-namespace file of ``target``: PID, /run/netns name, path, or container name/id.

    A name under ``/run/netns`` wins over a container of the same name.
    """
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        path = netns_path(int(target))
        if not os.path.exists(path):
            raise NotFound(f"no process {target} (so no network namespace {path})")
        return path
    if not isinstance(target, str) or not target:
        raise NotFound(f"bad attach target {target!r}: give a container, a PID or a namespace")
    if os.sep in target:
        if not os.path.exists(target):
            raise NotFound(f"no network namespace at {target}")
        return target
    if os.path.exists(netns_path(target)):
        return netns_path(target)
    from ..container import Container

    try:
        container = Container(target)  # ContainerNotFound / ContainerNotRunning / HostNetworkContainer
    except DockerUnavailable as e:
        # most likely a mistyped namespace name: say both places we looked
        raise ContainerNotFound(f"no network namespace /run/netns/{target}, and no container: {e}") from None
    return container.netns_path


# --------------------------------------------------------------------------- results


@dataclass
class Attachment:
    """What :func:`attach` made (or found already made, ``already=True``)."""

    host_iface: str
    netns: str
    name: str
    address: IPInterface
    gateway: Optional[IPAddress]
    mac: str
    ifindex: int
    promisc_set: bool = False
    already: bool = False
    replaced_routes: list = field(default_factory=list)

    def __str__(self) -> str:
        via = f", default via {self.gateway}" if self.gateway else ""
        verb = "already attached" if self.already else "attached"
        return f"{verb}: {self.name} ({self.mac}) {self.address}{via} in {self.netns}, macvlan on {self.host_iface}"


@dataclass
class Detachment:
    """What :func:`detach` removed; ``removed=False`` when there was nothing to detach."""

    netns: str
    name: str
    removed: bool
    host_iface: Optional[str] = None
    restored_routes: list = field(default_factory=list)
    promisc_cleared: bool = False

    def __str__(self) -> str:
        if not self.removed:
            return f"nothing to detach: no {self.name} in {self.netns}"
        extra = f", {len(self.restored_routes)} default route(s) restored" if self.restored_routes else ""
        extra += f", promiscuous mode off on {self.host_iface}" if self.promisc_cleared else ""
        return f"detached: {self.name} removed from {self.netns}{extra}"


# --------------------------------------------------------------------------- record (ifalias)


def _record(host: str, hidx: int, spec: AddressSpec, prev: list, promisc: bool) -> str:
    data = {"host": host, "hidx": hidx, "addr": str(spec.interface),
            "gw": str(spec.gateway) if spec.gateway else None, "prev": prev, "promisc": promisc}
    text = ALIAS_TAG + json.dumps(data, separators=(",", ":"))
    if len(text.encode()) > 255:  # IFALIASZ - 1; keep the record whole or not at all
        data["prev"] = prev[:1]
        text = ALIAS_TAG + json.dumps(data, separators=(",", ":"))
    return text


def _read_record(link) -> Optional[dict]:
    alias = link.get_attr("IFLA_IFALIAS") or ""
    if not alias.startswith(ALIAS_TAG):
        return None
    try:
        return json.loads(alias[len(ALIAS_TAG):])
    except ValueError:
        return None


# --------------------------------------------------------------------------- routes


def _default_routes(ipr, family: int) -> list[dict]:
    """The main table's default routes of ``family``, as small dicts that can re-create them."""
    out = []
    for r in ipr.get_routes(family=family, table=RT_TABLE_MAIN):
        if r["dst_len"] != 0 or r.get_attr("RTA_DST") is not None or r["type"] != 1:
            continue
        oif = r.get_attr("RTA_OIF")
        link = link_by_index(ipr, oif) if oif else None
        out.append({"gw": r.get_attr("RTA_GATEWAY"), "dev": link.get_attr("IFLA_IFNAME") if link else None,
                    "metric": r.get_attr("RTA_PRIORITY"), "proto": r["proto"]})
    return out


def _route_args(ipr, family: int, route: dict) -> Optional[dict]:
    args = {"dst": "default", "family": family, "table": RT_TABLE_MAIN, "proto": route.get("proto") or 3}
    if route.get("dev"):
        found = ipr.link_lookup(ifname=route["dev"])
        if not found:
            return None  # its interface has gone: nothing to route through
        args["oif"] = found[0]
    if route.get("gw"):
        args["gateway"] = route["gw"]
    if route.get("metric") is not None:
        args["priority"] = route["metric"]
    return args


def _restore_routes(ipr, family: int, routes: list[dict]) -> list[dict]:
    restored = []
    present = _default_routes(ipr, family)
    for route in routes:
        if any(p["gw"] == route.get("gw") and p["dev"] == route.get("dev") for p in present):
            continue
        args = _route_args(ipr, family, route)
        if args is None:
            continue
        ipr.route("add", **args)
        restored.append(route)
    return restored


# --------------------------------------------------------------------------- attach


def _run_hooks(step: str) -> None:
    for hook in list(STEP_HOOKS):
        hook(step)


def _check_existing(link, host: str, hidx: int, spec: AddressSpec, mac: Optional[str], ipr,
                    name: str, where: str) -> dict:
    """The record of an identical earlier attach, or raise: the name is taken."""
    rec = _read_record(link)
    if rec is None:
        raise NetlinkError(f"interface {name} already exists in {where} (not made by pcap4py attach)")
    same = rec.get("host") == host and rec.get("hidx") == hidx and rec.get("addr") == str(spec.interface)
    same = same and rec.get("gw") == (str(spec.gateway) if spec.gateway else None)
    same = same and (mac is None or link.get_attr("IFLA_ADDRESS") == mac)
    if same:
        addrs = {f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}" for a in ipr.get_addr(index=link["index"])}
        same = str(spec.interface) in addrs
    if not same:
        raise NetlinkError(f"interface {name} already exists in {where}, attached by pcap4py with other "
                           f"settings ({rec.get('addr')} on {rec.get('host')}); detach it first")
    return rec


def attach(host_iface: str, target: Target, address: Union[str, AddressSpec], *,
           gateway: Optional[str] = None, name: str = "eth1", mac: Optional[str] = None,
           promisc: bool = False) -> Attachment:
    """Attach ``target`` to the LAN of ``host_iface`` with a bridge-mode macvlan named ``name``.

    ``address`` is ``IP/PREFIX`` or pipework's ``IP/PREFIX@GATEWAY`` (or give ``gateway=``);
    with a gateway, the target's default route goes through it on the new interface.
    ``mac`` sets the interface's MAC; ``promisc`` turns promiscuous mode on on the
    host interface (needed on some VMs) if it is off.  Running the same attach
    again changes nothing and returns ``already=True``.  Any failure undoes every
    earlier step and raises a :class:`~pcap4py.errors.Pcap4pyError`.
    """
    spec = address if isinstance(address, AddressSpec) else parse_address(address, gateway)
    if isinstance(address, AddressSpec) and gateway is not None:
        spec = parse_address(str(address.interface), gateway)
    mac = parse_mac(mac) if mac else None
    check_ifname(name)
    path = resolve_target(target)
    if netns_key(path) == netns_key():
        raise HostNetworkContainer(f"{target} shares this host's network namespace: nothing to attach into")
    family = 4 if spec.interface.version == 4 else 6
    af = 2 if family == 4 else 10

    with rtnl() as host, rtnl(path) as guest:
        hlink = ethernet_link(host, host_iface, missing="no host interface {name!r}",
                              loopback="cannot attach a macvlan to the loopback interface {name}")
        hidx = hlink["index"]
        existing = link_by_name(guest, name)
        if existing is not None:
            rec = _check_existing(existing, host_iface, hidx, spec, mac, guest, name, str(target))
            return Attachment(host_iface, path, name, spec.interface, spec.gateway,
                              existing.get_attr("IFLA_ADDRESS"), existing["index"],
                              promisc_set=bool(rec.get("promisc")), already=True,
                              replaced_routes=rec.get("prev") or [])
        prev = _default_routes(guest, af) if spec.gateway else []
        undo: list[Callable[[], None]] = []
        step = "check"
        try:
            step = "promisc"
            promisc_set = bool(promisc and not hlink["flags"] & IFF_PROMISC)
            if promisc_set:
                set_promisc(host, hidx, True)
                undo.append(lambda: set_promisc(host, hidx, False))
            _run_hooks(step)

            step = "create"
            tmp = f"p4m{uuid.uuid4().hex[:8]}"
            host.link("add", ifname=tmp, kind="macvlan", link=hidx, macvlan_mode="bridge",
                      mtu=hlink.get_attr("IFLA_MTU"))
            idx = host.link_lookup(ifname=tmp)[0]
            state = {"ns": host, "index": idx}
            undo.append(lambda: _delete_quietly(state["ns"], state["index"]))
            _run_hooks(step)

            step = "move"
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                host.link("set", index=idx, net_ns_fd=fd)
            finally:
                os.close(fd)
            found = guest.link_lookup(ifname=tmp)
            if not found:
                raise NetlinkError(f"the new macvlan {tmp} did not arrive in {path}")
            state.update(ns=guest, index=found[0])
            gidx = found[0]
            _run_hooks(step)

            step = "name"
            guest.link("set", index=gidx, ifname=name,
                       ifalias=_record(host_iface, hidx, spec, prev, promisc_set))
            _run_hooks(step)

            step = "mac"
            if mac:
                guest.link("set", index=gidx, address=mac)
            _run_hooks(step)

            step = "up"
            guest.link("set", index=gidx, state="up")
            _run_hooks(step)

            step = "address"
            guest.addr("add", index=gidx, address=str(spec.interface.ip), prefixlen=spec.interface.network.prefixlen)
            _run_hooks(step)

            step = "gateway"
            if spec.gateway:
                # pipework: delete the default route, then add one through the gateway
                for route in prev:
                    args = _route_args(guest, af, route)
                    if args:
                        guest.route("del", **args)
                undo.append(lambda: _unreplace_default(guest, af, gidx, prev))
                guest.route("replace", dst="default", family=af, gateway=str(spec.gateway), oif=gidx,
                            table=RT_TABLE_MAIN)
            _run_hooks(step)
            final = guest.get_links(gidx)[0]
            if spec.interface.version == 4:
                _gratuitous_arp(path, name, final.get_attr("IFLA_ADDRESS"), spec.interface.ip)
        except BaseException as e:
            rollback(undo)
            if isinstance(e, Pcap4pyError):
                raise
            if isinstance(e, Exception) and (hasattr(e, "code") or isinstance(e, OSError)):
                raise _step_error(step, name, host_iface, path, e) from None
            raise
    return Attachment(host_iface, path, name, spec.interface, spec.gateway, final.get_attr("IFLA_ADDRESS"),
                      gidx, promisc_set=promisc_set, replaced_routes=prev)


def _gratuitous_arp(path: str, name: str, mac: str, ip: IPAddress) -> None:
    """Announce the new address on the LAN, as pipework does (best effort: a lost announcement is harmless)."""
    hw = bytes.fromhex(mac.replace(":", ""))
    frame = (b"\xff" * 6 + hw + b"\x08\x06"                      # Ethernet: broadcast, ARP
             + b"\x00\x01\x08\x00\x06\x04\x00\x01"               # Ethernet/IPv4, request
             + hw + ip.packed + b"\x00" * 6 + ip.packed)           # who-has IP tell IP (gratuitous)
    try:
        # a packet socket keeps the namespace it was created in; bind by name resolves there
        sock = run_in_netns(path, socket.socket, socket.AF_PACKET, socket.SOCK_RAW, 0)
        with sock:
            sock.bind((name, 0))
            sock.send(frame)
    except OSError:
        pass


def _step_error(step: str, name: str, host_iface: str, path: str, err: BaseException) -> Exception:
    code = getattr(err, "code", None) or getattr(err, "errno", None)
    if step == "name" and code == 17:  # EEXIST: someone took the name meanwhile
        return NetlinkError(f"interface {name} already exists in {path}")
    what = {
        "promisc": f"turn promiscuous mode on on {host_iface}",
        "create": f"create a macvlan on {host_iface}",
        "move": f"move the macvlan into {path}",
        "name": f"rename the macvlan to {name}",
        "mac": f"set the MAC address of {name}",
        "up": f"bring {name} up",
        "address": f"add the address to {name}",
        "gateway": "replace the default route",
    }.get(step, step)
    return netlink_error(f"attach failed, rolled back: cannot {what}", err)


def _unreplace_default(ipr, af: int, gidx: int, prev: list[dict]) -> None:
    # ours first: the kernel refuses a second default route of the same metric
    for r in ipr.get_routes(family=af, table=RT_TABLE_MAIN):
        if r["dst_len"] == 0 and r.get_attr("RTA_OIF") == gidx:
            ipr.route("del", dst="default", family=af, oif=gidx, table=RT_TABLE_MAIN,
                      gateway=r.get_attr("RTA_GATEWAY"))
    _restore_routes(ipr, af, prev)


def _delete_quietly(ipr, index: int) -> None:
    if link_by_index(ipr, index) is not None:
        ipr.link("del", index=index)


# --------------------------------------------------------------------------- detach


def detach(target: Target, name: str = "eth1") -> Detachment:
    """Remove what :func:`attach` made: the interface ``name`` in ``target``, and nothing else.

    Restores the default routes attach replaced and, if attach turned it on, the
    host interface's promiscuous mode.  Refuses to remove an interface that
    pcap4py did not attach.  Detaching when nothing is attached is a no-op
    (``removed=False``).
    """
    path = resolve_target(target)
    with rtnl(path) as guest:
        link = link_by_name(guest, name)
        if link is None:
            return Detachment(path, name, removed=False)
        rec = _read_record(link)
        if rec is None or link_kind(link) != "macvlan":
            raise NetlinkError(f"{name} in {target} was not made by pcap4py attach; not removing it")
        af = 10 if ":" in (rec.get("addr") or "") else 2
        try:
            guest.link("del", index=link["index"])
            restored = _restore_routes(guest, af, rec.get("prev") or [])
        except Exception as e:
            if isinstance(e, Pcap4pyError):
                raise
            raise netlink_error(f"detach of {name} in {path}", e) from None
    cleared = False
    if rec.get("promisc"):
        with rtnl() as host:
            hlink = link_by_index(host, rec.get("hidx") or 0)
            # only if it is still the same interface and still promiscuous
            if hlink is not None and hlink.get_attr("IFLA_IFNAME") == rec.get("host") and \
                    hlink["flags"] & IFF_PROMISC:
                set_promisc(host, hlink["index"], False)
                cleared = True
    return Detachment(path, name, removed=True, host_iface=rec.get("host"), restored_routes=restored,
                      promisc_cleared=cleared)
