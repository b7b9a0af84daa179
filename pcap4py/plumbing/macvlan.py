"""pipework-style macvlan attachment of a container (or any network namespace) to a host interface.

:func:`attach` does, through netlink and in pipework's order, the six steps of the manual
macvlan recipe (the one the kaitoy/pcap4j README runs with ``ip link`` and pipework):

1. create a macvlan in bridge mode on the host interface (temporary name, the host's MTU),
2. move it into the target's network namespace,
3. name it (``eth1``) and set its MAC if one was given,
4. bring it up,
5. add the address,
6. with a gateway: replace the target's default route by one through the gateway on the new link,

then, for IPv4, a gratuitous ARP so that the LAN learns the new address at once (as pipework does).

pipework's other host sides (:mod:`pcap4py.plumbing.lower`): with a VLAN, the
macvlan sits on the shared sub-interface ``HOSTIF.VLAN``; when the host
interface is a bridge, a veth pair replaces the macvlan (one end enslaved to
the bridge, the other moved in); ``--host-shim`` adds a host-side macvlan with
a route to the new address, so the host reaches the container.

The steps run as one :class:`~pcap4py.plumbing.transaction.Transaction`: if
any step fails, or SIGINT/SIGTERM arrives, every earlier step is undone in
reverse order: no half-made interface is left in the host or in the target, the
default route and the host interface's promiscuous flag are as they were.

What attach changed is recorded on the new interface itself, as its ``ifalias``
(``pcap4py-attach {json}``): host interface, the default routes it replaced,
whether it turned promiscuous mode on.  The record lives and dies with the
interface, so it can never go stale; :func:`detach` reads it to remove exactly
what attach made, and a second identical :func:`attach` recognises its own work
and does nothing.

Targets are network namespaces: a PID, a name under ``/run/netns``, or a
namespace file path (:func:`pcap4py.netns.resolve_netns`).  Containers are
resolved to their namespace above this layer
(:func:`pcap4py.container.plumbing.namespace_of`).
"""

from __future__ import annotations

import errno
import hashlib
import ipaddress
import json
import os
import re
import socket
import threading
import uuid
from dataclasses import dataclass, field
from typing import Optional, Union

from ..errors import AddressError, HostNetworkContainer, NetlinkError
from ..netns import NetnsRef, netns_key, open_netns, pinned, resolve_netns, run_in_netns
from . import dhcp, lower
from .rtnl import IFF_PROMISC, check_ifname, ethernet_link, link_by_index, link_by_name, link_kind, rtnl, set_promisc
from .transaction import HOOKS, Transaction

__all__ = ["Attachment", "Detachment", "AddressSpec", "parse_address", "parse_mac", "stable_mac", "resolve_mac",
           "check_family", "attach", "detach"]

IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
ALIAS_TAG = "pcap4py-attach "
RT_TABLE_MAIN = 254

#: The transaction's test seam (:data:`pcap4py.plumbing.transaction.HOOKS`): callables run
#: after each step with its name; attach's steps are "promisc", "create", "move", "name",
#: "mac", "up", "address", "gateway", "announce" ("vlan" before "create" with a VLAN; "bridge"
#: first and "veth" instead of "create" on a bridge; "lease" and "record" after "up" with dhcp;
#: "shim" before "announce" with a host shim); detach's "release" (dhcp), "delete", "shim",
#: "routes", "lower" (VLAN device or bridge), "promisc" (the optional ones only when attach made that part).
STEP_HOOKS = HOOKS


# --------------------------------------------------------------------------- grammar


NO_ADDRESS = ("0/0", "0.0.0.0/0", "::/0")  # pipework's "0/0": the interface comes up without an address


@dataclass(frozen=True)
class AddressSpec:
    """pipework's ``IP/PREFIX[@GATEWAY]``: an interface address and an optional gateway;
    ``interface`` None is ``0/0`` (no address)."""

    interface: Optional[IPInterface]
    gateway: Optional[IPAddress] = None
    dhcp: bool = False  # pipework's "dhcp[:HOSTNAME]": the address comes from the LAN's DHCP server
    hostname: Optional[str] = None

    def __str__(self) -> str:
        if self.dhcp and self.interface is None:
            return f"dhcp:{self.hostname}" if self.hostname else "dhcp"
        if self.interface is None:
            return "0/0"
        return f"{self.interface}@{self.gateway}" if self.gateway else str(self.interface)

    @property
    def version(self) -> Optional[int]:
        return self.interface.version if self.interface is not None else None


