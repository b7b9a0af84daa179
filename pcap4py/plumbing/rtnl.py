"""Small netlink helpers shared by attach and mirror: sockets per namespace, lookups, one error boundary.

pyroute2's own ``IPRoute(netns=...)`` forks a helper process to open its
socket, which is unsafe once a JVM runs in the process; pcap4py instead opens
the netlink socket on a short-lived thread inside the namespace
(:func:`pcap4py.netns.run_in_netns`) and hands it to ``IPRoute(use_socket=)``:
a socket keeps the namespace it was born in.
"""

from __future__ import annotations

import errno
import os
import socket
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator, Mapping, Optional

from ..errors import NetlinkError, NotFound, Pcap4pyError, PermissionDenied
from ..netns import NetnsRef, run_in_netns

if TYPE_CHECKING:
    from pyroute2 import IPRoute

NETLINK_ROUTE = 0
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_PROMISC = 0x100
IFNAME_MAX = 15  # the longest interface name the kernel accepts (its IFNAMSIZ, 16, counts the NUL)


def _route_socket() -> socket.socket:
    return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)


@contextmanager
def rtnl(ref: Optional[NetnsRef] = None) -> Iterator["IPRoute"]:
    """An ``IPRoute`` bound to namespace ``ref`` (None: the calling thread's namespace)."""
    from pyroute2 import IPRoute

    sock = _route_socket() if ref is None else run_in_netns(ref, _route_socket)
    ipr = IPRoute(use_socket=sock)
    try:
        yield ipr
    finally:
        ipr.close()
        sock.close()


def link_by_name(ipr, name: str):
    """The link message for ``name``, or None."""
    found = ipr.link_lookup(ifname=name)
    return ipr.get_links(found[0])[0] if found else None


def ethernet_link(ipr, name: str, *, missing: str, loopback: str):
    """The link ``name``, which must exist and not be loopback; the two messages (formatted with
    ``name``) say what it was wanted for."""
    from ..errors import InterfaceNotFound

    link = link_by_name(ipr, name)
    if link is None:
        raise InterfaceNotFound(missing.format(name=name))
    if link["flags"] & IFF_LOOPBACK:
        raise NetlinkError(loopback.format(name=name))
    return link


def link_by_index(ipr, index: int):
    """The link message for ``index``, or None."""
    from pyroute2 import NetlinkError as KernelRefusal

    try:
        return ipr.get_links(index)[0]
    except KernelRefusal as e:  # the kernel answers ENODEV for a missing index
        if e.code == errno.ENODEV:
            return None
        raise


def set_promisc(ipr, index: int, on: bool) -> None:
    """Set or clear IFF_PROMISC (pyroute2 has no keyword for it: flags with a mask)."""
    ipr.link("set", index=index, flags=IFF_PROMISC if on else 0, mask=IFF_PROMISC)


def link_kind(link) -> Optional[str]:
    info = link.get_attr("IFLA_LINKINFO")
    return info.get_attr("IFLA_INFO_KIND") if info else None


def errno_of(err: BaseException) -> Optional[int]:
    """The errno of a kernel refusal (pyroute2's NetlinkError carries it as ``code``), or None."""
    from pyroute2 import NetlinkError as KernelRefusal

    if isinstance(err, KernelRefusal):
        return err.code
    if isinstance(err, OSError):
        return err.errno
    return None


def _translate(what: str, code: int, messages: Mapping[int, str]) -> Pcap4pyError:
    if code in messages:
        return NetlinkError(messages[code])
    if code == errno.EPERM:  # (EACCES is not this: it also means "refused by configuration", e.g. IPv6 off)
        return PermissionDenied(f"{what}: operation not permitted (needs CAP_NET_ADMIN)")
    if code == errno.ENODEV:
        return NotFound(f"{what}: no such device")
    return NetlinkError(f"{what}: {os.strerror(code)}")


@contextmanager
def netlink_errors(what: str, messages: Optional[Mapping[int, str]] = None) -> Iterator[None]:
    """The one boundary between netlink and pcap4py: a kernel refusal (pyroute2's NetlinkError) or
    an OS error raised in the body becomes a one-line pcap4py error, ``"{what}: {reason}"``.

    ``messages`` maps an errno to a whole message of its own (e.g. ``{errno.EEXIST: "interface
    eth1 already exists in ..."}``).  pcap4py's own errors and anything else pass through.
    """
    try:
        yield
    except Pcap4pyError:
        raise
    except Exception as e:
        code = errno_of(e)
        if code is None:
            raise
        raise _translate(what, code, messages or {}) from e


def check_ifname(name: str) -> None:
    """Refuse a name the kernel would not take as an interface name."""
    if not name or len(name) > IFNAME_MAX or "/" in name or any(c.isspace() for c in name):
        raise NetlinkError(f"bad interface name {name!r} (1-{IFNAME_MAX} characters, no '/' or spaces)")
