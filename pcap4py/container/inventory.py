"""The netlink inventory of a network namespace: links, addresses, and the host-side veth peers.

Read through netlink (:func:`pcap4py.plumbing.rtnl.rtnl`), never by parsing
``ip`` output.  A container interface's host-side veth peer is the host
interface whose ifindex equals the container interface's ``IFLA_LINK`` (its
``/sys/class/net/IFACE/iflink``, the manual way of finding a container's veth:
read ``iflink`` inside the container, then look for that ifindex on the host)
and whose own ``IFLA_LINK`` points back at it.  The results are plain dicts;
:mod:`.model` makes records of them.
"""

from __future__ import annotations

import ipaddress
from typing import Optional

from ..netns import NetnsRef, netns_key
from ..plumbing.rtnl import IFF_LOOPBACK, IFF_UP, link_kind, netlink_errors, rtnl
from ..userns import in_owned, must_join

__all__ = ["interfaces", "is_own_namespace", "norm_ip"]


def norm_ip(ip: str) -> str:
    """One spelling per address (the one ``inet_ntop`` and packets use); a ``%zone`` is dropped."""
    return ipaddress.ip_address(ip.split("%")[0]).compressed


def _read_namespace(ref: Optional[NetnsRef] = None) -> tuple[list[dict], list[tuple[int, str, int]]]:
    """Links and addresses of namespace ``ref`` (None: the calling thread's)."""
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


def interfaces(path: NetnsRef) -> list[dict]:
    """The interfaces of namespace ``path``, sorted by index, each a dict of
    ``name, index, mac, addresses [(ip, prefixlen)], kind, up, loopback, iflink,
    host_peer, host_peer_index, host_bridge`` (the peer as seen from the calling
    thread's namespace)."""
    with netlink_errors(f"cannot list the interfaces of {path}"):
        # a rootless container seen by its owner: read by a child that enters its user namespace
        links, addrs = in_owned(path, _read_namespace) if must_join(path) else _read_namespace(path)
        host_links, _ = _read_namespace()
    host = {link["index"]: link for link in host_links}
    result = []
    for link in sorted(links, key=lambda l: l["index"]):
        peer, bridge = _host_peer(link, host)
        loopback = bool(link["flags"] & IFF_LOOPBACK)
        result.append({
            "name": link["name"],
            "index": link["index"],
            "mac": None if loopback or not link["mac"] else link["mac"].lower(),
            "addresses": [(norm_ip(a), p) for i, a, p in addrs if i == link["index"]],
            "kind": link["kind"],
            "up": bool(link["flags"] & IFF_UP),
            "loopback": loopback,
            "iflink": link["iflink"],
            "host_peer": peer["name"] if peer else None,
            "host_peer_index": peer["index"] if peer else None,
            "host_bridge": bridge,
        })
    return result


def is_own_namespace(path: NetnsRef) -> bool:
    """Whether ``path`` is the calling thread's own network namespace (e.g. joined from a host-mode container)."""
    try:
        return netns_key(path) == netns_key()
    except OSError:  # not ours to look at: entering it will say why
        return False