def parse_address(spec: str, gateway: Optional[str] = None) -> AddressSpec:
    """Parse ``IP/PREFIX[@GATEWAY]`` (IPv4 or IPv6), as pipework does, and check it makes sense.

    ``gateway`` may instead be given separately.  Raises :class:`AddressError` for a
    missing or bad prefix, a malformed address, a network or broadcast address, a
    gateway of another family, outside the subnet, or equal to the address.
    """
    text = spec.strip()
    if text == DHCP or text.startswith(DHCP + ":"):
        return _parse_dhcp(text, gateway)
    if "@" in text:
        text, _, gw_text = text.partition("@")
        if gateway is not None:
            raise AddressError(f"gateway given twice: {spec!r} and {gateway!r}")
        gateway = gw_text
    if text in NO_ADDRESS:
        if gateway is not None:
            raise AddressError(f"{text} (no address) cannot have a gateway")
        return AddressSpec(None)
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


DHCP = "dhcp"


def _parse_dhcp(text: str, gateway: Optional[str]) -> AddressSpec:
    if gateway is not None:
        raise AddressError("dhcp takes its gateway from the DHCP server: no @GATEWAY")
    hostname = text[len(DHCP) + 1:] if ":" in text else None
    if hostname is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]{0,62}", hostname):
        raise AddressError(f"bad DHCP hostname {hostname!r} (letters, digits, '-' and '.')")
    return AddressSpec(None, dhcp=True, hostname=hostname)


def check_family(spec: AddressSpec, family: Optional[int]) -> None:
    """Refuse an address of the other family than ``family`` (4 or 6; None: either)."""
    if family not in (None, 4, 6):
        raise AddressError(f"bad address family {family!r} (4 or 6)")
    if family and spec.version and spec.version != family:
        raise AddressError(f"{spec} is IPv{spec.version} but IPv{family} was asked for (-a {family})")
    if family == 6 and spec.dhcp:
        raise AddressError("dhcp is DHCPv4: it cannot give an IPv6 address (-a 6)")


STABLE_MAC = "U:"  # pipework's U:[SUFFIX]: a MAC derived from the target's name


def stable_mac(seed: str) -> str:
    """A locally administered unicast MAC derived from ``seed``: ``02:`` and 5 bytes of its SHA-256."""
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return ":".join(["02"] + [digest[i:i + 2] for i in range(0, 10, 2)])


def resolve_mac(mac: Optional[str], seed: str) -> Optional[str]:
    """``mac`` normalised, or for ``U:[SUFFIX]`` the :func:`stable_mac` of ``seed + SUFFIX``."""
    if mac is None:
        return None
    if mac.upper().startswith(STABLE_MAC):
        return stable_mac(seed + mac[len(STABLE_MAC):])
    return parse_mac(mac)


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


# --------------------------------------------------------------------------- results


@dataclass
class Attachment:
    """What :func:`attach` made (or found already made, ``already=True``)."""

    host_iface: str
    netns: str
    name: str
    address: Optional[IPInterface]
    gateway: Optional[IPAddress]
    mac: str
    ifindex: int
    promisc_set: bool = False
    already: bool = False
    replaced_routes: list = field(default_factory=list)
    vlan: Optional[int] = None
    shim: Optional[str] = None  # the host shim's name (--host-shim)
    peer: Optional[str] = None  # the host end of the veth pair, when the host side is a bridge
    lease: Optional[dhcp.LeaseRecord] = None  # with dhcp: the lease the address came from

    def __str__(self) -> str:
        via = f", default via {self.gateway}" if self.gateway else ""
        verb = "already attached" if self.already else "attached"
        addr = self.address if self.address is not None else "no address"
        on = f"veth {self.peer} on bridge {self.host_iface}" if self.peer else \
            f"macvlan on {self.host_iface}" + (f".{self.vlan} (VLAN {self.vlan})" if self.vlan else "")
        shim = f", host shim {self.shim}" if self.shim else ""
        leased = f" (DHCP lease from {self.lease.server_id}, {self.lease.lease_time} s)" if self.lease else ""
        return f"{verb}: {self.name} ({self.mac}) {addr}{leased}{via} in {self.netns}, {on}{shim}"


