"""The Engine API through the ``docker`` SDK, and nothing else (Docker's, and Podman's service).

The client, inspecting containers and networks, listing, events, the networks a
container is on, and internal Docker networks laid on a bridge (for ``mirror
build --docker-network``).  Every SDK call goes through
:func:`docker_errors`, the one place where the SDK's and ``requests``' errors
become pcap4py errors.  Nothing here reads netlink or builds records: that is
:mod:`.inventory` and :mod:`.model`.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence

from ..errors import ContainerNotFound, DockerError, DockerUnavailable, NotFound, Pcap4pyError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import docker

__all__ = ["docker_client", "docker_errors", "inspect_container", "inspect_network", "running_container_ids",
           "running_summaries", "container_events",
           "network_settings", "container_networks", "DockerBridgeNetworks",
           "DEFAULT_SOCKET", "BRIDGE_NAME_OPTION"]

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"


# --------------------------------------------------------------------------- errors


def docker_host(client: "docker.DockerClient | None" = None) -> str:
    """Where the Docker client looks, in words for an error message."""
    if client is not None:
        return str(client.api.base_url)
    host = os.environ.get("DOCKER_HOST")
    return f"{host} (DOCKER_HOST)" if host else f"{DEFAULT_SOCKET} (default socket; DOCKER_HOST is not set)"


def _os_error(err: Optional[BaseException], depth: int = 0) -> Optional[OSError]:
    """The operating-system error at the root of a Docker SDK / requests / urllib3 error."""
    if depth > 8 or err is None:
        return None
    if isinstance(err, OSError) and err.strerror:
        return err
    for inner in (err.__cause__, err.__context__, *[a for a in err.args if isinstance(a, BaseException)]):
        found = _os_error(inner, depth + 1)
        if found:
            return found
    return None


def _unavailable(where: str, err: BaseException, daemon: str = "Docker daemon") -> DockerUnavailable:
    root = _os_error(err)
    reason = root.strerror if root else (str(err).splitlines()[0] if str(err) else type(err).__name__)
    if "Permission denied" in reason or "PermissionError" in reason:
        reason += " (run as root or as a member of the docker group)"
    return DockerUnavailable(f"cannot reach the {daemon} at {where}: {reason}")


def _explanation(err: BaseException) -> str:
    return str(getattr(err, "explanation", None) or err)


@contextmanager
def docker_errors(client: "docker.DockerClient | None" = None, *, what: str = "Docker daemon error",
                  not_found: Optional[Callable[[BaseException], Pcap4pyError]] = None) -> Iterator[None]:
    """The one boundary between the Docker SDK and pcap4py.

    A connection failure becomes :class:`DockerUnavailable` (naming where the
    client looked), the SDK's NotFound becomes ``not_found(e)`` (default: a
    :class:`DockerError`), any other API error a :class:`DockerError`
    ``"{what}: {explanation}"``.  The SDK's error is kept as the cause.
    """
    import docker
    import requests

    try:
        yield
    except Pcap4pyError:
        raise
    except docker.errors.NotFound as e:
        raise (not_found(e) if not_found else DockerError(f"{what}: {_explanation(e)}")) from e
    except (requests.exceptions.ConnectionError, ConnectionError) as e:
        raise _unavailable(docker_host(client), e) from e
    except docker.errors.APIError as e:
        raise DockerError(f"{what}: {_explanation(e)}") from e
    except docker.errors.DockerException as e:  # from_env/ping without a daemon, a bad DOCKER_HOST
        raise _unavailable(docker_host(client), e) from e


# --------------------------------------------------------------------------- containers


def docker_client(base_url: Optional[str] = None, *, where: Optional[str] = None,
                  daemon: str = "Docker daemon") -> "docker.DockerClient":
    """A Docker SDK client for an Engine API at ``base_url`` (None: from the environment,
    ``DOCKER_HOST`` or the default socket); Podman's service speaks the same API.

    Raises :class:`DockerUnavailable`, naming ``where`` it looked, when no daemon answers.
    """
    import docker

    try:
        client = docker.from_env() if base_url is None else docker.DockerClient(base_url=base_url, version="auto")
        client.ping()
    except Exception as e:  # the SDK's DockerException, requests' connection errors, socket errors
        raise _unavailable(where or docker_host(), e, daemon) from e
    return client


def _no_such_container(ref: str) -> Callable[[BaseException], Pcap4pyError]:
    def missing(err: BaseException) -> Pcap4pyError:
        if "multiple" in _explanation(err).lower():  # an id prefix that matches several containers
            return ContainerNotFound(f"{ref!r} matches several containers: give more of the id or the name")
        return ContainerNotFound(f"no such container: {ref}")
    return missing


def inspect_container(client: "docker.DockerClient", ref: str) -> dict:
    """The inspect record of container ``ref`` (name or id prefix); :class:`ContainerNotFound` if none."""
    if not ref:
        raise ContainerNotFound("no container name or id given")
    with docker_errors(client, not_found=_no_such_container(ref)):
        return client.api.inspect_container(ref)


def running_summaries(client: "docker.DockerClient", labels: Sequence[str] = ()) -> list[dict]:
    """The list records (``Id``, ``Names``, ``HostConfig.NetworkMode``...) of the running containers,
    those with every one of ``labels`` (``KEY`` or ``KEY=VALUE``) if given."""
    with docker_errors(client):
        return client.api.containers(filters={"label": list(labels)} if labels else None)


def container_events(client: "docker.DockerClient", since: Optional[float] = None, *,
                     container: Optional[str] = None, events: Sequence[str] = ("start", "die")) -> Any:
    """The stream of container ``events`` (of one ``container`` id, or of all) from time ``since``
    on (None: from now): decoded event dicts with ``Action``, ``id``, ``Actor.Attributes`` (``name``,
    the labels, ``exitCode``).  Iterate it (the SDK's errors surface as pcap4py's through
    :func:`docker_errors`); ``close()`` ends it from another thread."""
    filters = {"type": "container", "event": list(events)}
    if container is not None:
        filters["container"] = container
    with docker_errors(client, what="cannot follow Docker events"):
        return client.api.events(since=since, decode=True, filters=filters)


def running_container_ids(client: "docker.DockerClient") -> list[str]:
    """The ids of the running containers."""
    return [summary["Id"] for summary in running_summaries(client)]


def inspect_network(client: "docker.DockerClient", ref: str) -> Optional[dict]:
    """The inspect record of network ``ref``, or None when it is gone."""
    try:
        with docker_errors(client, not_found=lambda e: NotFound(f"no such network: {ref}")):
            return client.api.inspect_network(ref)
    except NotFound:
        return None


def network_settings(client: "docker.DockerClient", attrs: dict) -> dict:
    """A container's network settings, or those of the container whose namespace it joined."""
    mode = (attrs.get("HostConfig") or {}).get("NetworkMode", "")
    if mode.startswith("container:"):  # --network container:OTHER shares OTHER's namespace
        try:
            return inspect_container(client, mode.split(":", 1)[1]).get("NetworkSettings") or {}
        except ContainerNotFound:
            return {}
    return attrs.get("NetworkSettings") or {}


