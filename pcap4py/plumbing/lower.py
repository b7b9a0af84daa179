"""The host side of an attach besides the plain host interface: a shared VLAN sub-interface, a
bridge, and the host shim (pipework's ``@VLAN``, bridge host interfaces, and the usual macvlan
"host cannot reach its containers" workaround).

A VLAN device or bridge that attach *made* carries :data:`LOWER_TAG` as its
ifalias; it is shared by later attaches and removed once nothing uses it any
more (by detach, or by the rollback of the attach that made it).  A device that
was there before attach is never removed.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Optional, Union

from ..errors import NetlinkError, Pcap4pyError
from ..netns import other_namespaces
from .rtnl import IFNAME_MAX, link_by_index, link_by_name, link_kind, rtnl

__all__ = ["LOWER_TAG", "vlan_name", "ensure_vlan", "ensure_bridge", "release", "ensure_shim", "remove_link",
           "is_bridge_target"]

LOWER_TAG = "pcap4py-lower"
VLAN_IDS = range(1, 4095)

IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]


def vlan_name(host: str, vid: int) -> str:
    """``HOSTIF.VLAN``, checked: the kernel's names have at most 15 characters."""
    if vid not in VLAN_IDS:
        raise NetlinkError(f"bad VLAN id {vid} (1-4094)")
    name = f"{host}.{vid}"
    if len(name) > IFNAME_MAX:
        raise NetlinkError(f"VLAN interface name {name} is longer than {IFNAME_MAX} characters")
    return name


def is_bridge_target(link, name: str) -> bool:
    """pipework's rule: the host side is a bridge if it is one, or if it is missing and named ``br*``."""
    return link_kind(link) == "bridge" if link is not None else name.startswith("br")


def _made_by_us(link) -> bool:
    return (link.get_attr("IFLA_IFALIAS") or "") == LOWER_TAG


def _create_tagged(ipr, name: str, **spec) -> tuple[int, bool]:
    """Create ``name`` tagged as ours and up, or find it made meanwhile by someone else: (index, created)."""
    try:
        ipr.link("add", ifname=name, **spec)
    except Exception as e:  # noqa: BLE001 - only EEXIST is expected: another attach made it meanwhile
        if getattr(e, "code", None) != errno.EEXIST:
            raise
        return link_by_name(ipr, name)["index"], False
    idx = ipr.link_lookup(ifname=name)[0]
    try:
        ipr.link("set", index=idx, ifalias=LOWER_TAG, state="up")
    except BaseException:
        ipr.link("del", index=idx)
        raise
    return idx, True


def ensure_vlan(ipr, hlink, vid: int) -> tuple[int, bool]:
    """The VLAN sub-interface ``HOSTIF.VLAN`` of ``hlink`` (made, with the host's MTU, if missing):
    (index, created)."""
    host = hlink.get_attr("IFLA_IFNAME")
    name = vlan_name(host, vid)
    link = link_by_name(ipr, name)
    if link is None:
        return _create_tagged(ipr, name, kind="vlan", link=hlink["index"], vlan_id=vid,
                              mtu=hlink.get_attr("IFLA_MTU"))
    data = link.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_DATA") if link_kind(link) == "vlan" else None
    if data is None or link.get_attr("IFLA_LINK") != hlink["index"] or data.get_attr("IFLA_VLAN_ID") != vid:
        raise NetlinkError(f"{name} exists but is not VLAN {vid} of {host}")
    return link["index"], False


def ensure_bridge(ipr, name: str) -> tuple[int, bool]:
    """The bridge ``name`` (made if missing): (index, created)."""
    link = link_by_name(ipr, name)
    if link is not None:
        return link["index"], False
    return _create_tagged(ipr, name, kind="bridge")


STACKED = ("macvlan", "macvtap", "ipvlan", "vlan")  # kinds whose IFLA_LINK is their lower device


def _stacked_on(link, idx: int, *, across: bool) -> bool:
    """``link`` hangs on index ``idx`` (of another namespace if ``across``, else of its own)."""
    return (link_kind(link) in STACKED and link.get_attr("IFLA_LINK") == idx
            and (link.get_attr("IFLA_LINK_NETNSID") is not None) == across)


def _users_here(ipr, idx: int) -> int:
    return sum(1 for l in ipr.get_links() if l["index"] != idx
               and (_stacked_on(l, idx, across=False) or l.get_attr("IFLA_MASTER") == idx))


def _users_elsewhere(idx: int) -> int:
    """Links in other namespaces whose lower device is index ``idx`` of another namespace (ours, most
    likely: a false positive only keeps the device)."""
    count = 0
    for path in other_namespaces():
        try:
            with rtnl(path) as ipr:
                count += sum(1 for l in ipr.get_links() if _stacked_on(l, idx, across=True))
        except (OSError, Pcap4pyError):
            continue  # gone meanwhile, or not ours to look into
    return count


def release(ipr, idx: Optional[int]) -> bool:
    """Remove the VLAN device or bridge ``idx`` if attach made it and nothing uses it any more
    (no macvlan on it, here or in any namespace; no bridge port); True if removed."""
    link = link_by_index(ipr, idx) if idx else None
    if link is None or not _made_by_us(link):
        return False
    if _users_here(ipr, idx) or (link_kind(link) == "vlan" and _users_elsewhere(idx)):
        return False
    ipr.link("del", index=idx)
    return True


def undo_lower(ipr, made: tuple[int, bool]) -> None:
    """The undo of :func:`ensure_vlan` / :func:`ensure_bridge`."""
    idx, created = made
    if created:
        release(ipr, idx)


def ensure_shim(ipr, lower: int, name: str, address: IPInterface) -> int:
    """A bridge-mode macvlan ``name`` in the host on ``lower``, up, with a host route to ``address``
    through it, so the host reaches the container (a macvlan's lower device cannot).  The route's
    source is the host's own address in the container's subnet, if it has one."""
    mtu = ipr.get_links(lower)[0].get_attr("IFLA_MTU")
    ipr.link("add", ifname=name, kind="macvlan", link=lower, macvlan_mode="bridge", mtu=mtu)
    idx = ipr.link_lookup(ifname=name)[0]
    try:
        ipr.link("set", index=idx, state="up")
        af = socket.AF_INET if address.version == 4 else socket.AF_INET6
        route = {"dst": str(address.ip), "dst_len": address.max_prefixlen, "family": af, "oif": idx}
        src = _own_address_in(ipr, address.network, af)
        if src:
            route["prefsrc"] = src
        ipr.route("add", **route)
    except BaseException:
        ipr.link("del", index=idx)  # half made: the caller's undo is not registered yet
        raise
    return idx


def _own_address_in(ipr, network, af: int) -> Optional[str]:
    for a in ipr.get_addr(family=af):
        ip = a.get_attr("IFA_ADDRESS")
        if ip and ipaddress.ip_address(ip) in network:
            return ip
    return None


def remove_link(ipr, name: Optional[str]) -> bool:
    """Delete link ``name`` if it is there (a veth pair goes with either end); True if it was."""
    found = ipr.link_lookup(ifname=name) if name else []
    if found:
        ipr.link("del", index=found[0])
    return bool(found)