@dataclass
class Detachment:
    """What :func:`detach` removed; ``removed=False`` when there was nothing to detach."""

    netns: str
    name: str
    removed: bool
    host_iface: Optional[str] = None
    restored_routes: list = field(default_factory=list)
    promisc_cleared: bool = False
    shim_removed: bool = False
    lower_removed: Optional[str] = None  # the VLAN device or bridge attach had made, removed as the last user went
    lease_released: bool = False  # a DHCPRELEASE was sent for the lease attach obtained

    def __str__(self) -> str:
        if not self.removed:
            return f"nothing to detach: no {self.name} in {self.netns}"
        extra = f", {len(self.restored_routes)} default route(s) restored" if self.restored_routes else ""
        extra += f", promiscuous mode off on {self.host_iface}" if self.promisc_cleared else ""
        extra += ", host shim removed" if self.shim_removed else ""
        extra += f", {self.lower_removed} removed" if self.lower_removed else ""
        extra += ", DHCP lease released" if self.lease_released else ""
        return f"detached: {self.name} removed from {self.netns}{extra}"


# --------------------------------------------------------------------------- record (ifalias)


def _record(host: str, hidx: int, spec: AddressSpec, prev: list, promisc: bool, extra: dict) -> str:
    """The ifalias record; ``extra`` holds the optional parts (vlan, lidx, shim, peer), None ones left out."""
    data = {"host": host, "hidx": hidx, "addr": str(spec.interface) if spec.interface else None,
            "gw": str(spec.gateway) if spec.gateway else None, "prev": prev, "promisc": promisc}
    data.update({k: v for k, v in extra.items() if v is not None})
    text = ALIAS_TAG + json.dumps(data, separators=(",", ":"))
    if len(text.encode()) > 255:  # IFALIASZ - 1; keep the record whole or not at all
        data["prev"] = prev[:1]
        text = ALIAS_TAG + json.dumps(data, separators=(",", ":"))
    if len(text.encode()) > 255 and data.get("dhcp"):  # a release needs the server's address and MAC only
        data["dhcp"] = data["dhcp"][:2]
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


@dataclass(frozen=True)
class _Wanted:
    """What one attach asks for, beyond the address: compared with the record of an earlier attach."""

    mac: Optional[str]
    vlan: Optional[int]
    shim: bool
    bridged: bool


def _check_existing(link, host: str, hidx: int, spec: AddressSpec, wanted: _Wanted, ipr,
                    name: str, where: str) -> dict:
    """The record of an identical earlier attach, or raise: the name is taken."""
    rec = _read_record(link)
    if rec is None:
        raise NetlinkError(f"interface {name} already exists in {where} (not made by pcap4py attach)")
    addr = str(spec.interface) if spec.interface else None
    gw = str(spec.gateway) if spec.gateway else None
    if spec.dhcp:  # whatever the server leased: the same attach if the earlier one was a dhcp one too
        addr, gw = (rec.get("addr"), rec.get("gw")) if rec.get("dhcp") is not None else ("(not dhcp)", gw)
    elif rec.get("dhcp") is not None:
        addr = "(dhcp)"
    same = rec.get("host") == host and rec.get("hidx") == hidx and rec.get("addr") == addr
    same = same and rec.get("gw") == gw
    same = same and (wanted.mac is None or link.get_attr("IFLA_ADDRESS") == wanted.mac)
    same = same and rec.get("vlan") == wanted.vlan and bool(rec.get("shim")) == wanted.shim
    same = same and bool(rec.get("peer")) == wanted.bridged
    if same and addr:
        addrs = {f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}" for a in ipr.get_addr(index=link["index"])}
        same = addr in addrs
    if not same:
        raise NetlinkError(f"interface {name} already exists in {where}, attached by pcap4py with other "
                           f"settings ({rec.get('addr') or 'no address'} on {rec.get('host')}); detach it first")
    return rec


def _recorded_spec(rec: dict) -> AddressSpec:
    """The address and gateway an earlier attach recorded."""
    return AddressSpec(ipaddress.ip_interface(rec["addr"]) if rec.get("addr") else None,
                       ipaddress.ip_address(rec["gw"]) if rec.get("gw") else None, dhcp=rec.get("dhcp") is not None)