def container_networks(client: "docker.DockerClient", settings: dict) -> list[tuple[str, dict, dict]]:
    """(name, endpoint, network record) for every entry of ``NetworkSettings.Networks``, sorted by name.

    A network removed meanwhile has the record ``{"Id": <its id>, "Driver": None}``.
    """
    result = []
    for name, endpoint in sorted((settings.get("Networks") or {}).items()):
        net_id = endpoint.get("NetworkID") or ""
        info = inspect_network(client, net_id or name) or {"Id": net_id, "Driver": None}
        result.append((name, endpoint, info))
    return result


# --------------------------------------------------------------------------- networks on a bridge


class DockerBridgeNetworks:
    """Internal Docker networks laid on an existing Linux bridge, for :func:`pcap4py.plumbing.mirror.mirror_build`.

    Containers connected to such a network get a veth port on that bridge and,
    ``internal`` meaning no route out, see what the bridge floods to them.  The
    plumbing layer calls :meth:`ensure` and :meth:`remove` with plain names; the
    client is made on first use.
    """

    kind = "Docker network"

    def __init__(self, client: "docker.DockerClient | None" = None):
        self._client = client

    @property
    def client(self) -> "docker.DockerClient":
        if self._client is None:
            self._client = docker_client()
        return self._client

    def _find(self, name: str):
        nets = [n for n in self.client.networks.list(names=[name]) if n.name == name]
        return nets[0] if nets else None

    def ensure(self, name: str, bridge: str) -> tuple[str, bool]:
        """(id, created) of an internal bridge network ``name`` on ``bridge``, made if missing."""
        with docker_errors(self._client, what=f"cannot create Docker network {name} on {bridge}"):
            net = self._find(name)
            if net is not None:
                net.reload()
                opts = net.attrs.get("Options") or {}
                if net.attrs.get("Driver") != "bridge" or opts.get(BRIDGE_NAME_OPTION) != bridge:
                    raise DockerError(f"Docker network {name} already exists and is not on bridge {bridge}")
                return net.id, False
            net = self.client.networks.create(name, driver="bridge", internal=True,
                                              options={BRIDGE_NAME_OPTION: bridge})
            return net.id, True

    def remove(self, name: str, net_id: Optional[str]) -> bool:
        """Remove network ``name`` (only if its id is still ``net_id``), disconnecting its containers."""
        with docker_errors(self._client, what=f"cannot remove Docker network {name}"):
            net = self._find(name)
            if net is None or (net_id and net.id != net_id):
                return False  # gone already, or replaced by someone else's network of that name
            net.reload()
            # the network is going away: its endpoints go with it
            for cid in list((net.attrs.get("Containers") or {}).keys()):
                net.disconnect(cid, force=True)
            net.remove()
            return True
