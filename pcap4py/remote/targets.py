"""Which containers of a remote Docker host a capture takes: named, labelled, or all of them.

A :class:`Target` is a plain record of one running container on one host (the ``HOST/NAME`` its
interfaces are named after, its id, its addresses); :func:`select_containers` asks the host's
engine for them.  pcap4py's own capture sidecars are never selected (their label).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from ..errors import RemoteHostError

SIDECAR_LABEL = "io.pcap4py.sidecar"  # on every capture sidecar: the id of the container it captures


@dataclass(frozen=True)
class Target:
    """A running container of host ``host`` to capture: ``name``, ``id``, its IPs."""

    host: str
    name: str
    id: str
    ips: tuple = ()

    @property
    def uid(self) -> str:
        """Unique across hosts (an id is unique on its host only)."""
        return f"{self.host}/{self.id}"

    def __str__(self) -> str:
        return f"{self.host}/{self.name}"


def target_of(host: str, attrs: dict) -> tuple[Optional[Target], Optional[str]]:
    """The :class:`Target` of an inspected container, or None and why it cannot be captured."""
    name = attrs.get("Name", "").lstrip("/") or attrs["Id"][:12]
    state = attrs.get("State") or {}
    if not state.get("Running"):
        return None, f"host {host}: container {name} is {state.get('Status', 'not running')}, not running"
    mode = (attrs.get("HostConfig") or {}).get("NetworkMode") or ""
    if mode == "host":
        return None, f"host {host}: container {name} shares the host's network: capture the host instead"
    networks = ((attrs.get("NetworkSettings") or {}).get("Networks") or {}).values()
    ips = tuple(ip for n in networks for ip in (n.get("IPAddress"), n.get("GlobalIPv6Address")) if ip)
    return Target(host, name, attrs["Id"], ips), None


def select_containers(client: Any, host: str, names: Sequence[str] = (), labels: Sequence[str] = (),
                      all: bool = False) -> tuple[list[Target], list[str]]:
    """The running containers of ``host`` named (name or id prefix), carrying every label of
    ``labels`` (``KEY`` or ``KEY=VALUE``), or ``all``; and one line per named one that cannot be
    taken.  A refusal to list raises :class:`RemoteHostError`."""
    from docker.errors import DockerException, NotFound

    found: dict[str, Target] = {}
    problems: list[str] = []
    for name in names:
        try:
            attrs = client.api.inspect_container(name)
        except NotFound:
            problems.append(f"host {host}: no such container {name}")
            continue
        except DockerException as e:
            problems.append(f"host {host}: container {name}: {_first_line(e)}")
            continue
        target, problem = target_of(host, attrs)
        if target is None:
            problems.append(problem)
        else:
            found.setdefault(target.id, target)
    if labels or all:
        filters = {"label": list(labels), "status": "running"} if labels else {"status": "running"}
        try:
            listed = client.api.containers(filters=filters)
            inspected = [client.api.inspect_container(c["Id"]) for c in listed
                         if SIDECAR_LABEL not in (c.get("Labels") or {})]
        except NotFound:
            inspected = []  # gone between the listing and the inspection: nothing to take
        except DockerException as e:
            raise RemoteHostError(f"host {host}: cannot list its containers: {_first_line(e)}") from None
        for attrs in inspected:
            target, _ = target_of(host, attrs)
            if target is not None:
                found.setdefault(target.id, target)
    return sorted(found.values(), key=lambda t: t.name), problems


def _first_line(error: Any) -> str:
    explanation = getattr(error, "explanation", None)
    return (str(explanation or error).strip().splitlines() or [type(error).__name__])[0]