def _spec_of(address: Union[str, AddressSpec], gateway: Optional[str]) -> AddressSpec:
    if isinstance(address, AddressSpec):
        if gateway is not None and address.interface is not None:
            return parse_address(str(address.interface), gateway)
        return address
    return parse_address(address, gateway)


@dataclass
class _Attach:
    """One attach under way: both netlink sockets and what the steps need from each other."""

    host: object  # IPRoute in the host namespace
    guest: object  # IPRoute in the target namespace
    path: str
    host_iface: str
    hlink: object  # None until ensure_bridge made a missing bridge
    name: str
    spec: AddressSpec
    wanted: _Wanted
    prev: list
    dhcp_timeout: float = dhcp.DEFAULT_TIMEOUT
    lease: Optional[dhcp.LeaseRecord] = None  # with dhcp: what the server granted
    tmp: str = field(default_factory=lambda: f"p4m{uuid.uuid4().hex[:8]}")
    stack_on: Optional[int] = None  # what the macvlan hangs on: the host interface or its VLAN device
    lidx: Optional[int] = None  # the VLAN device's index

    @property
    def hidx(self) -> int:
        return self.hlink["index"]

    @property
    def af(self) -> int:
        return socket.AF_INET if self.spec.version != 6 else socket.AF_INET6

    @property
    def peer(self) -> Optional[str]:
        """The host end of the veth pair (bridge host side)."""
        return "p4v" + self.tmp[3:] if self.wanted.bridged else None

    @property
    def shim(self) -> Optional[str]:
        return "p4s" + self.tmp[3:] if self.wanted.shim else None

    def record(self, promisc_set: bool) -> str:
        return _record(self.host_iface, self.hidx, self.spec, self.prev, promisc_set,
                       {"vlan": self.wanted.vlan, "lidx": self.lidx, "shim": self.shim, "peer": self.peer,
                        "dhcp": self.lease.as_list() if self.lease else None})

    def ensure_lease(self) -> dhcp.LeaseRecord:
        """Ask the LAN's DHCP server for a lease; from now on the spec is the leased address and router."""
        lease = dhcp.obtain(self.path, self.name, self.spec.hostname, self.dhcp_timeout)
        self.spec = AddressSpec(ipaddress.ip_interface(lease.address),
                                ipaddress.ip_address(lease.gateway) if lease.gateway else None,
                                dhcp=True, hostname=self.spec.hostname)
        self.lease = lease
        return lease

    def undo_lease(self, lease: dhcp.LeaseRecord) -> None:
        dhcp.release(self.path, self.name, lease)

    # each ensure_* is one step; its undo follows it

    def ensure_promisc(self, wanted: bool) -> bool:
        """Turn promiscuous mode on on the host interface if wanted and off; True if this call did."""
        if not wanted or self.hlink["flags"] & IFF_PROMISC:
            return False
        set_promisc(self.host, self.hidx, True)
        return True

    def undo_promisc(self, was_set: bool) -> None:
        if was_set:
            set_promisc(self.host, self.hidx, False)

    def ensure_vlan(self) -> tuple[int, bool]:
        made = lower.ensure_vlan(self.host, self.hlink, self.wanted.vlan)
        self.stack_on = self.lidx = made[0]
        return made

    def ensure_bridge(self) -> tuple[int, bool]:
        made = lower.ensure_bridge(self.host, self.host_iface)
        self.hlink = self.host.get_links(made[0])[0]
        return made

    def undo_lower(self, made: tuple[int, bool]) -> None:
        lower.undo_lower(self.host, made)

    def ensure_macvlan(self) -> None:
        """A bridge-mode macvlan on the host interface (or its VLAN device), with its MTU, under a temporary name."""
        idx = self.stack_on or self.hidx
        mtu = self.host.get_links(idx)[0].get_attr("IFLA_MTU")
        self.host.link("add", ifname=self.tmp, kind="macvlan", link=idx, macvlan_mode="bridge", mtu=mtu)

    def undo_macvlan(self, _: None) -> None:
        # by name, on both sides: wherever a move cut short left it
        for ipr in (self.host, self.guest):
            lower.remove_link(ipr, self.tmp)

    def ensure_veth(self) -> None:
        """A veth pair with the bridge's MTU: the host end enslaved to the bridge and up, the other
        (temporary name) to be moved."""
        mtu = self.hlink.get_attr("IFLA_MTU")
        self.host.link("add", ifname=self.peer, kind="veth", mtu=mtu, peer={"ifname": self.tmp, "mtu": mtu})
        try:
            self.host.link("set", index=self.host.link_lookup(ifname=self.peer)[0], master=self.hidx, state="up")
        except BaseException:
            self.undo_veth(None)  # the step failed half-way: its undo is not registered yet
            raise

    def undo_veth(self, _: None) -> None:
        lower.remove_link(self.host, self.peer)  # takes the other end with it, wherever it is

    def ensure_moved(self) -> int:
        """Move the new interface into the target namespace; its index there."""
        fd = open_netns(self.path)
        try:
            self.host.link("set", index=self.host.link_lookup(ifname=self.tmp)[0], net_ns_fd=fd)
        finally:
            os.close(fd)
        found = self.guest.link_lookup(ifname=self.tmp)
        if not found:
            raise NetlinkError(f"the new interface {self.tmp} did not arrive in {self.path}")
        return found[0]

    def undo_moved(self, gidx: int) -> None:
        # by the index inside the target: the temporary name may have been replaced by the final one
        link = link_by_index(self.guest, gidx)
        if link is not None and link_kind(link) in ("macvlan", "veth"):
            self.guest.link("del", index=gidx)

    def ensure_address(self, gidx: int) -> None:
        if self.spec.interface is not None:
            self.guest.addr("add", index=gidx, address=str(self.spec.interface.ip),
                            prefixlen=self.spec.interface.network.prefixlen)

    def ensure_routed(self, gidx: int) -> None:
        """pipework's order: delete the default route, then add one through the gateway on the new link."""
        if not self.spec.gateway:
            return
        for route in self.prev:
            args = _route_args(self.guest, self.af, route)
            if args:
                self.guest.route("del", **args)
        try:
            self.guest.route("replace", dst="default", family=self.af, gateway=str(self.spec.gateway), oif=gidx,
                             table=RT_TABLE_MAIN)
        except BaseException:
            _restore_routes(self.guest, self.af, self.prev)  # the step failed half-way: undo its first half
            raise

    def undo_routed(self, gidx: int) -> None:
        if self.spec.gateway:
            _unreplace_default(self.guest, self.af, gidx, self.prev)

    def ensure_shim(self) -> None:
        lower.ensure_shim(self.host, self.stack_on or self.hidx, self.shim, self.spec.interface)

    def undo_shim(self, _: None) -> None:
        lower.remove_link(self.host, self.shim)  # its route goes with it

    def announce(self, gidx: int) -> str:
        """The new interface's MAC, announced with a gratuitous ARP for IPv4."""
        mac = self.guest.get_links(gidx)[0].get_attr("IFLA_ADDRESS")
        if self.spec.version == 4:
            _gratuitous_arp(self.path, self.name, mac, self.spec.interface.ip)
        return mac

    def run(self, tx: Transaction, promisc: bool) -> tuple[int, bool, str]:
        """The steps, in pipework's order: (index in the target, promisc set, final MAC)."""
        host_iface, name = self.host_iface, self.name
        if self.wanted.bridged:
            tx.step("bridge", self.ensure_bridge, self.undo_lower, doing=f"create the bridge {host_iface}")
        promisc_set = tx.step("promisc", lambda: self.ensure_promisc(promisc), self.undo_promisc,
                              doing=f"turn promiscuous mode on on {host_iface}")
        if self.wanted.bridged:
            tx.step("veth", self.ensure_veth, self.undo_veth, doing=f"create a veth pair on bridge {host_iface}")
        else:
            if self.wanted.vlan:
                vname = lower.vlan_name(host_iface, self.wanted.vlan)
                tx.step("vlan", self.ensure_vlan, self.undo_lower, doing=f"create the VLAN interface {vname}",
                        messages={errno.EOPNOTSUPP: f"attach failed, rolled back: cannot create {vname}: this "
                                                    f"kernel has no 802.1Q VLAN support (CONFIG_VLAN_8021Q)"})
            tx.step("create", self.ensure_macvlan, self.undo_macvlan, doing=f"create a macvlan on {host_iface}")
        gidx = tx.step("move", self.ensure_moved, self.undo_moved, doing=f"move the new interface into {self.path}")
        record = self.record(promisc_set)
        tx.step("name", lambda: self.guest.link("set", index=gidx, ifname=name, ifalias=record),
                doing=f"rename the new interface to {name}",
                messages={errno.EEXIST: f"interface {name} already exists in {self.path}"})
        tx.step("mac", lambda: self.wanted.mac and self.guest.link("set", index=gidx, address=self.wanted.mac),
                doing=f"set the MAC address of {name}")
        tx.step("up", lambda: self.guest.link("set", index=gidx, state="up"), doing=f"bring {name} up")
        if self.spec.dhcp:
            tx.step("lease", self.ensure_lease, self.undo_lease, doing=f"obtain a DHCP lease for {name}")
            tx.step("record", lambda: self.guest.link("set", index=gidx, ifalias=self.record(promisc_set)),
                    doing=f"record the lease on {name}")
        tx.step("address", lambda: self.ensure_address(gidx), doing=f"add the address to {name}")
        tx.step("gateway", lambda: self.ensure_routed(gidx), lambda _: self.undo_routed(gidx),
                doing="replace the default route")
        if self.wanted.shim:
            tx.step("shim", self.ensure_shim, self.undo_shim, doing=f"make the host shim {self.shim}")
        final_mac = tx.step("announce", lambda: self.announce(gidx), doing=f"read back {name}")
        return gidx, promisc_set, final_mac


