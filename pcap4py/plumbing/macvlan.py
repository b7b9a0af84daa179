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
import ipaddress
import json
import os
import re
import socket
import uuid
from dataclasses import dataclass, field
from typing import Optional, Union

from ..errors import AddressError, HostNetworkContainer, NetlinkError
from ..netns import NetnsRef, netns_key, open_netns, resolve_netns, run_in_netns
from .rtnl import IFF_PROMISC, check_ifname, ethernet_link, link_by_index, link_by_name, link_kind, rtnl, set_promisc
from .transaction import HOOKS, Transaction

__all__ = ["Attachment", "Detachment", "AddressSpec", "parse_address", "parse_mac", "attach", "detach"]

IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
ALIAS_TAG = "pcap4py-attach "
RT_TABLE_MAIN = 254

#: The transaction's test seam (:data:`pcap4py.plumbing.transaction.HOOKS`): callables run
#: after each step with its name; attach's steps are "promisc", "create", "move", "name",
#: "mac", "up", "address", "gateway", "announce"; detach's "delete", "routes", "promisc".
STEP_HOOKS = HOOKS


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


def _spec_of(address: Union[str, AddressSpec], gateway: Optional[str]) -> AddressSpec:
    if isinstance(address, AddressSpec):
        return parse_address(str(address.interface), gateway) if gateway is not None else address
    return parse_address(address, gateway)


@dataclass
class _Attach:
    """One attach under way: both netlink sockets and what the steps need from each other."""

    host: object  # IPRoute in the host namespace
    guest: object  # IPRoute in the target namespace
    path: str
    host_iface: str
    hlink: object
    name: str
    spec: AddressSpec
    mac: Optional[str]
    prev: list
    tmp: str = field(default_factory=lambda: f"p4m{uuid.uuid4().hex[:8]}")

    @property
    def hidx(self) -> int:
        return self.hlink["index"]

    @property
    def af(self) -> int:
        return socket.AF_INET if self.spec.interface.version == 4 else socket.AF_INET6

    # each _ensure_* is one step; its undo follows it

    def ensure_promisc(self, wanted: bool) -> bool:
        """Turn promiscuous mode on on the host interface if wanted and off; True if this call did."""
        if not wanted or self.hlink["flags"] & IFF_PROMISC:
            return False
        set_promisc(self.host, self.hidx, True)
        return True

    def undo_promisc(self, was_set: bool) -> None:
        if was_set:
            set_promisc(self.host, self.hidx, False)

    def ensure_macvlan(self) -> None:
        """A bridge-mode macvlan on the host interface, with its MTU, under a temporary name."""
        self.host.link("add", ifname=self.tmp, kind="macvlan", link=self.hidx, macvlan_mode="bridge",
                       mtu=self.hlink.get_attr("IFLA_MTU"))

    def undo_macvlan(self, _: None) -> None:
        # by name, on both sides: wherever a move cut short left it
        for ipr in (self.host, self.guest):
            found = ipr.link_lookup(ifname=self.tmp)
            if found:
                ipr.link("del", index=found[0])

    def ensure_moved(self) -> int:
        """Move the macvlan into the target namespace; its index there."""
        fd = open_netns(self.path)
        try:
            self.host.link("set", index=self.host.link_lookup(ifname=self.tmp)[0], net_ns_fd=fd)
        finally:
            os.close(fd)
        found = self.guest.link_lookup(ifname=self.tmp)
        if not found:
            raise NetlinkError(f"the new macvlan {self.tmp} did not arrive in {self.path}")
        return found[0]

    def undo_moved(self, gidx: int) -> None:
        # by the index inside the target: the temporary name may have been replaced by the final one
        link = link_by_index(self.guest, gidx)
        if link is not None and link_kind(link) == "macvlan":
            self.guest.link("del", index=gidx)

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

    def announce(self, gidx: int) -> str:
        """The new interface's MAC, announced with a gratuitous ARP for IPv4."""
        mac = self.guest.get_links(gidx)[0].get_attr("IFLA_ADDRESS")
        if self.spec.interface.version == 4:
            _gratuitous_arp(self.path, self.name, mac, self.spec.interface.ip)
        return mac


