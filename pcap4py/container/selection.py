"""Which containers a capture takes: by name, by label, by Compose service or project, by pod, or all.

A :class:`Selection` is a plain record of what the user asked for; :meth:`Selection.matches`
decides for one container (its listing, or the attributes of a start event), and
:func:`running_matches` finds the running containers it selects now in the runtimes given.  A
container is selected when it is named, or is in a pod named, or when it carries every label
asked for (a Compose service and project are the labels ``com.docker.compose.service`` and
``com.docker.compose.project``), or always with ``all``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Optional, Union

from ..errors import ContainerNotFound, SelectionError
from .lookup import find_in
from .model import Container

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .runtimes import Runtime

__all__ = ["Selection", "parse_label", "running_matches", "compose_projects", "COMPOSE_SERVICE_LABEL",
           "COMPOSE_PROJECT_LABEL"]

COMPOSE_SERVICE_LABEL = "com.docker.compose.service"
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"


def parse_label(text: str) -> tuple[str, Optional[str]]:
    """``KEY=VALUE`` or ``KEY`` as (key, value or None); a missing key raises :class:`SelectionError`."""
    key, sep, value = (text or "").partition("=")
    if not key.strip() or key != key.strip():
        raise SelectionError(f"bad label {text!r}: use KEY=VALUE or KEY")
    return key, (value if sep else None)


@dataclass(frozen=True)
class Selection:
    """What to capture: ``names`` (names or id prefixes), ``labels`` ((key, value or None) pairs,
    all required), ``compose_service`` and ``compose_project``, ``pods`` (names), or ``all``
    running containers."""

    names: tuple[str, ...] = ()
    labels: tuple[tuple[str, Optional[str]], ...] = ()
    compose_service: Optional[str] = None
    all: bool = False
    pods: tuple[str, ...] = ()
    compose_project: Optional[str] = None

    @classmethod
    def of(cls, names: Union[str, Iterable[str], None] = None,
           labels: Union[str, Iterable[str], dict, None] = None,
           compose_service: Optional[str] = None, all: bool = False,
           pods: Union[str, Iterable[str], None] = None, compose_project: Optional[str] = None) -> "Selection":
        """A checked selection; labels as ``"KEY=VALUE"``/``"KEY"`` strings or a dict."""
        names = (names,) if isinstance(names, str) else tuple(names or ())
        pods = (pods,) if isinstance(pods, str) else tuple(pods or ())
        if any(not p for p in pods):
            raise SelectionError("empty pod name")
        if compose_project is not None and not compose_project.strip():
            raise SelectionError("empty Compose project name")
        if isinstance(labels, dict):
            pairs = tuple((parse_label(k)[0], None if v is None else str(v)) for k, v in labels.items())
        else:
            pairs = tuple(parse_label(t) for t in ((labels,) if isinstance(labels, str) else labels or ()))
        if compose_service is not None and not compose_service.strip():
            raise SelectionError("empty Compose service name")
        if all and (names or pods):
            raise SelectionError("name containers or take all of them, not both")
        if not (names or pairs or compose_service or compose_project or all or pods):
            raise SelectionError("select containers: by name, label, Compose service, pod, or all")
        for name in names:
            if not name:
                raise SelectionError("empty container name")
        return cls(names, pairs, compose_service, all, pods, compose_project)

    @property
    def required_labels(self) -> tuple[tuple[str, Optional[str]], ...]:
        """The labels a container must carry (the Compose service's and project's among them)."""
        service = ((COMPOSE_SERVICE_LABEL, self.compose_service),) if self.compose_service else ()
        project = ((COMPOSE_PROJECT_LABEL, self.compose_project),) if self.compose_project else ()
        return self.labels + service + project

    @property
    def single(self) -> bool:
        """One container by name, nothing else: captured from its own point of view, alone."""
        return len(self.names) == 1 and not (self.required_labels or self.all or self.pods)

    def matches(self, name: str, container_id: str, labels: dict, pod: Optional[str] = None) -> bool:
        """Whether the container ``name`` (id ``container_id``, ``labels``, in ``pod``) is selected."""
        if self.all:
            return True
        if any(ref == name or container_id.startswith(ref) for ref in self.names):
            return True
        if pod is not None and (pod in self.pods or pod.rpartition("/")[2] in self.pods):
            return True  # a CRI pod NAMESPACE/NAME is also named by its NAME
        required = self.required_labels
        return bool(required) and all(
            key in labels and (value is None or labels[key] == value) for key, value in required)

    def __str__(self) -> str:
        parts = [f"name {n}" for n in self.names]
        parts += [f"pod {p}" for p in self.pods]
        parts += [f"label {k}" + (f"={v}" if v is not None else "") for k, v in self.labels]
        if self.compose_service:
            parts.append(f"Compose service {self.compose_service}")
        if self.compose_project:
            parts.append(f"Compose project {self.compose_project}")
        return "any container" if self.all else " or ".join(parts)


def running_matches(selection: Selection, runtimes: "list[Runtime]") -> list[tuple["Runtime", Container]]:
    """(runtime, container) for each running container ``selection`` takes now in ``runtimes``,
    resolved, by name (host-network ones and ones that stop meanwhile left out; a named container
    or pod found in none of them raises as a lookup does)."""
    found: dict[str, tuple[Runtime, Container]] = {}
    for ref in selection.names:
        rt, c = find_in(ref, runtimes)
        found[c.id] = (rt, c)
    for pod in selection.pods:
        members = _pod_members(pod, runtimes)
        for rt, cid in members:
            c = rt.resolve(cid) if cid not in found else None
            if c is not None and not c.host_network:
                found[c.id] = (rt, c)
    required = selection.required_labels
    if required or selection.all:
        filters = [] if selection.all else [k if v is None else f"{k}={v}" for k, v in required]
        for rt in runtimes:
            for item in rt.listed(filters):
                if item.id not in found:
                    c = rt.resolve(item.id)
                    if c is not None and not c.host_network:
                        found[c.id] = (rt, c)
    return sorted(found.values(), key=lambda pair: (pair[1].name, pair[1].runtime))


def _pod_members(pod: str, runtimes: "list[Runtime]") -> list[tuple["Runtime", str]]:
    refusals: list[Exception] = []
    for rt in runtimes:
        try:
            return [(rt, cid) for cid in rt.pod_members(pod)]
        except (ContainerNotFound, SelectionError) as e:
            refusals.append(e)
    raise next((e for e in refusals if isinstance(e, ContainerNotFound)), refusals[0])


def compose_projects(containers: Iterable[Container]) -> list[str]:
    """The Compose projects ``containers`` belong to, sorted."""
    return sorted({((c.attrs.get("Config") or {}).get("Labels") or {}).get(COMPOSE_PROJECT_LABEL)
                   for c in containers} - {None})