def _check_options(host_iface: str, spec: AddressSpec, vlan: Optional[int], host_shim: bool) -> None:
    if vlan is not None:
        lower.vlan_name(host_iface, vlan)  # checks the id and the name's length
    if host_shim and spec.interface is None:
        raise AddressError(f"--host-shim needs an address to route to (not {spec})")


def _host_link(host, host_iface: str, vlan: Optional[int], host_shim: bool) -> tuple[object, bool]:
    """(the host interface's link or None for a bridge to make, whether the host side is a bridge)."""
    hlink = link_by_name(host, host_iface)
    if lower.is_bridge_target(hlink, host_iface):
        if vlan is not None or host_shim:
            raise NetlinkError(f"{host_iface} is a bridge: --vlan and --host-shim are for a macvlan on an "
                               f"Ethernet interface (the host reaches a bridge's ports through the bridge)")
        return hlink, True
    return ethernet_link(host, host_iface, missing="no host interface {name!r}",
                         loopback="cannot attach a macvlan to the loopback interface {name}"), False


def attach(host_iface: str, target: NetnsRef, address: Union[str, AddressSpec], *,
           gateway: Optional[str] = None, name: str = "eth1", mac: Optional[str] = None,
           promisc: bool = False, vlan: Optional[int] = None, host_shim: bool = False,
           family: Optional[int] = None, mac_seed: Optional[str] = None,
           dhcp_timeout: float = dhcp.DEFAULT_TIMEOUT) -> Attachment:
    """Attach namespace ``target`` to the LAN of ``host_iface``, as pipework does, with an interface named ``name``.

    ``target`` is a PID, a name under /run/netns or a namespace path; it is
    opened once and every step uses that open namespace (a PID reused meanwhile
    cannot receive the interface).  ``address`` is ``IP/PREFIX``, pipework's
    ``IP/PREFIX@GATEWAY`` (or give ``gateway=``), or ``0/0`` for an interface up
    without an address; with a gateway, the target's default route goes through
    it on the new interface.  ``dhcp`` or ``dhcp:HOSTNAME`` asks the LAN's DHCP
    server (DHCPv4, within ``dhcp_timeout`` seconds) for the address and
    gateway; the lease is recorded with the interface and released by detach.  ``family`` (4 or 6) refuses an address of the
    other family.

    The host side: a bridge-mode macvlan on ``host_iface``; with ``vlan``, on its
    VLAN sub-interface ``HOSTIF.VLAN`` (made if missing, shared, removed by the
    last detach); when ``host_iface`` is a bridge (or missing and named ``br*``:
    then made), a veth pair with one end on the bridge instead.  ``host_shim``
    adds a host-side macvlan with a route to the address, so the host reaches
    the target.  ``mac`` sets the MAC (``U:[SUFFIX]``: derived from
    ``mac_seed``, default the target as given); ``promisc`` turns promiscuous
    mode on on the host interface if it is off.  The MTU is the host side's.

    Running the same attach again changes nothing and returns ``already=True``.
    Any failure, and SIGINT or SIGTERM, undoes every earlier step and raises a
    :class:`~pcap4py.errors.Pcap4pyError`.
    """
    spec = _spec_of(address, gateway)
    check_family(spec, family)
    mac = resolve_mac(mac, mac_seed if mac_seed is not None else str(target))
    check_ifname(name)
    _check_options(host_iface, spec, vlan, host_shim)
    shown = resolve_netns(target)
    with pinned(target) as path:
        if netns_key(path) == netns_key():
            raise HostNetworkContainer(f"{target} shares this host's network namespace: nothing to attach into")
        with rtnl() as host, rtnl(path) as guest:
            hlink, bridged = _host_link(host, host_iface, vlan, host_shim)
            wanted = _Wanted(mac, vlan, host_shim, bridged)
            existing = link_by_name(guest, name)
            if existing is not None:
                rec = _check_existing(existing, host_iface, hlink["index"] if hlink else None, spec, wanted, guest,
                                      name, str(target))
                spec = _recorded_spec(rec) if spec.dhcp else spec
                return Attachment(host_iface, shown, name, spec.interface, spec.gateway,
                                  existing.get_attr("IFLA_ADDRESS"), existing["index"],
                                  promisc_set=bool(rec.get("promisc")), already=True,
                                  replaced_routes=rec.get("prev") or [], vlan=vlan, shim=rec.get("shim"),
                                  peer=rec.get("peer"),
                                  lease=dhcp.LeaseRecord.from_record(rec) if rec.get("dhcp") is not None else None)
            af = socket.AF_INET6 if spec.version == 6 else socket.AF_INET
            job = _Attach(host, guest, path, host_iface, hlink, name, spec, wanted,
                          _default_routes(guest, af) if spec.gateway or spec.dhcp else [], dhcp_timeout)
            with Transaction("attach", "attach failed, rolled back") as tx:
                gidx, promisc_set, final_mac = job.run(tx, promisc)
    spec = job.spec  # with dhcp: the leased address and router
    return Attachment(host_iface, shown, name, spec.interface, spec.gateway, final_mac, gidx, lease=job.lease,
                      promisc_set=promisc_set, replaced_routes=job.prev, vlan=vlan, shim=job.shim, peer=job.peer)


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


