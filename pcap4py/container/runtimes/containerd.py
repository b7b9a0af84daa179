"""The containerd backend: containerd's own API, for the containers nerdctl (or any client) makes.

The socket is ``CONTAINERD_ADDRESS`` (ctr's and nerdctl's variable), else
``/run/containerd/containerd.sock``.  Containers are asked of every containerd namespace
(``CONTAINERD_NAMESPACE``: that one only) but ``k8s.io``, whose pods the ``cri`` backend captures,
and ``moby``, Docker's, whose containers have no names there.  A container's name is its
``nerdctl/name`` label (else its id), its networks the ``nerdctl/networks`` label, its PID its
task's (``Tasks.Get``); its interfaces, as for every runtime, come from netlink.  Starts and stops
are containerd's ``/tasks/start`` and ``/tasks/exit`` events (``Events.Subscribe``).
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterator, Optional, Sequence

from ...errors import ContainerNotFound, ContainerNotRunning, DockerUnavailable, HostNetworkContainer
from ...netns import netns_path
from .. import inventory
from ..model import Container, ContainerInterface, ContainerNetwork, ContainerState
from . import rpc
from .base import Event, Listed, Runtime

__all__ = ["ContainerdRuntime"]

ENV = "CONTAINERD_ADDRESS"
NAMESPACE_ENV = "CONTAINERD_NAMESPACE"
DEFAULT = "unix:///run/containerd/containerd.sock"
SKIPPED = ("k8s.io", "moby", "plugins.moby")  # the cri backend's pods; Docker's (no names, no labels there)
NAME_LABEL = "nerdctl/name"
NETWORKS_LABEL = "nerdctl/networks"
RUNNING = 2  # containerd.v1.types.Status.RUNNING
# service -> its generated module under containerd.services
SERVICES = {"containers": "containers.v1.containers", "tasks": "tasks.v1.tasks", "events": "events.v1.events",
            "namespaces": "namespaces.v1.namespace"}


class ContainerdRuntime(Runtime):
    """containerd at ``endpoint`` (None: ``CONTAINERD_ADDRESS`` or the default socket)."""

    name = "containerd"

    def __init__(self, endpoint: Optional[str] = None):
        given = endpoint or os.environ.get(ENV) or DEFAULT
        self.endpoint = given if "://" in given else f"unix://{given}"
        self.where = f"{self.endpoint} ({ENV})" if os.environ.get(ENV) and not endpoint else self.endpoint
        self._channel: Any = None
        self._stubs: dict = {}
        self._pb: dict = {}

    @classmethod
    def instances(cls) -> list["ContainerdRuntime"]:
        if os.environ.get(ENV):
            return [cls()]
        if not rpc.available("containerd"):
            return []
        return [cls()] if os.path.exists(rpc.socket_path(DEFAULT)) else []

    # --- the connection ---------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The channel, connected (the namespaces listed once)."""
        if self._channel is None:
            services = {}
            for svc, module in SERVICES.items():
                self._pb[svc] = rpc.load(f"containerd.services.{module}_pb2", self.name)
                services[svc] = rpc.load(f"containerd.services.{module}_pb2_grpc", self.name)
            self._pb["task_events"] = rpc.load("containerd.events.task_pb2", self.name)
            self._pb["task"] = rpc.load("containerd.types.task.task_pb2", self.name)
            if not os.path.exists(rpc.socket_path(self.endpoint)):
                raise DockerUnavailable(f"cannot reach containerd at {self.where}: no such socket")
            channel = rpc.channel(self.endpoint)
            self._stubs = {svc: getattr(mod, f"{svc.capitalize()}Stub")(channel) for svc, mod in services.items()}
            self._channel = channel
            self.namespaces()
        return self._channel

    def _call(self, svc: str, method: str, request: Any, namespace: Optional[str], what: str, **kw) -> Any:
        self.client  # noqa: B018 - connects
        metadata = (("containerd-namespace", namespace),) if namespace else None
        with rpc.rpc_errors(self.where, what, daemon="containerd", **kw):
            return getattr(self._stubs[svc], method)(request, timeout=rpc.CALL_TIMEOUT_S, metadata=metadata)

    def close(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()

    def namespaces(self) -> list[str]:
        """The containerd namespaces whose containers this backend takes."""
        wanted = os.environ.get(NAMESPACE_ENV)
        if wanted:
            return [wanted]
        self.client  # noqa: B018 - connects
        pb = self._pb["namespaces"]
        reply = self._call("namespaces", "List", pb.ListNamespacesRequest(), None, "cannot list containerd namespaces")
        return sorted(n.name for n in reply.namespaces if n.name not in SKIPPED)

    # --- containers -------------------------------------------------------------------------------
    def _containers(self) -> list[tuple[str, Any]]:
        """(namespace, container) for every container of the namespaces taken."""
        found = []
        for ns in self.namespaces():
            pb = self._pb["containers"]
            reply = self._call("containers", "List", pb.ListContainersRequest(), ns, "cannot list containers")
            found += [(ns, c) for c in reply.containers]
        return found

    def _task(self, ns: str, container_id: str) -> Optional[Any]:
        """The container's task (its process), None when it has none (created, or stopped and deleted)."""
        pb = self._pb["tasks"]
        try:
            return self._call("tasks", "Get", pb.GetRequest(container_id=container_id), ns,
                              f"cannot inspect the task of {container_id[:12]}",
                              not_found=lambda: ContainerNotFound(container_id)).process
        except ContainerNotFound:
            return None

    def _find(self, ref: str) -> tuple[str, Any]:
        """(namespace, container) for ``ref``: a name, an id prefix, or ``NAMESPACE/NAME``."""
        every = self._containers()
        hits = [(ns, c) for ns, c in every if ref in (_name(c), f"{ns}/{_name(c)}")]
        hits = hits or [(ns, c) for ns, c in every if c.id.startswith(ref)]
        if len(hits) > 1:
            raise ContainerNotFound(f"{ref!r} matches several containers: give more of the id or NAMESPACE/NAME")
        if not hits:
            raise ContainerNotFound(f"no such container: {ref}")
        return hits[0]

    def _located(self, container_id: str) -> Optional[tuple[str, Any]]:
        for ns in self.namespaces():
            pb = self._pb["containers"]
            try:
                return ns, self._call("containers", "Get", pb.GetContainerRequest(id=container_id), ns,
                                      "cannot inspect a container",
                                      not_found=lambda: ContainerNotFound(container_id)).container
            except ContainerNotFound:
                continue
        return None

    def _state(self, task: Optional[Any]) -> ContainerState:
        if task is None:
            return ContainerState("created", False, None, None)
        running = task.status == RUNNING and task.pid > 0
        try:
            word = self._pb["task"].Status.Name(task.status).lower()
        except ValueError:
            word = "unknown"
        return ContainerState(word, running, task.pid if running else None,
                              task.exit_status if word == "stopped" else None)

    def _attrs(self, ns: str, c: Any, state: ContainerState) -> dict:
        labels = dict(c.labels)
        return {"Id": c.id, "Name": _name(c), "Config": {"Image": c.image, "Labels": labels},
                "State": {"Status": state.status, "Running": state.running, "Pid": state.pid,
                          "ExitCode": state.exit_code},
                "HostConfig": {"NetworkMode": ",".join(_networks(labels)) or "default"},
                "Namespace": ns}

    def _record(self, ns: str, c: Any, state: ContainerState, host: bool) -> Container:
        attrs = self._attrs(ns, c, state)
        if host:
            return Container.from_inspect(attrs, host_network=True, runtime=self.name, endpoint=self.endpoint)
        interfaces = tuple(ContainerInterface.from_inventory(i) for i in inventory.interfaces(netns_path(state.pid)))
        return Container.from_inspect(attrs, interfaces=interfaces, networks=_on_interfaces(attrs, interfaces),
                                      runtime=self.name, endpoint=self.endpoint)

    @staticmethod
    def _host(c: Any, state: ContainerState) -> bool:
        return "host" in _networks(dict(c.labels)) or inventory.is_own_namespace(netns_path(state.pid))

    # --- the interface ----------------------------------------------------------------------------
    def get(self, ref: str) -> Container:
        if not ref:
            raise ContainerNotFound("no container name or id given")
        ns, c = self._find(ref)
        state = self._state(self._task(ns, c.id))
        if not state.running:
            raise ContainerNotRunning(f"container {_name(c)} is not running (state: {state.status}): "
                                      f"it has no network namespace to capture; start it first")
        if self._host(c, state):
            raise HostNetworkContainer(f"container {_name(c)} uses the host's network: there is nothing "
                                       f"container-specific to capture; capture the host interface instead")
        return self._record(ns, c, state, False)

    def resolve(self, container_id: str) -> Optional[Container]:
        located = self._located(container_id)
        if located is None:
            return None
        ns, c = located
        state = self._state(self._task(ns, c.id))
        if not state.running:
            return None
        try:
            return self._record(ns, c, state, self._host(c, state))
        except Exception:
            now = self.state(container_id)  # it may have stopped while we entered it
            if now is not None and now.running:
                raise
            return None

    def listed(self, labels: Sequence[str] = ()) -> list[Listed]:
        pairs = [label.partition("=") for label in labels]
        items = []
        for ns, c in self._containers():
            have = dict(c.labels)
            if not all(k in have and (not sep or have[k] == v) for k, sep, v in pairs):
                continue
            if self._state(self._task(ns, c.id)).running:
                items.append(Listed(c.id, _name(c), have, "host" in _networks(have)))
        return items

    def state(self, container_id: str) -> Optional[ContainerState]:
        located = self._located(container_id)
        return None if located is None else self._state(self._task(located[0], container_id))

    def events(self, since: Optional[float] = None, container: Optional[str] = None) -> "_TaskEvents":
        return _TaskEvents(self, since is not None, container)


class _TaskEvents:
    """containerd's ``/tasks/start`` and ``/tasks/exit`` as :class:`Event` records (of one container,
    or of all in the namespaces taken).  containerd replays nothing: with ``replay``, the running
    containers are reported as started first (a start between a listing and the subscription is
    then not missed; those known already are ignored by the follower)."""

    TOPICS = ("/tasks/start", "/tasks/exit")

    def __init__(self, rt: ContainerdRuntime, replay: bool, container: Optional[str]):
        self._rt = rt
        self._container = container
        self._namespaces = set(rt.namespaces())
        pb = rt._pb["events"]
        filters = [f'topic=="{t}"' for t in self.TOPICS]
        with rpc.rpc_errors(rt.where, "cannot follow containerd events", daemon="containerd"):
            self._call = rt._stubs["events"].Subscribe(pb.SubscribeRequest(filters=filters))
        self._replay = [(ns, c.id) for ns, c in rt._containers()] if replay else []

    def __iter__(self) -> Iterator[Event]:
        for ns, cid in self._replay:
            event = self._event("start", ns, cid)
            if event is not None:
                yield event
        try:
            for envelope in self._call:
                event = self._decode(envelope)
                if event is not None:
                    yield event
        except Exception as e:  # noqa: BLE001 - close() cancels the stream: its end, not an error
            if not rpc.is_cancelled(e):
                raise

    def _decode(self, envelope: Any) -> Optional[Event]:
        if envelope.namespace not in self._namespaces:
            return None
        pb = self._rt._pb["task_events"]
        if envelope.topic == "/tasks/exit":
            exit_ = _unpack(envelope.event, pb.TaskExit())
            if exit_ is None or exit_.id != exit_.container_id:
                return None  # an exec'd process, not the container
            return self._event("stop", envelope.namespace, exit_.container_id, exit_.exit_status)
        if envelope.topic == "/tasks/start":
            start = _unpack(envelope.event, pb.TaskStart())
            return None if start is None else self._event("start", envelope.namespace, start.container_id)
        return None

    def _event(self, kind: str, ns: str, cid: str, code: Optional[int] = None) -> Optional[Event]:
        if self._container is not None and cid != self._container:
            return None
        try:
            c = self._rt._call("containers", "Get", self._rt._pb["containers"].GetContainerRequest(id=cid), ns,
                               "cannot inspect a container", not_found=lambda: ContainerNotFound(cid)).container
            return Event(kind, cid, _name(c), dict(c.labels), code)
        except ContainerNotFound:
            return Event(kind, cid, "", {}, code)

    def close(self) -> None:
        self._call.cancel()


def _unpack(any_: Any, message: Any) -> Optional[Any]:
    """``message`` read from ``any_``.  containerd's type URLs are bare names
    (``containerd.events.TaskExit``), which protobuf's ``Any.Unpack`` refuses (it wants a ``/``)."""
    from google.protobuf.message import DecodeError

    if any_.type_url.rsplit("/", 1)[-1] != message.DESCRIPTOR.full_name:
        return None
    try:
        message.ParseFromString(any_.value)
    except DecodeError:
        return None  # not what its type says: skipped, the stream goes on
    return message


def _name(c: Any) -> str:
    return c.labels.get(NAME_LABEL) or c.id[:12]


def _networks(labels: dict) -> list[str]:
    try:
        nets = json.loads(labels.get(NETWORKS_LABEL) or "[]")
    except ValueError:
        return []
    return [str(n) for n in nets] if isinstance(nets, list) else []


def _on_interfaces(attrs: dict, interfaces: tuple) -> tuple:
    """nerdctl's networks, the n-th on ``eth<n>`` (how it attaches them), with that interface's facts."""
    by_name = {i.name: i for i in interfaces}
    result = []
    for n, name in enumerate(_networks(attrs["Config"]["Labels"])):
        iface = by_name.get(f"eth{n}")
        v4 = next((a for a in iface.addresses if ":" not in a.address), None) if iface else None
        v6 = next((a for a in iface.addresses if ":" in a.address and not a.address.startswith("fe80")),
                  None) if iface else None
        result.append(ContainerNetwork(name=name, id=name, driver="cni", bridge=None,
                                       ip=v4.address if v4 else None, prefixlen=v4.prefixlen if v4 else None,
                                       ipv6=v6.address if v6 else None, ipv6_prefixlen=v6.prefixlen if v6 else None,
                                       mac=iface.mac if iface else None, gateway=None))
    return tuple(result)
