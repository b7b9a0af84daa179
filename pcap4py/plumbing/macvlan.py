"""pipework-style macvlan attachment of a container (or any network namespace) to a host interface.

:func:`attach` does, through netlink and in pipework's order, the six steps of the manual
macvlan recipe (the one the kaitoy/pcap4j README runs with ``ip link`` and pipework):

1. create a macvlan in bridge mode on the host interface (temporary name, the host's MTU),
2. move it into the target's network namespace,
3. name it (``eth1``) and set its MAC if one was given,
4. bring it up,
5. add the address,
6. with a gateway: replace the target's default route by one through the gateway on the new link
   (:mod:`pcap4py.plumbing.routes`),

then, for IPv4, a gratuitous ARP so that the LAN learns the new address at once (as pipework does).

pipework's other host sides (:mod:`pcap4py.plumbing.lower`): with a VLAN, the
macvlan sits on the shared sub-interface ``HOSTIF.VLAN``; when the host
interface is a bridge, a veth pair replaces the macvlan (one end enslaved to
the bridge, the other moved in); ``--host-shim`` adds a host-side macvlan with
a route to the new address, so the host reaches the container.

The steps run as one :class:`~pcap4py.plumbing.transaction.Transaction`: if
any step fails, or SIGINT/SIGTERM arrives, every earlier step is undone in
reverse order: no half-made interface is left in the host or in the target, the
default route and the host interface's promiscuous flag are as they were.  The
steps' names (what :data:`~pcap4py.plumbing.transaction.HOOKS` are called with):
"promisc", "create", "move", "name", "mac", "up", "address", "gateway", "announce";
"vlan" before "create" with a VLAN; "bridge" first and "veth" instead of "create"
on a bridge; "lease" and "record" after "up" with dhcp; "shim" before "announce"
with a host shim.

What attach changed is recorded on the new interface itself
(:class:`~pcap4py.plumbing.record.AttachRecord`, in its alias);
:func:`pcap4py.plumbing.detach.detach` reads it to remove exactly what attach
made, and a second identical :func:`attach` recognises its own work and does nothing.

Targets are network namespaces: a PID, a name under ``/run/netns``, or a
namespace file path (:func:`pcap4py.netns.resolve_netns`).  Containers are
resolved to their namespace above this layer
(:func:`pcap4py.container.plumbing.namespace_of`).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Optional, Union

from ..errors import AddressError, HostNetworkContainer, NetlinkError
from ..netns import NetnsRef, netns_key, open_netns, pinned, resolve_netns, run_in_netns
from . import dhcp, lower
from .address import AddressSpec, IPAddress, IPInterface, check_family, resolve_mac, spec_of
from .record import AttachRecord
from .routes import default_routes, replace_default, unreplace_default
from .rtnl import IFF_PROMISC, errno_of, check_ifname, ethernet_link, link_by_index, link_by_name, link_kind, rtnl, set_promisc
from .transaction import Transaction

MAC_IN_USE_WAIT = 5.0  # seconds a MAC held by a namespace being torn down is waited for

__all__ = ["Attachment", "attach", "keep_lease"]


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


# --------------------------------------------------------------------------- attach


@dataclass(frozen=True)
class _Wanted:
    """What one attach asks for, beyond the address: compared with the record of an earlier attach."""

    mac: Optional[str]
    vlan: Optional[int]
    shim: bool
    bridged: bool


def _check_existing(link, host: str, hidx: int, spec: AddressSpec, wanted: _Wanted, ipr,
                    name: str, where: str) -> AttachRecord:
    """The record of an identical earlier attach, or raise: the name is taken."""
    rec = AttachRecord.of_link(link)
    if rec is None:
        raise NetlinkError(f"interface {name} already exists in {where} (not made by pcap4py attach)")
    addr = str(spec.interface) if spec.interface else None
    gw = str(spec.gateway) if spec.gateway else None
    if spec.dhcp:  # whatever the server leased: the same attach if the earlier one was a dhcp one too
        addr, gw = (rec.addr, rec.gw) if rec.lease is not None else ("(not dhcp)", gw)
    elif rec.lease is not None:
        addr = "(dhcp)"
    same = rec.host == host and rec.hidx == hidx and rec.addr == addr and rec.gw == gw
    same = same and (wanted.mac is None or link.get_attr("IFLA_ADDRESS") == wanted.mac)
    same = same and rec.vlan == wanted.vlan and bool(rec.shim) == wanted.shim and bool(rec.peer) == wanted.bridged
    if same and addr:
        addrs = {f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}" for a in ipr.get_addr(index=link["index"])}
        same = addr in addrs
    if not same:
        raise NetlinkError(f"interface {name} already exists in {where}, attached by pcap4py with other "
                           f"settings ({rec.addr or 'no address'} on {rec.host}); detach it first")
    return rec


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
        """The alias that records this attach."""
        spec = self.spec
        return AttachRecord(host=self.host_iface, hidx=self.hidx, prev=self.prev, promisc=promisc_set,
                            addr=str(spec.interface) if spec.interface else None,
                            gw=str(spec.gateway) if spec.gateway else None, vlan=self.wanted.vlan,
                            lidx=self.lidx, shim=self.shim, peer=self.peer, lease=self.lease).to_alias()

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

    def set_mac(self, gidx: int) -> None:
        """Give the new interface the wanted MAC.  A macvlan's MAC must be unique on its lower
        device, and the namespace of a container's previous life (a restart, then a restore) is
        torn down by the kernel a moment after the container is gone, its macvlan with it: so
        EADDRINUSE is waited out, bounded, before it is an error."""
        deadline = time.monotonic() + MAC_IN_USE_WAIT
        while True:
            try:
                self.guest.link("set", index=gidx, address=self.wanted.mac)
                return
            except Exception as e:  # noqa: BLE001 - pyroute2's NetlinkError; anything else re-raised
                if errno_of(e) != errno.EADDRINUSE or time.monotonic() >= deadline:
                    raise
            time.sleep(0.1)

    def ensure_address(self, gidx: int) -> None:
        if self.spec.interface is not None:
            self.guest.addr("add", index=gidx, address=str(self.spec.interface.ip),
                            prefixlen=self.spec.interface.network.prefixlen)

    def ensure_routed(self, gidx: int) -> None:
        """pipework's order: delete the default route, then add one through the gateway on the new link."""
        if self.spec.gateway:
            replace_default(self.guest, self.af, str(self.spec.gateway), gidx, self.prev)

    def undo_routed(self, gidx: int) -> None:
        if self.spec.gateway:
            unreplace_default(self.guest, self.af, gidx, self.prev)

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
        tx.step("mac", lambda: self.wanted.mac and self.set_mac(gidx), doing=f"set the MAC address of {name}")
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
    spec = spec_of(address, gateway)
    check_family(spec, family)
    dhcp_timeout = dhcp.check_timeout(dhcp_timeout)
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
                spec = rec.spec if spec.dhcp else spec
                return Attachment(host_iface, shown, name, spec.interface, spec.gateway,
                                  existing.get_attr("IFLA_ADDRESS"), existing["index"], promisc_set=rec.promisc,
                                  already=True, replaced_routes=rec.prev, vlan=vlan, shim=rec.shim, peer=rec.peer,
                                  lease=rec.lease)
            af = socket.AF_INET6 if spec.version == 6 else socket.AF_INET
            job = _Attach(host, guest, path, host_iface, hlink, name, spec, wanted,
                          default_routes(guest, af) if spec.gateway or spec.dhcp else [], dhcp_timeout)
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