def _unreplace_default(ipr, af: int, gidx: int, prev: list[dict]) -> None:
    # ours first: the kernel refuses a second default route of the same metric
    for r in ipr.get_routes(family=af, table=RT_TABLE_MAIN):
        if r["dst_len"] == 0 and r.get_attr("RTA_OIF") == gidx:
            ipr.route("del", dst="default", family=af, oif=gidx, table=RT_TABLE_MAIN,
                      gateway=r.get_attr("RTA_GATEWAY"))
    _restore_routes(ipr, af, prev)


# --------------------------------------------------------------------------- keeping a lease


def keep_lease(target: NetnsRef, name: str, stop) -> None:
    """Renew the DHCP lease that attach obtained for ``name`` in ``target`` until ``stop`` (a
    :class:`threading.Event`) is set, recording each renewal in the interface's record.  A server
    that hands out another address on renewal is not followed (the address stays; detach and attach
    again).  Raises :class:`NetlinkError` if ``name`` has no lease of pcap4py's."""
    with pinned(target) as path:
        with rtnl(path) as guest:
            link = link_by_name(guest, name)
            rec = _read_record(link) if link is not None else None
        if rec is None or rec.get("dhcp") is None:
            raise NetlinkError(f"{name} in {target} has no DHCP lease from pcap4py attach")

        def record_renewal(lease: dhcp.LeaseRecord) -> None:
            rec["dhcp"] = lease.as_list()
            with rtnl(path) as ipr:
                found = link_by_name(ipr, name)
                if found is not None and _read_record(found) is not None:
                    ipr.link("set", index=found["index"], ifalias=ALIAS_TAG + json.dumps(rec, separators=(",", ":")))

        def renewed(lease: dhcp.LeaseRecord) -> None:
            # called inside the DHCP client's event loop, where pyroute2's synchronous IPRoute cannot run
            worker = threading.Thread(target=record_renewal, args=(lease,), daemon=True)
            worker.start()
            worker.join(5)

        dhcp.keep(path, name, dhcp.LeaseRecord.from_record(rec), stop, on_renewed=renewed)


