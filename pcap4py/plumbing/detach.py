"""Detach: remove exactly what :func:`pcap4py.plumbing.macvlan.attach` made, as its record says.

The interface's :class:`~pcap4py.plumbing.record.AttachRecord` names what attach
made or changed: the default routes it replaced, promiscuous mode it turned on,
a host shim, a VLAN device or bridge it created, a DHCP lease.  The steps run as
one :class:`~pcap4py.plumbing.transaction.Transaction` that finishes on
SIGINT/SIGTERM (a removed interface cannot be put back as it was); their names
(what :data:`~pcap4py.plumbing.transaction.HOOKS` are called with): "release"
(dhcp), "delete", "shim", "routes", "lower" (VLAN device or bridge), "promisc",
the optional ones only when attach made that part.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Optional

from ..errors import NetlinkError
from ..netns import NetnsRef, pinned, resolve_netns
from . import dhcp, lower
from .record import AttachRecord
from .routes import restore_routes
from .rtnl import IFF_PROMISC, link_by_index, link_by_name, link_kind, rtnl, set_promisc
from .transaction import Transaction

__all__ = ["Detachment", "detach"]


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


def _clear_promisc(rec: AttachRecord) -> bool:
    """Turn promiscuous mode off on the host interface if attach turned it on and it is still that one."""
    if not rec.promisc:
        return False
    with rtnl() as host:
        hlink = link_by_index(host, rec.hidx or 0)
        # only if it is still the same interface and still promiscuous
        if hlink is None or hlink.get_attr("IFLA_IFNAME") != rec.host or not hlink["flags"] & IFF_PROMISC:
            return False
        set_promisc(host, hlink["index"], False)
        return True


def _release_lower(rec: AttachRecord) -> Optional[str]:
    """Remove the VLAN device or bridge attach made, if this was its last user; its name if removed."""
    if rec.vlan:
        idx, name = rec.lidx, f"{rec.host}.{rec.vlan}"
    else:
        idx, name = rec.hidx, rec.host
    with rtnl() as host:
        link = link_by_index(host, idx) if idx else None
        if link is None or link.get_attr("IFLA_IFNAME") != name:
            return None  # gone, or the index now belongs to another device
        return name if lower.release(host, idx) else None


def _remove_shim(rec: AttachRecord) -> bool:
    with rtnl() as host:
        return lower.remove_link(host, rec.shim)


def detach(target: NetnsRef, name: str = "eth1") -> Detachment:
    """Remove what :func:`~pcap4py.plumbing.macvlan.attach` made: the interface ``name`` in
    namespace ``target``, and nothing else.

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
        rec = AttachRecord.of_link(link)
        if rec is None or link_kind(link) not in ("macvlan", "veth"):
            raise NetlinkError(f"{name} in {target} was not made by pcap4py attach; not removing it")
        af = socket.AF_INET6 if ":" in (rec.addr or "") else socket.AF_INET
        shim_removed, lower_removed, released = False, None, False
        with Transaction("detach", f"detach of {name} in {shown}", on_signal="finish") as tx:
            if rec.lease is not None:  # while the interface is still there to send from
                released = tx.step("release", lambda: dhcp.release(path, name, rec.lease),
                                   doing="release the DHCP lease")
            tx.step("delete", lambda: guest.link("del", index=link["index"]), doing=f"remove {name}")
            if rec.shim:
                shim_removed = tx.step("shim", lambda: _remove_shim(rec), doing=f"remove the host shim {rec.shim}")
            restored = tx.step("routes", lambda: restore_routes(guest, af, rec.prev),
                               doing="restore the default routes")
            if rec.vlan or rec.peer:
                lower_removed = tx.step("lower", lambda: _release_lower(rec),
                                        doing="remove the VLAN interface or bridge attach made")
            cleared = tx.step("promisc", lambda: _clear_promisc(rec),
                              doing=f"turn promiscuous mode off on {rec.host}")
    return Detachment(shown, name, removed=True, host_iface=rec.host, restored_routes=restored,
                      promisc_cleared=cleared, shim_removed=shim_removed, lower_removed=lower_removed,
                      lease_released=released)
