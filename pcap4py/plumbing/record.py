"""What attach did, recorded on the interface it made: the ``ifalias`` record.

The record lives and dies with the interface (``pcap4py-attach {json}`` in its
alias, at most 255 bytes), so it can never go stale; detach reads it to remove
exactly what attach made, and a second identical attach recognises its own work.

The alias is writable by anyone with CAP_NET_ADMIN in the target's namespace (a
container may have it), so :meth:`AttachRecord.from_alias` trusts nothing: a
record of the wrong shape is no record (the interface is "not made by pcap4py"),
and the host links it names (the shim, the veth peer) must carry the names attach
gives them, so a forged record cannot make detach remove a host interface.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from .address import AddressSpec
from .dhcp import LeaseRecord

__all__ = ["AttachRecord", "ALIAS_TAG", "IFALIAS_MAX"]

ALIAS_TAG = "pcap4py-attach "
IFALIAS_MAX = 255  # the kernel's IFALIASZ, 256, less the terminating NUL
SHIM_NAME = re.compile(r"p4s[0-9a-f]{8}")  # what attach names the host shim
PEER_NAME = re.compile(r"p4v[0-9a-f]{8}")  # and the host end of a veth pair
_ROUTE_KEYS = {"gw": str, "dev": str, "metric": int, "proto": int}


class _Malformed(ValueError):
    """Raised inside :meth:`AttachRecord.from_alias` for a record of the wrong shape."""


@dataclass(frozen=True)
class AttachRecord:
    """One attach, as its interface's alias records it.

    ``host``/``hidx``: the host interface (or bridge) by name and index; ``addr``/``gw``: the address
    and gateway given or leased; ``prev``: the default routes replaced (:mod:`pcap4py.plumbing.routes`);
    ``promisc``: whether attach turned promiscuous mode on; ``vlan``/``lidx``: the VLAN id and
    device; ``shim``: the host shim; ``peer``: the host end of a veth pair (bridge host side);
    ``lease``: with dhcp, the lease (its address and gateway are ``addr`` and ``gw``).
    """

    host: str
    hidx: int
    addr: Optional[str] = None
    gw: Optional[str] = None
    prev: list = field(default_factory=list)
    promisc: bool = False
    vlan: Optional[int] = None
    lidx: Optional[int] = None
    shim: Optional[str] = None
    peer: Optional[str] = None
    lease: Optional[LeaseRecord] = None

    @property
    def spec(self) -> AddressSpec:
        """The address and gateway recorded."""
        return AddressSpec(ipaddress.ip_interface(self.addr) if self.addr else None,
                           ipaddress.ip_address(self.gw) if self.gw else None, dhcp=self.lease is not None)

    def renewed(self, lease: LeaseRecord) -> "AttachRecord":
        """The record with a renewed lease (the address stays the one recorded: a server handing out
        another one on renewal is not followed)."""
        return replace(self, lease=replace(lease, address=self.addr or "", gateway=self.gw))

    # ---------------------------------------------------------------- the alias

    def _data(self, prev: list, lease: Optional[list]) -> dict:
        data: dict[str, Any] = {"host": self.host, "hidx": self.hidx, "addr": self.addr, "gw": self.gw,
                                "prev": prev, "promisc": self.promisc}
        optional = {"vlan": self.vlan, "lidx": self.lidx, "shim": self.shim, "peer": self.peer, "dhcp": lease}
        data.update({k: v for k, v in optional.items() if v is not None})
        return data

    def to_alias(self) -> str:
        """``pcap4py-attach {json}``, fitted into the alias's 255 bytes: whole, or without all but the
        first replaced route, or (with a lease) keeping only what a DHCPRELEASE needs."""
        lease = self.lease.as_list() if self.lease else None
        for prev, kept in ((self.prev, lease), (self.prev[:1], lease), (self.prev[:1], lease and lease[:2])):
            text = ALIAS_TAG + json.dumps(self._data(prev, kept), separators=(",", ":"))
            if len(text.encode()) <= IFALIAS_MAX:
                break
        return text  # the last try whatever its size: the kernel refuses it and attach rolls back

    @classmethod
    def from_alias(cls, alias: Optional[str]) -> Optional["AttachRecord"]:
        """The record in ``alias``; None if it holds none (another alias, or a record of the wrong shape)."""
        if not isinstance(alias, str) or not alias.startswith(ALIAS_TAG) or len(alias.encode()) > IFALIAS_MAX:
            return None
        try:
            return cls._from_data(json.loads(alias[len(ALIAS_TAG):]))
        except (ValueError, RecursionError):  # _Malformed is a ValueError, as JSON's own errors are
            return None

    @classmethod
    def of_link(cls, link) -> Optional["AttachRecord"]:
        """The record of a netlink link message, or None."""
        return cls.from_alias(link.get_attr("IFLA_IFALIAS")) if link is not None else None

    @classmethod
    def _from_data(cls, data: Any) -> "AttachRecord":
        if not isinstance(data, dict) or not {"host", "hidx"} <= data.keys():
            raise _Malformed("not an object with host and hidx")
        addr, gw = _opt(data, "addr", str), _opt(data, "gw", str)
        if addr is not None:
            ipaddress.ip_interface(addr)
        if gw is not None:
            ipaddress.ip_address(gw)
        lease = _lease(data.get("dhcp"), addr, gw)
        return cls(host=_typed(data["host"], str), hidx=_typed(data["hidx"], int), addr=addr, gw=gw,
                   prev=[_route(r) for r in _typed(data.get("prev", []), list)],
                   promisc=_typed(data.get("promisc", False), bool), vlan=_opt(data, "vlan", int),
                   lidx=_opt(data, "lidx", int), shim=_named(_opt(data, "shim", str), SHIM_NAME),
                   peer=_named(_opt(data, "peer", str), PEER_NAME), lease=lease)


def _typed(value: Any, kind: type) -> Any:
    # bool is an int to Python, never to the record
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Malformed(f"{value!r} is not a {kind.__name__}")
    return value


def _opt(data: dict, key: str, kind: type) -> Any:
    value = data.get(key)
    return None if value is None else _typed(value, kind)


def _named(name: Optional[str], pattern: re.Pattern) -> Optional[str]:
    if name is not None and not pattern.fullmatch(name):
        raise _Malformed(f"{name!r} is not a name attach gives")
    return name


def _route(route: Any) -> dict:
    _typed(route, dict)
    for key, value in route.items():
        if key not in _ROUTE_KEYS:
            raise _Malformed(f"unknown route field {key!r}")
        if value is not None:
            _typed(value, _ROUTE_KEYS[key])
    return route


def _lease(values: Any, addr: Optional[str], gw: Optional[str]) -> Optional[LeaseRecord]:
    if values is None:
        return None
    values = _typed(values, list)
    if len(values) not in (2, 4):
        raise _Malformed("a lease has 2 or 4 fields")
    sid, smac = _typed(values[0], str), _typed(values[1], str)
    lease_time, obtained = (_typed(values[2], int), _typed(values[3], int)) if len(values) == 4 else (0, 0)
    if not re.fullmatch(r"([0-9a-fA-F]{12})?", smac):
        raise _Malformed(f"{smac!r} is not a MAC address")
    return LeaseRecord(addr or "", gw, sid, ":".join(smac[i:i + 2] for i in range(0, len(smac), 2)),
                       lease_time, obtained)