# --------------------------------------------------------------------------- keeping a lease


def keep_lease(target: NetnsRef, name: str, stop) -> None:
    """Renew the DHCP lease that attach obtained for ``name`` in ``target`` until ``stop`` (a
    :class:`threading.Event`) is set, recording each renewal in the interface's record.  A server
    that hands out another address on renewal is not followed (the address stays; detach and attach
    again).  Raises :class:`NetlinkError` if ``name`` has no lease of pcap4py's."""
    with pinned(target) as path:
        with rtnl(path) as guest:
            rec = AttachRecord.of_link(link_by_name(guest, name))
        if rec is None or rec.lease is None:
            raise NetlinkError(f"{name} in {target} has no DHCP lease from pcap4py attach")
        recorded = [rec]

        def record_renewal(lease: dhcp.LeaseRecord) -> None:
            recorded[0] = recorded[0].renewed(lease)
            with rtnl(path) as ipr:
                found = link_by_name(ipr, name)
                if AttachRecord.of_link(found) is not None:
                    ipr.link("set", index=found["index"], ifalias=recorded[0].to_alias())

        def renewed(lease: dhcp.LeaseRecord) -> None:
            # called inside the DHCP client's event loop, where pyroute2's synchronous IPRoute cannot run
            worker = threading.Thread(target=record_renewal, args=(lease,), daemon=True)
            worker.start()
            worker.join(5)

        dhcp.keep(path, name, rec.lease, stop, on_renewed=renewed)