# --------------------------------------------------------------------------- detach


def _clear_promisc(rec: dict) -> bool:
    """Turn promiscuous mode off on the host interface if attach turned it on and it is still that one."""
    if not rec.get("promisc"):
        return False
    with rtnl() as host:
        hlink = link_by_index(host, rec.get("hidx") or 0)
        # only if it is still the same interface and still promiscuous
        if hlink is None or hlink.get_attr("IFLA_IFNAME") != rec.get("host") or not hlink["flags"] & IFF_PROMISC:
            return False
        set_promisc(host, hlink["index"], False)
        return True


def _release_lower(rec: dict) -> Optional[str]:
    """Remove the VLAN device or bridge attach made, if this was its last user; its name if removed."""
    if rec.get("vlan"):
        idx, name = rec.get("lidx"), f"{rec.get('host')}.{rec.get('vlan')}"
    else:
        idx, name = rec.get("hidx"), rec.get("host")
    with rtnl() as host:
        link = link_by_index(host, idx) if idx else None
        if link is None or link.get_attr("IFLA_IFNAME") != name:
            return None  # gone, or the index now belongs to another device
        return name if lower.release(host, idx) else None


def _remove_shim(rec: dict) -> bool:
    with rtnl() as host:
        return lower.remove_link(host, rec.get("shim"))


