"""The CRI backend: Kubernetes' Container Runtime Interface on containerd's or CRI-O's socket.

The socket is ``CONTAINER_RUNTIME_ENDPOINT`` (crictl's variable), else ``/run/containerd/containerd.sock``
and ``/run/crio/crio.sock`` when there (a containerd without the CRI plugin, as Docker's, is
skipped).  What is captured is a pod: its containers share the sandbox's network namespace.  A
pod is one record named ``NAMESPACE/NAME`` (its ``pod`` too), found by ``ListPodSandbox`` and
``PodSandboxStatus(verbose)`` (labels, IP, the sandbox's PID and network namespace); a
container's name or id (``ListContainers``) resolves to its pod.  Stops and starts are read by
listing the ready pods every :data:`POLL_S`: containerd 1.6 has no ``GetContainerEvents``; where
the runtime has it, its events wake the listing at once.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Iterator, Optional, Sequence

from ...errors import ContainerNotFound, ContainerNotRunning, DockerUnavailable, HostNetworkContainer, SelectionError
from ...netns import netns_path
from .. import inventory
from ..model import Container, ContainerInterface, ContainerNetwork, ContainerState
from . import rpc
from .base import Event, Listed, Runtime

__all__ = ["CriRuntime"]

ENV = "CONTAINER_RUNTIME_ENDPOINT"
DEFAULTS = ("unix:///run/containerd/containerd.sock", "unix:///run/crio/crio.sock")
POLL_S = 1.0  # how often the ready pods are listed for stops and starts (bounds the news of a stop)
NODE = 2  # NamespaceMode.NODE: the pod uses the host's network


class CriRuntime(Runtime):
    """The CRI runtime at ``endpoint`` (None: ``CONTAINER_RUNTIME_ENDPOINT`` or containerd's socket)."""

    name = "cri"

    def __init__(self, endpoint: Optional[str] = None):
        given = endpoint or os.environ.get(ENV) or DEFAULTS[0]
        self.endpoint = given if "://" in given else f"unix://{given}"
        self.where = f"{self.endpoint} ({ENV})" if os.environ.get(ENV) and not endpoint else self.endpoint
        self._stub: Any = None
        self._pb: Any = None
        self._channel: Any = None

    @classmethod
    def instances(cls) -> list["CriRuntime"]:
        if os.environ.get(ENV):
            return [cls()]
        if not rpc.available("cri_pb2"):
            return []  # without grpcio or the stubs, found only when asked for (then the error says so)
        return [cls(url) for url in DEFAULTS if os.path.exists(rpc.socket_path(url))]

    @property
    def client(self) -> Any:
        """The RuntimeService stub, connected (its Version answered)."""
        if self._stub is None:
            self._pb, services = rpc.stubs("cri", self.name)
            if not os.path.exists(rpc.socket_path(self.endpoint)):
                raise DockerUnavailable(f"cannot reach the CRI runtime at {self.where}: no such socket")
            self._channel = rpc.channel(self.endpoint)
            stub = services.RuntimeServiceStub(self._channel)
            with rpc.rpc_errors(self.where, "CRI runtime error", daemon="CRI runtime"):
                stub.Version(self._pb.VersionRequest(), timeout=rpc.CALL_TIMEOUT_S)
            self._stub = stub
        return self._stub

    def _call(self, method: str, request: Any, what: str, **kw) -> Any:
        with rpc.rpc_errors(self.where, what, daemon="CRI runtime", **kw):
            return getattr(self.client, method)(request, timeout=rpc.CALL_TIMEOUT_S)

    def close(self) -> None:
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            channel.close()

    # --- pods -----------------------------------------------------------------------------------
    def _ready_pods(self, pod_id: str = "", labels: Optional[dict] = None) -> list:
        self.client  # noqa: B018 - connects: self._pb is set
        pb = self._pb
        flt = pb.PodSandboxFilter(id=pod_id, label_selector=labels or {},
                                  state=pb.PodSandboxStateValue(state=pb.SANDBOX_READY))
        return list(self._call("ListPodSandbox", pb.ListPodSandboxRequest(filter=flt), "cannot list pods").items)

    def _status(self, pod_id: str) -> tuple[Any, dict]:
        """(status, verbose info) of pod ``pod_id``; :class:`ContainerNotFound` when it is gone."""
        self.client  # noqa: B018
        reply = self._call("PodSandboxStatus", self._pb.PodSandboxStatusRequest(pod_sandbox_id=pod_id, verbose=True),
                           f"cannot inspect pod {pod_id[:12]}",
                           not_found=lambda: ContainerNotFound(f"no such pod: {pod_id}"))
        try:
            info = json.loads(reply.info.get("info") or "{}")
        except ValueError:
            info = {}
        return reply.status, info if isinstance(info, dict) else {}

    def _state(self, status: Any, info: dict) -> ContainerState:
        ready = status.state == self._pb.SANDBOX_READY
        pid = info.get("pid")
        pid = pid if type(pid) is int and pid > 0 else None  # the runtime's JSON: anything may be there
        return ContainerState("ready" if ready else "notready", ready and pid is not None, pid, None)

    def _attrs(self, status: Any, info: dict) -> dict:
        """The pod as an inspect-like record (what :class:`Container` reads), its CRI facts beside."""
        state = self._state(status, info)
        meta = status.metadata
        return {"Id": status.id, "Name": f"{meta.namespace}/{meta.name}",
                "Config": {"Image": str(info.get("image") or ""), "Labels": dict(status.labels)},
                "State": {"Status": state.status, "Running": state.running, "Pid": state.pid},
                "HostConfig": {"NetworkMode": "host" if _host_network(status) else "pod"},
                "Pod": {"name": meta.name, "namespace": meta.namespace, "uid": meta.uid,
                        "annotations": dict(status.annotations), "ip": status.network.ip,
                        "netns": _netns_file(info)}}

    def _record(self, status: Any, info: dict) -> Container:
        attrs = self._attrs(status, info)
        host = _host_network(status)
        interfaces: tuple = ()
        if not host:
            path = netns_path(attrs["State"]["Pid"])
            interfaces = tuple(ContainerInterface.from_inventory(i) for i in inventory.interfaces(path))
        net = _network(status, info, interfaces)
        return Container.from_inspect(attrs, interfaces=interfaces, networks=net, host_network=host,
                                      runtime=self.name, pod=attrs["Name"], endpoint=self.endpoint)

    # --- the interface ----------------------------------------------------------------------------
    def get(self, ref: str) -> Container:
        if not ref:
            raise ContainerNotFound("no container name or id given")
        status, info = self._status(self._find(ref))
        record = Container.from_inspect(self._attrs(status, info), runtime=self.name, endpoint=self.endpoint)
        if not self._state(status, info).running:
            raise ContainerNotRunning(f"pod {record.name} is not running (state: {record.state}): "
                                      f"it has no network namespace to capture")
        if _host_network(status):
            raise HostNetworkContainer(f"pod {record.name} uses the host's network: there is nothing "
                                       f"pod-specific to capture; capture the host interface instead")
        return self._record(status, info)

    def _find(self, ref: str) -> str:
        """The id of the pod ``ref`` names: ``NAMESPACE/NAME``, a pod name or id prefix, or a
        container's name or id prefix (its pod)."""
        self.client  # noqa: B018 - connects: self._pb is set
        pb = self._pb
        pods = list(self._call("ListPodSandbox", pb.ListPodSandboxRequest(), "cannot list pods").items)
        hits = {p.id for p in pods if ref in (f"{p.metadata.namespace}/{p.metadata.name}", p.metadata.name)
                or p.id.startswith(ref)}
        if not hits:
            ctrs = self._call("ListContainers", pb.ListContainersRequest(), "cannot list containers").containers
            hits = {c.pod_sandbox_id for c in ctrs if ref == c.metadata.name or c.id.startswith(ref)}
        ready = {p.id for p in pods if p.state == pb.SANDBOX_READY} & hits
        if len(ready or hits) > 1:
            raise ContainerNotFound(f"{ref!r} matches several pods: give NAMESPACE/NAME or more of the id")
        if not hits:
            raise ContainerNotFound(f"no such container: {ref}")
        return next(iter(ready or hits))

    def resolve(self, container_id: str) -> Optional[Container]:
        try:
            status, info = self._status(container_id)
        except ContainerNotFound:
            return None
        if not self._state(status, info).running:
            return None
        if _host_network(status):
            return Container.from_inspect(self._attrs(status, info), host_network=True, runtime=self.name,
                                          pod=f"{status.metadata.namespace}/{status.metadata.name}",
                                          endpoint=self.endpoint)
        try:
            return self._record(status, info)
        except Exception:
            state = self.state(container_id)  # its sandbox may have stopped while we entered it
            if state is not None and state.running:
                raise
            return None

    def listed(self, labels: Sequence[str] = ()) -> list[Listed]:
        pairs = [label.partition("=") for label in labels]
        exact = {k: v for k, sep, v in pairs if sep}
        return [Listed(p.id, f"{p.metadata.namespace}/{p.metadata.name}", dict(p.labels))
                for p in self._ready_pods(labels=exact)
                if all(k in p.labels for k, sep, _ in pairs if not sep)]

    def state(self, container_id: str) -> Optional[ContainerState]:
        try:
            return self._state(*self._status(container_id))
        except ContainerNotFound:
            return None

    def pod_members(self, pod: str) -> list[str]:
        namespace, _, name = pod.rpartition("/")
        found = [p for p in self._ready_pods() if p.metadata.name == name
                 and (not namespace or p.metadata.namespace == namespace)]
        spaces = sorted({p.metadata.namespace for p in found})
        if len(spaces) > 1:
            raise SelectionError(f"pod {pod} is in several namespaces ({', '.join(spaces)}): give NAMESPACE/{name}")
        if not found:
            raise ContainerNotFound(f"no such pod: {pod}")
        return [p.id for p in found]

    def events(self, since: Optional[float] = None, container: Optional[str] = None) -> "_PodEvents":
        return _PodEvents(self, since, container or "")


class _PodEvents:
    """Starts and stops of the ready pods (of one, ``pod_id``), from listings :data:`POLL_S` apart.

    The first listing is taken here, when subscribing, so that a stop right after is not missed;
    pods created from ``since`` on are reported as started.  A ``GetContainerEvents`` stream, where
    the runtime has one, wakes the next listing early."""

    def __init__(self, rt: CriRuntime, since: Optional[float], pod_id: str):
        self._rt = rt
        self._pod_id = pod_id
        self._closed = threading.Event()
        self._wake = threading.Event()
        self._call: Any = None
        self._known = self._snapshot()
        cutoff = int((since or time.time()) * 1e9)
        self._fresh = [item for item, created in self._known.values() if created >= cutoff] if since else []
        threading.Thread(target=self._listen, name="pcap4py-cri-events", daemon=True).start()

    def _snapshot(self) -> dict:
        return {p.id: (Listed(p.id, f"{p.metadata.namespace}/{p.metadata.name}", dict(p.labels)), p.created_at)
                for p in self._rt._ready_pods(pod_id=self._pod_id)}

    def _listen(self) -> None:
        """Wake the poll on each of the runtime's events; gone quietly where it has none (containerd 1.6)."""
        try:
            self._call = self._rt.client.GetContainerEvents(self._rt._pb.GetEventsRequest())
            for _ in self._call:
                self._wake.set()
        except Exception:  # noqa: BLE001 - unimplemented, cancelled by close(), or the runtime went away
            pass

    def __iter__(self) -> Iterator[Event]:
        for item in self._fresh:
            yield Event("start", item.id, item.name, item.labels)
        while not self._closed.is_set():
            self._wake.wait(POLL_S)
            self._wake.clear()
            if self._closed.is_set():
                return
            now = self._snapshot()
            for pod_id in self._known.keys() - now.keys():
                item = self._known[pod_id][0]
                yield Event("stop", pod_id, item.name, item.labels)
            for pod_id in now.keys() - self._known.keys():
                item = now[pod_id][0]
                yield Event("start", pod_id, item.name, item.labels)
            self._known = now

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        if self._call is not None:
            self._call.cancel()


def _host_network(status: Any) -> bool:
    return status.linux.namespaces.options.network == NODE


def _netns_file(info: dict) -> Optional[str]:
    """The network namespace file in the sandbox's OCI spec (containerd's verbose info)."""
    spaces = _dig(info, "runtimeSpec", "linux", "namespaces")
    paths = (n.get("path") for n in spaces if isinstance(n, dict) and n.get("type") == "network") \
        if isinstance(spaces, list) else ()
    return next((p for p in paths if isinstance(p, str) and p), None)


def _dig(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...``, None where a level is missing or not a mapping."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _network(status: Any, info: dict, interfaces: tuple) -> tuple:
    """The pod's network as its runtime reports it: the CNI network's name, its IP(s), on the
    interface holding that IP."""
    ips = [status.network.ip, *(i.ip for i in status.network.additional_ips)]
    ips = [ip for ip in ips if ip]
    if not ips:
        return ()
    name = "cni"  # the CRI does not name the network (containerd's verbose info: only its result)
    iface = next((i for i in interfaces if any(a.address == ips[0] for a in i.addresses)), None)
    v6 = next((ip for ip in ips[1:] if ":" in ip), None)
    return (ContainerNetwork(name=name, id=name, driver="cni", bridge=None, ip=ips[0],
                             prefixlen=next((a.prefixlen for a in iface.addresses if a.address == ips[0]), None)
                             if iface else None, ipv6=v6, ipv6_prefixlen=None,
                             mac=iface.mac if iface else None, gateway=None),)
