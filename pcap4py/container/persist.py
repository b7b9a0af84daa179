"""Attachments that outlive a container restart: ``attach --persist`` and ``attach --restore``.

A restarted container gets a new network namespace, and the interface attach
made (with its ifalias record) is gone with the old one.  ``--persist``
therefore also records the attach request in a state file of the container,
``/run/pcap4py/attach/CONTAINER_ID.json`` (``$PCAP4PY_RUN_DIR`` overrides
``/run/pcap4py``): one entry per interface name, what to hand to
:func:`pcap4py.container.plumbing.attach` again.  :func:`~pcap4py.container.plumbing.restore` re-applies the
entries (:func:`pcap4py.container.plumbing.restore`); attach being idempotent, restoring twice changes nothing.  Detach
forgets the entry.  The MAC recorded is the one the interface got, so a DHCP
server hands the same lease back.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import Pcap4pyError
from ..plumbing import run_dir

__all__ = ["Request", "Restored", "state_path", "remember", "forget", "requests_of", "persisted_ids"]


@dataclass(frozen=True)
class Request:
    """One persisted attach: its arguments, as :func:`pcap4py.container.plumbing.attach` takes them."""

    host_iface: str
    address: str
    name: str = "eth1"
    options: dict = field(default_factory=dict)  # mac, vlan, host_shim, promisc, family, dhcp_timeout


@dataclass
class Restored:
    """What a restore did for one container: a line per request, and whether each failed."""

    container: str
    lines: list = field(default_factory=list)
    failed: int = 0

    def __str__(self) -> str:
        return "\n".join(self.lines) if self.lines else f"nothing to restore for {self.container}"


def _dir() -> Path:
    return run_dir() / "attach"


def state_path(container_id: str) -> Path:
    """The state file of the container with this full id."""
    return _dir() / f"{container_id}.json"


def _read(container_id: str) -> dict:
    try:
        return json.loads(state_path(container_id).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise Pcap4pyError(f"cannot read {state_path(container_id)}: {e}") from e


def _write(container_id: str, entries: dict) -> None:
    path = state_path(container_id)
    if not entries:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries, indent=1, sort_keys=True))
    os.replace(tmp, path)  # whole or not at all


def remember(container_id: str, request: Request) -> None:
    """Record ``request`` (replacing an earlier one for the same interface name)."""
    entries = _read(container_id)
    entries[request.name] = asdict(request)
    _write(container_id, entries)


def forget(container_id: str, name: str) -> bool:
    """Forget the persisted attach of interface ``name``; True if there was one."""
    entries = _read(container_id)
    if entries.pop(name, None) is None:
        return False
    _write(container_id, entries)
    return True


def requests_of(container_id: str) -> list[Request]:
    return [Request(**entry) for _name, entry in sorted(_read(container_id).items())]


def persisted_ids() -> list[str]:
    """The ids of the containers that have persisted attachments."""
    try:
        return sorted(p.stem for p in _dir().glob("*.json"))
    except OSError:
        return []
