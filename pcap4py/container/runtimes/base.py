"""The one discovery interface every container runtime's backend implements.

A :class:`Runtime` finds containers and reports their stops and starts; what it hands back are
plain records (:class:`~pcap4py.container.model.Container`, :class:`Listed`, :class:`Event`,
:class:`~pcap4py.container.model.ContainerState`), so that selection, following, watching and
the capture plans never ask which runtime a container came from.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator, Optional, Protocol, Sequence

from ...errors import SelectionError
from ..model import Container, ContainerState

__all__ = ["Runtime", "Listed", "Event", "EventStream"]


@dataclass(frozen=True)
class Listed:
    """A running container as a listing shows it (no namespace entered yet)."""

    id: str
    name: str
    labels: dict = field(default_factory=dict, compare=False)
    host_network: bool = False


@dataclass(frozen=True)
class Event:
    """A container's life, in the runtime-neutral words: ``kind`` is ``start`` or ``stop``."""

    kind: str
    id: str
    name: str = ""
    labels: dict = field(default_factory=dict, compare=False)
    exit_code: Optional[int] = None


class EventStream(Protocol):
    """Events, read by iterating (blocking); :meth:`close` from another thread ends the iteration."""

    def __iter__(self) -> Iterator[Event]: ...

    def close(self) -> None: ...


class Runtime(ABC):
    """One container runtime, reached through its socket.  ``name`` names it to people
    (``docker``, ``podman``); ``where`` says where it is reached."""

    name: str = "?"
    where: str = "?"
    endpoint: str = "?"  # the socket, as a URL: tells two runtimes of one kind apart

    @classmethod
    def instances(cls) -> "list[Runtime]":
        """The runtimes of this kind whose sockets are set or present here (none: an empty list)."""
        return []

    @abstractmethod
    def get(self, ref: str) -> Container:
        """The running container ``ref`` (name or id prefix), resolved for capture; raises
        :class:`ContainerNotFound`, :class:`ContainerNotRunning` or :class:`HostNetworkContainer`."""

    @abstractmethod
    def resolve(self, container_id: str) -> Optional[Container]:
        """The record of a listed container (host-network ones without interfaces), or None if it
        stopped or went away meanwhile."""

    @abstractmethod
    def listed(self, labels: Sequence[str] = ()) -> list[Listed]:
        """The running containers, those carrying every one of ``labels`` (``KEY``/``KEY=VALUE``) if given."""

    @abstractmethod
    def state(self, container_id: str) -> Optional[ContainerState]:
        """The container's state now; None when it is gone."""

    @abstractmethod
    def events(self, since: Optional[float] = None, container: Optional[str] = None) -> EventStream:
        """Start and stop events from time ``since`` on (None: now), of one ``container`` id or all."""

    def pod_members(self, pod: str) -> list[str]:
        """The ids of the running containers of pod ``pod``; runtimes without pods refuse."""
        raise SelectionError(f"{self.name} has no pods (no --pod {pod})")

    def close(self) -> None:
        """Release the connection."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.where}>"
