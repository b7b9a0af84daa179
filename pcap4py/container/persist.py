"""Attachments that outlive a container restart: ``attach --persist`` and ``pcap4py reattach``.

A restarted container gets a new network namespace, and the interface attach
made (with its record) is gone with the old one.  ``--persist`` therefore also
records the attach request in a state file of the container,
``/run/pcap4py/attach/CONTAINER_ID.json`` (``$PCAP4PY_RUN_DIR`` overrides
``/run/pcap4py``; written whole or not at all, :mod:`pcap4py.plumbing.state`):
one entry per interface name, what to hand to
:func:`pcap4py.container.plumbing.attach` again.
:func:`~pcap4py.container.plumbing.restore` re-applies the entries; attach being
idempotent, restoring twice changes nothing.  Detach forgets the entry, and a
restore forgets the entries of a container that no longer exists.  The MAC
recorded is the one the interface got, so a DHCP server hands the same lease back.

The file is read as untrusted input: each entry is checked as the command line
checks its arguments (:meth:`Request.from_json`), and one that is not an attach
record is reported and skipped, the others still restored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import Pcap4pyError, StateFileError
from ..plumbing import dhcp, lower, state
from ..plumbing.address import check_family, parse_address, parse_mac
from ..plumbing.rtnl import check_ifname

__all__ = ["Request", "Restored", "PERSISTED_OPTIONS", "state_path", "remember", "forget", "forget_all",
           "read_requests", "persisted_ids"]

#: the attach options a persisted request keeps (besides the MAC the interface got)
PERSISTED_OPTIONS = ("vlan", "host_shim", "promisc", "family", "dhcp_timeout")


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise StateFileError(f"{value!r} is not true or false")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StateFileError(f"{value!r} is not a whole number")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise StateFileError(f"{value!r} is not a string")
    return value


def _family(value: Any) -> int:
    if _int(value) not in (4, 6):
        raise StateFileError(f"bad address family {value!r} (4 or 6)")
    return value


def _vlan(value: Any) -> int:
    if _int(value) not in lower.VLAN_IDS:
        raise StateFileError(f"bad VLAN id {value} (1-4094)")
    return value


# each option's check: the command line's own rule for the same option
_OPTION_CHECKS: dict[str, Callable[[Any], Any]] = {
    "mac": lambda v: parse_mac(_text(v)),
    "vlan": _vlan,
    "host_shim": _flag,
    "promisc": _flag,
    "family": _family,
    "dhcp_timeout": lambda v: dhcp.check_timeout(v if isinstance(v, float) else _int(v)),
}


@dataclass(frozen=True)
class Request:
    """One persisted attach: its arguments, as :func:`pcap4py.container.plumbing.attach` takes them."""

    host_iface: str
    address: str
    name: str = "eth1"
    options: dict = field(default_factory=dict)  # mac, vlan, host_shim, promisc, family, dhcp_timeout

    @classmethod
    def from_json(cls, name: str, entry: Any) -> "Request":
        """The request recorded for interface ``name``, checked as the command line checks its
        arguments; :class:`StateFileError` if ``entry`` is not an attach record."""
        try:
            return cls._checked(name, entry)
        except Pcap4pyError as e:
            raise StateFileError(f"entry {name!r}: not an attach record ({e})") from None

    @classmethod
    def _checked(cls, name: str, entry: Any) -> "Request":
        if not isinstance(entry, dict) or not {"host_iface", "address"} <= entry.keys():
            raise StateFileError("not an object with host_iface and address")
        options = entry.get("options", {})
        if not isinstance(options, dict):
            raise StateFileError(f"options {options!r} are not an object")
        unknown = (entry.keys() - {"host_iface", "address", "name", "options"}) or \
            (options.keys() - {"mac", *PERSISTED_OPTIONS})
        if unknown:
            raise StateFileError(f"unknown fields {sorted(unknown)}")
        host_iface, address = _text(entry["host_iface"]), _text(entry["address"])
        if _text(entry.get("name", name)) != name:
            raise StateFileError(f"it names another interface, {entry['name']!r}")
        check_ifname(name)
        check_ifname(host_iface)
        checked = {key: _OPTION_CHECKS[key](value) for key, value in options.items() if value is not None}
        check_family(parse_address(address), checked.get("family"))
        if checked.get("vlan"):
            lower.vlan_name(host_iface, checked["vlan"])  # the sub-interface's name must fit too
        return cls(host_iface, address, name, {k: options[k] for k in checked})


@dataclass
class Restored:
    """What a restore did for one container: a line per request, and how many failed."""

    container: str
    lines: list = field(default_factory=list)
    failed: int = 0

    def __str__(self) -> str:
        return "\n".join(self.lines) if self.lines else f"nothing to restore for {self.container}"


def _dir() -> Path:
    return state.run_dir() / "attach"


def state_path(container_id: str) -> Path:
    """The state file of the container with this full id."""
    return _dir() / f"{container_id}.json"


def _entries(container_id: str) -> dict:
    """The file's entries by interface name, unchecked; :class:`StateFileError` if it is not an object."""
    path = state_path(container_id)
    try:
        entries = state.load(path)
    except StateFileError as e:
        raise StateFileError(f"{path}: not an attach record ({e.reason})") from None
    if entries is None:
        return {}
    if not isinstance(entries, dict):
        raise StateFileError(f"{path}: not an attach record (a JSON {type(entries).__name__}, "
                             f"not an object of interface names)")
    return entries


def remember(container_id: str, request: Request) -> None:
    """Record ``request`` (replacing an earlier one for the same interface name)."""
    entries = _entries(container_id)
    entries[request.name] = asdict(request)
    state.save(state_path(container_id), entries)


def forget(container_id: str, name: str) -> bool:
    """Forget the persisted attach of interface ``name`` (even one that is not a valid record);
    True if there was one."""
    try:
        entries = _entries(container_id)
    except StateFileError:
        return False  # nothing recognisable to forget; restore reports the file
    if name not in entries:
        return False
    del entries[name]
    if entries:
        state.save(state_path(container_id), entries)
    else:
        state.remove(state_path(container_id))
    return True


def forget_all(container_id: str) -> None:
    """Forget every persisted attach of the container (it no longer exists)."""
    state.remove(state_path(container_id))


def read_requests(container_id: str) -> tuple[list[Request], list[str]]:
    """(the container's valid requests, a line for each entry, or the whole file, that is not an
    attach record).  Never raises for what the file holds."""
    try:
        entries = _entries(container_id)
    except StateFileError as e:
        return [], [str(e)]
    requests, problems = [], []
    for name in sorted(entries, key=str):
        try:
            requests.append(Request.from_json(name, entries[name]))
        except StateFileError as e:
            problems.append(f"{state_path(container_id)} {e}")
    return requests, problems


def persisted_ids() -> list[str]:
    """The ids of the containers that have persisted attachments."""
    try:
        return sorted(p.stem for p in _dir().glob("*.json"))
    except OSError:
        return []
