"""Which containers a capture takes: by name, by label, by Compose service, or all of them.

A :class:`Selection` is a plain record of what the user asked for; :meth:`Selection.matches`
decides for one container (its inspect record, or the attributes of a Docker event), and
:func:`running_matches` finds the running containers it selects now.  A container is selected
when it is named, or when it carries every label asked for (a Compose service is the label
``com.docker.compose.service``), or always with ``all``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Optional, Union

from ..errors import SelectionError
from . import docker as discovery
from .model import Container, get_container, resolve_listed

if TYPE_CHECKING:  # pragma: no cover - typing only
    import docker

__all__ = ["Selection", "parse_label", "running_matches", "COMPOSE_SERVICE_LABEL"]

COMPOSE_SERVICE_LABEL = "com.docker.compose.service"


def parse_label(text: str) -> tuple[str, Optional[str]]:
    """``KEY=VALUE`` or ``KEY`` as (key, value or None); a missing key raises :class:`SelectionError`."""
    key, sep, value = (text or "").partition("=")
    if not key.strip() or key != key.strip():
        raise SelectionError(f"bad label {text!r}: use KEY=VALUE or KEY")
    return key, (value if sep else None)


@dataclass(frozen=True)
class Selection:
    """What to capture: ``names`` (names or id prefixes), ``labels`` ((key, value or None) pairs,
    all required), ``compose_service``, or ``all`` running containers."""

    names: tuple[str, ...] = ()
    labels: tuple[tuple[str, Optional[str]], ...] = ()
    compose_service: Optional[str] = None
    all: bool = False

    @classmethod
    def of(cls, names: Union[str, Iterable[str], None] = None,
           labels: Union[str, Iterable[str], dict, None] = None,
           compose_service: Optional[str] = None, all: bool = False) -> "Selection":
        """A checked selection; labels as ``"KEY=VALUE"``/``"KEY"`` strings or a dict."""
        names = (names,) if isinstance(names, str) else tuple(names or ())
        if isinstance(labels, dict):
            pairs = tuple((parse_label(k)[0], None if v is None else str(v)) for k, v in labels.items())
        else:
            pairs = tuple(parse_label(t) for t in ((labels,) if isinstance(labels, str) else labels or ()))
        if compose_service is not None and not compose_service.strip():
            raise SelectionError("empty Compose service name")
        if all and names:
            raise SelectionError("name containers or take all of them, not both")
        if not (names or pairs or compose_service or all):
            raise SelectionError("select containers: by name, label, Compose service, or all")
        for name in names:
            if not name:
                raise SelectionError("empty container name")
        return cls(names, pairs, compose_service, all)

    @property
    def required_labels(self) -> tuple[tuple[str, Optional[str]], ...]:
        """The labels a container must carry (the Compose service's among them)."""
        service = ((COMPOSE_SERVICE_LABEL, self.compose_service),) if self.compose_service else ()
        return self.labels + service

    def matches(self, name: str, container_id: str, labels: dict) -> bool:
        """Whether the container ``name`` (id ``container_id``, ``labels``) is selected."""
        if self.all:
            return True
        if any(ref == name or container_id.startswith(ref) for ref in self.names):
            return True
        required = self.required_labels
        return bool(required) and all(
            key in labels and (value is None or labels[key] == value) for key, value in required)

    def __str__(self) -> str:
        parts = [f"name {n}" for n in self.names]
        parts += [f"label {k}" + (f"={v}" if v is not None else "") for k, v in self.labels]
        if self.compose_service:
            parts.append(f"Compose service {self.compose_service}")
        return "any container" if self.all else " or ".join(parts)


def running_matches(selection: Selection, client: "docker.DockerClient") -> list[Container]:
    """The running containers ``selection`` takes now, resolved, by name (host-network ones and
    ones that stop meanwhile left out; a named one that is not running raises as
    :func:`get_container` does)."""
    found = {c.id: c for c in (get_container(n, client) for n in selection.names)}
    required = selection.required_labels
    if required or selection.all:
        filters = [] if selection.all else [k if v is None else f"{k}={v}" for k, v in required]
        for summary in discovery.running_summaries(client, filters):
            if summary["Id"] not in found:
                c = resolve_listed(client, summary["Id"])
                if c is not None and not c.host_network:
                    found[c.id] = c
    return sorted(found.values(), key=lambda c: c.name)
