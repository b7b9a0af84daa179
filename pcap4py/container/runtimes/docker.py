"""The Docker backend: Docker Engine's API through the ``docker`` SDK (:mod:`pcap4py.container.docker`).

The socket is ``DOCKER_HOST``, else ``/var/run/docker.sock``.  Podman's service speaks the same
API with other event names and pods on top: :mod:`.podman` builds on this class.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence

from ...errors import (ContainerNotFound, ContainerNotRunning, HostNetworkContainer, NetlinkError, NotFound)
from ...netns import netns_path
from .. import docker as api
from .. import inventory
from ..model import Container, ContainerInterface, ContainerNetwork, ContainerState
from .base import Event, Listed, Runtime

if TYPE_CHECKING:  # pragma: no cover - typing only
    import docker

__all__ = ["DockerRuntime"]


class DockerRuntime(Runtime):
    """Docker Engine at ``base_url`` (None: ``DOCKER_HOST`` or the default socket)."""

    name = "docker"
    daemon = "Docker daemon"
    ENV = "DOCKER_HOST"
    DEFAULT = api.DEFAULT_SOCKET
    # the events asked for, and what each means; destroy in case a die was missed (docker rm -f)
    SUBSCRIBE: tuple[str, ...] = ("start", "die", "destroy")
    KINDS = {"start": "start", "die": "stop", "destroy": "stop"}

    def __init__(self, base_url: Optional[str] = None, client: "docker.DockerClient | None" = None):
        self.base_url = self.endpoint = base_url or os.environ.get(self.ENV) or self.DEFAULT
        self.where = (f"{self.base_url} ({self.ENV})" if os.environ.get(self.ENV) and not base_url
                      else self.base_url)
        self._client = client

    @classmethod
    def present(cls) -> bool:
        """Whether this runtime's socket is set (``ENV``) or there (the default path)."""
        return bool(os.environ.get(cls.ENV)) or os.path.exists(cls.DEFAULT.removeprefix("unix://"))

    @classmethod
    def instances(cls) -> list["DockerRuntime"]:
        return [cls()] if cls.present() else []

    @property
    def client(self) -> "docker.DockerClient":
        if self._client is None:
            self._client = api.docker_client(self.base_url, where=self.where, daemon=self.daemon)
        return self._client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing: nothing left to do about it
                pass

    # --- lookups --------------------------------------------------------------------------------
    def get(self, ref: str) -> Container:
        attrs = api.inspect_container(self.client, ref)
        record = Container.from_inspect(attrs, runtime=self.name, endpoint=self.endpoint)
        if not ContainerState.of(attrs).running:
            raise ContainerNotRunning(
                f"container {record.name} is not running (state: {record.state}): "
                f"it has no network namespace to capture; start it first")
        if self._uses_host_network(attrs):
            raise HostNetworkContainer(
                f"container {record.name} uses the host's network (network mode '{record.network_mode}'): "
                f"there is nothing container-specific to capture; capture the host interface "
                f"instead, e.g. `python -m pcap4py capture <host interface>`")
        return self._resolved(attrs)

    def resolve(self, container_id: str) -> Optional[Container]:
        try:
            attrs = api.inspect_container(self.client, container_id)
            if not ContainerState.of(attrs).running:
                return None
            if self._uses_host_network(attrs):
                return Container.from_inspect(attrs, host_network=True, runtime=self.name, pod=self.pod_of(attrs),
                                              endpoint=self.endpoint)
            return self._resolved(attrs)
        except ContainerNotFound:
            return None  # removed while we were listing
        except (NotFound, NetlinkError):
            # its process may have exited between inspect and entering its namespace
            state = self.state(container_id)
            if state is not None and state.running:
                raise
            return None

    def listed(self, labels: Sequence[str] = ()) -> list[Listed]:
        return [Listed(s["Id"], ((s.get("Names") or [""])[0]).lstrip("/"), s.get("Labels") or {},
                       (s.get("HostConfig") or {}).get("NetworkMode") == "host")
                for s in api.running_summaries(self.client, labels)]

    def state(self, container_id: str) -> Optional[ContainerState]:
        try:
            return ContainerState.of(api.inspect_container(self.client, container_id))
        except ContainerNotFound:
            return None

    def events(self, since: Optional[float] = None, container: Optional[str] = None) -> "_Events":
        raw = api.container_events(self.client, since, container=container, events=self.SUBSCRIBE)
        return _Events(raw, self.KINDS)

    def pod_of(self, attrs: dict) -> Optional[str]:
        """The pod a container belongs to (Docker has none)."""
        return None

    # --- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _uses_host_network(attrs: dict) -> bool:
        mode = (attrs.get("HostConfig") or {}).get("NetworkMode", "")
        return mode == "host" or inventory.is_own_namespace(netns_path(ContainerState.of(attrs).pid))

    def _resolved(self, attrs: dict) -> Container:
        """The full record of a running container with a namespace of its own."""
        settings = api.network_settings(self.client, attrs)
        networks = tuple(ContainerNetwork.from_endpoint(*entry)
                         for entry in api.container_networks(self.client, settings))
        pid = ContainerState.of(attrs).pid
        interfaces = tuple(ContainerInterface.from_inventory(i) for i in inventory.interfaces(netns_path(pid)))
        return Container.from_inspect(attrs, interfaces=interfaces, networks=networks, runtime=self.name,
                                      pod=self.pod_of(attrs), endpoint=self.endpoint)


class _Events:
    """An Engine API event stream read as :class:`Event` records (other actions skipped)."""

    def __init__(self, raw: Any, kinds: dict):
        self._raw = raw
        self._kinds = kinds

    def __iter__(self) -> Iterator[Event]:
        for event in self._raw:
            kind = self._kinds.get(event.get("Action") or event.get("status"))
            if kind is None:
                continue
            attributes = dict((event.get("Actor") or {}).get("Attributes") or {})
            yield Event(kind, event.get("id") or (event.get("Actor") or {}).get("ID") or "",
                        attributes.get("name", ""), attributes, _exit_code(attributes))

    def close(self) -> None:
        try:
            self._raw.close()  # shuts the socket down: a blocked read returns
        except Exception:  # noqa: BLE001 - already closed, or a transport that cannot be cancelled
            pass


def _exit_code(attributes: dict) -> Optional[int]:
    try:
        return int(attributes["exitCode"])
    except (KeyError, TypeError, ValueError):
        return None