def detach(target: NetnsRef, name: str = "eth1") -> Detachment:
    """Remove what :func:`attach` made: the interface ``name`` in namespace ``target``, and nothing else.

    Restores the default routes attach replaced and, if attach turned it on, the
    host interface's promiscuous mode; removes the host shim, and the VLAN
    device or bridge attach made once nothing else uses it.  Refuses to remove
    an interface that pcap4py did not attach.  Detaching when nothing is
    attached is a no-op (``removed=False``).  SIGINT or SIGTERM during detach
    let it finish (a removed interface cannot be put back as it was), then it
    reports the interruption.
    """
    shown = resolve_netns(target)
    with pinned(target) as path, rtnl(path) as guest:
        link = link_by_name(guest, name)
        if link is None:
            return Detachment(shown, name, removed=False)
        rec = _read_record(link)
        if rec is None or link_kind(link) not in ("macvlan", "veth"):
            raise NetlinkError(f"{name} in {target} was not made by pcap4py attach; not removing it")
        af = socket.AF_INET6 if ":" in (rec.get("addr") or "") else socket.AF_INET
        shim_removed, lower_removed, released = False, None, False
        with Transaction("detach", f"detach of {name} in {shown}", on_signal="finish") as tx:
            if rec.get("dhcp") is not None:  # while the interface is still there to send from
                released = tx.step("release", lambda: dhcp.release(path, name, dhcp.LeaseRecord.from_record(rec)),
                                   doing="release the DHCP lease")
            tx.step("delete", lambda: guest.link("del", index=link["index"]), doing=f"remove {name}")
            if rec.get("shim"):
                shim_removed = tx.step("shim", lambda: _remove_shim(rec), doing=f"remove the host shim {rec['shim']}")
            restored = tx.step("routes", lambda: _restore_routes(guest, af, rec.get("prev") or []),
                               doing="restore the default routes")
            if rec.get("vlan") or rec.get("peer"):
                lower_removed = tx.step("lower", lambda: _release_lower(rec),
                                        doing="remove the VLAN interface or bridge attach made")
            cleared = tx.step("promisc", lambda: _clear_promisc(rec),
                              doing=f"turn promiscuous mode off on {rec.get('host')}")
    return Detachment(shown, name, removed=True, host_iface=rec.get("host"), restored_routes=restored,
                      promisc_cleared=cleared, shim_removed=shim_removed, lower_removed=lower_removed,
                      lease_released=released)