def attach(host_iface: str, target: NetnsRef, address: Union[str, AddressSpec], *,
           gateway: Optional[str] = None, name: str = "eth1", mac: Optional[str] = None,
           promisc: bool = False) -> Attachment:
    """Attach namespace ``target`` to the LAN of ``host_iface`` with a bridge-mode macvlan named ``name``.

    ``target`` is a PID, a name under /run/netns or a namespace path.
    ``address`` is ``IP/PREFIX`` or pipework's ``IP/PREFIX@GATEWAY`` (or give ``gateway=``);
    with a gateway, the target's default route goes through it on the new interface.
    ``mac`` sets the interface's MAC; ``promisc`` turns promiscuous mode on on the
    host interface (needed on some VMs) if it is off.  Running the same attach
    again changes nothing and returns ``already=True``.  Any failure, and SIGINT or
    SIGTERM, undoes every earlier step and raises a :class:`~pcap4py.errors.Pcap4pyError`.
    """
    spec = _spec_of(address, gateway)
    mac = parse_mac(mac) if mac else None
    check_ifname(name)
    path = resolve_netns(target)
    if netns_key(path) == netns_key():
        raise HostNetworkContainer(f"{target} shares this host's network namespace: nothing to attach into")

    with rtnl() as host, rtnl(path) as guest:
        hlink = ethernet_link(host, host_iface, missing="no host interface {name!r}",
                              loopback="cannot attach a macvlan to the loopback interface {name}")
        existing = link_by_name(guest, name)
        if existing is not None:
            rec = _check_existing(existing, host_iface, hlink["index"], spec, mac, guest, name, str(target))
            return Attachment(host_iface, path, name, spec.interface, spec.gateway,
                              existing.get_attr("IFLA_ADDRESS"), existing["index"],
                              promisc_set=bool(rec.get("promisc")), already=True,
                              replaced_routes=rec.get("prev") or [])
        job = _Attach(host, guest, path, host_iface, hlink, name, spec, mac,
                      _default_routes(guest, socket.AF_INET if spec.interface.version == 4 else socket.AF_INET6)
                      if spec.gateway else [])
        with Transaction("attach", "attach failed, rolled back") as tx:
            promisc_set = tx.step("promisc", lambda: job.ensure_promisc(promisc), job.undo_promisc,
                                  doing=f"turn promiscuous mode on on {host_iface}")
            tx.step("create", job.ensure_macvlan, job.undo_macvlan, doing=f"create a macvlan on {host_iface}")
            gidx = tx.step("move", job.ensure_moved, job.undo_moved, doing=f"move the macvlan into {path}")
            record = _record(host_iface, job.hidx, spec, job.prev, promisc_set)
            tx.step("name", lambda: guest.link("set", index=gidx, ifname=name, ifalias=record),
                    doing=f"rename the macvlan to {name}",
                    messages={errno.EEXIST: f"interface {name} already exists in {path}"})
            tx.step("mac", lambda: mac and guest.link("set", index=gidx, address=mac),
                    doing=f"set the MAC address of {name}")
            tx.step("up", lambda: guest.link("set", index=gidx, state="up"), doing=f"bring {name} up")
            tx.step("address", lambda: guest.addr("add", index=gidx, address=str(spec.interface.ip),
                                                  prefixlen=spec.interface.network.prefixlen),
                    doing=f"add the address to {name}")
            tx.step("gateway", lambda: job.ensure_routed(gidx), lambda _: job.undo_routed(gidx),
                    doing="replace the default route")
            final_mac = tx.step("announce", lambda: job.announce(gidx), doing=f"read back {name}")
    return Attachment(host_iface, path, name, spec.interface, spec.gateway, final_mac, gidx,
                      promisc_set=promisc_set, replaced_routes=job.prev)


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


def detach(target: NetnsRef, name: str = "eth1") -> Detachment:
    """Remove what :func:`attach` made: the interface ``name`` in namespace ``target``, and nothing else.

    Restores the default routes attach replaced and, if attach turned it on, the
    host interface's promiscuous mode.  Refuses to remove an interface that
    pcap4py did not attach.  Detaching when nothing is attached is a no-op
    (``removed=False``).  SIGINT or SIGTERM during detach let it finish (a
    removed interface cannot be put back as it was), then it reports the
    interruption.
    """
    path = resolve_netns(target)
    with rtnl(path) as guest:
        link = link_by_name(guest, name)
        if link is None:
            return Detachment(path, name, removed=False)
        rec = _read_record(link)
        if rec is None or link_kind(link) != "macvlan":
            raise NetlinkError(f"{name} in {target} was not made by pcap4py attach; not removing it")
        af = socket.AF_INET6 if ":" in (rec.get("addr") or "") else socket.AF_INET
        with Transaction("detach", f"detach of {name} in {path}", on_signal="finish") as tx:
            tx.step("delete", lambda: guest.link("del", index=link["index"]), doing=f"remove {name}")
            restored = tx.step("routes", lambda: _restore_routes(guest, af, rec.get("prev") or []),
                               doing="restore the default routes")
            cleared = tx.step("promisc", lambda: _clear_promisc(rec),
                              doing=f"turn promiscuous mode off on {rec.get('host')}")
    return Detachment(path, name, removed=True, host_iface=rec.get("host"), restored_routes=restored,
                      promisc_cleared=cleared)
