"""The Kubernetes API, through the official client (the optional extra ``pcap4py[kube]``).

What a pod capture asks of the cluster, and nothing else: the pods selected (by name or label
selector), an ephemeral container added to each (the bundled image running
:mod:`pcap4py.remote.agent`, with only NET_RAW and NET_ADMIN, in the target container's
namespaces, as ``kubectl debug --profile=netadmin --target`` makes), its start awaited, and an
attach: its standard output is the pcapng, its standard input the lifeline, closed to end the
capture.

RBAC verbs needed: ``get``/``list`` on pods, ``patch`` on ``pods/ephemeralcontainers``,
``create`` (and ``get``) on ``pods/attach``.  Every refusal or failure
becomes :class:`~pcap4py.errors.PodUnreachable` with one line saying which and why.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from ..errors import KubeError, PodUnreachable

AGENT_MODULE = "pcap4py.remote.agent"
DEFAULT_IMAGE = "pcap4py"  # the bundled image as docker/build.sh tags it
IMAGE_VARIABLE = "PCAP4PY_KUBE_IMAGE"
CONTAINER_PREFIX = "pcap4py-"
ATTACH_ATTEMPTS = 5  # a websocket handshake failing right after the container starts is tried again
START_TIMEOUT = 120.0  # seconds for the ephemeral container to start (image already on the node)
_WAITING_FAILURES = {"ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                     "CreateContainerError", "CreateContainerConfigError", "RunContainerError"}


@dataclass(frozen=True)
class Pod:
    """A pod to capture: where it runs, its uid, its IPs, and the container whose namespaces it takes."""

    namespace: str
    name: str
    uid: str
    node: Optional[str]
    ips: tuple
    target: str
    containers: tuple = ()  # every container of its spec, in order

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def client(kubeconfig: Optional[str] = None, context: Optional[str] = None) -> tuple[Any, str]:
    """A CoreV1Api client and the context's namespace ('default' when it names none): the
    kubeconfig (``KUBECONFIG`` or ~/.kube/config), else the in-cluster service account."""
    try:
        from kubernetes import client as k8s, config
        from kubernetes.config.config_exception import ConfigException
    except ImportError:
        raise KubeError("the Kubernetes client is not installed: pip install 'pcap4py[kube]'") from None
    namespace = "default"
    try:
        config.load_kube_config(config_file=kubeconfig, context=context)
        _, active = config.list_kube_config_contexts(config_file=kubeconfig)
        if context is not None:
            active = next((c for c in config.list_kube_config_contexts(config_file=kubeconfig)[0]
                           if c["name"] == context), active)
        namespace = (active or {}).get("context", {}).get("namespace") or namespace
    except (ConfigException, OSError) as e:
        try:
            config.load_incluster_config()
        except ConfigException:
            raise KubeError(f"no Kubernetes configuration: {_first_line(e)}") from None
    return k8s.CoreV1Api(), namespace


def default_image() -> str:
    """The image the ephemeral containers run: ``$PCAP4PY_KUBE_IMAGE``, else the bundled image's name."""
    return os.environ.get(IMAGE_VARIABLE) or DEFAULT_IMAGE


def kubeconfig_present() -> bool:
    """Whether a kubeconfig is there to read (a file of ``KUBECONFIG``, else ~/.kube/config),
    without importing the client."""
    listed = os.environ.get("KUBECONFIG")
    paths = [p for p in listed.split(os.pathsep) if p] if listed else [str(Path.home() / ".kube" / "config")]
    return any(os.path.isfile(os.path.expanduser(p)) for p in paths)


def running_pods(api: Any, namespace: str, timeout: Optional[float] = None) -> tuple[list[Pod], Optional[str]]:
    """The running pods of every namespace the user may list, or of ``namespace`` alone when
    listing them all is refused (then also a line saying so); each request bounded by ``timeout``."""
    running = "status.phase=Running"
    narrowed = None
    try:
        raw = api.list_pod_for_all_namespaces(field_selector=running, _request_timeout=timeout).items
    except Exception as e:  # noqa: BLE001
        if getattr(e, "status", None) != 403:
            raise KubeError(f"cannot list pods: {_api_error(e, 'list', 'pods')}") from None
        narrowed = f"listing pods in all namespaces is forbidden: only namespace {namespace}"
        try:
            raw = api.list_namespaced_pod(namespace, field_selector=running, _request_timeout=timeout).items
        except Exception as e:  # noqa: BLE001
            raise KubeError(f"cannot list pods in {namespace}: {_api_error(e, 'list', 'pods')}") from None
    pods = [pod for pod, _ in (pod_of(r, None) for r in raw) if pod is not None]
    return sorted(pods, key=lambda p: (p.namespace, p.name)), narrowed


def select_pods(api: Any, namespace: str, names: tuple = (), selector: Optional[str] = None,
                target: Optional[str] = None) -> tuple[list[Pod], list[str]]:
    """The running pods named or matching ``selector``, and one line for each named pod that
    cannot be taken (absent, not running); a refusal to list raises :class:`KubeError`."""
    found, problems = {}, []
    for name in names:
        try:
            raw = api.read_namespaced_pod(name, namespace)
        except Exception as e:  # noqa: BLE001 - the client's ApiException, mapped to one line
            problems.append(f"pod {namespace}/{name}: {_api_error(e, 'get', 'pods')}")
            continue
        pod, problem = pod_of(raw, target)
        if problem:
            problems.append(problem)
        else:
            found[pod.uid] = pod
    if selector:
        try:
            listed = api.list_namespaced_pod(namespace, label_selector=selector).items
        except Exception as e:  # noqa: BLE001
            raise KubeError(f"cannot list pods in {namespace}: {_api_error(e, 'list', 'pods')}") from None
        for raw in listed:
            pod, problem = pod_of(raw, target)
            if pod is not None:
                found.setdefault(pod.uid, pod)
            elif raw.status.phase in ("Running", "Pending"):
                problems.append(problem)
    return sorted(found.values(), key=lambda p: p.name), problems


def pod_of(raw: Any, target: Optional[str]) -> tuple[Optional[Pod], Optional[str]]:
    """The :class:`Pod` of an API pod object, or None and why it cannot be captured."""
    ns, name = raw.metadata.namespace, raw.metadata.name
    if raw.status.phase != "Running":
        return None, f"pod {ns}/{name} is {raw.status.phase}, not Running"
    containers = [c.name for c in raw.spec.containers]
    chosen = target or containers[0]
    if chosen not in containers:
        return None, f"pod {ns}/{name} has no container {chosen} (it has {', '.join(containers)})"
    ips = tuple(p.ip for p in (raw.status.pod_ips or []) if p.ip) or ((raw.status.pod_ip,) if raw.status.pod_ip else ())
    return Pod(ns, name, raw.metadata.uid, raw.spec.node_name, ips, chosen, tuple(containers)), None


def watch_pods(api: Any, namespace: str, selector: Optional[str], closed: Callable[[], bool],
               period: int = 5) -> Iterator[Any]:
    """The pod objects of ``namespace`` matching ``selector`` as they change, until ``closed()``
    (checked at least every ``period`` seconds); a refusal ends it with :class:`KubeError`."""
    from kubernetes import watch

    while not closed():
        try:
            for event in watch.Watch().stream(api.list_namespaced_pod, namespace, label_selector=selector,
                                              timeout_seconds=period):
                if closed():
                    return
                if event.get("type") in ("ADDED", "MODIFIED"):
                    yield event["object"]
        except Exception as e:  # noqa: BLE001
            if getattr(e, "status", None) in (401, 403):
                raise KubeError(f"cannot watch pods in {namespace}: {_api_error(e, 'watch', 'pods')}") from None
            # an expired or too new resource version (410, 504), a dropped connection: list and
            # watch afresh (the pods already taken are known by uid)
            time.sleep(1.0)


class EphemeralCapture:
    """The ephemeral capture container of one pod: added, started, streamed, ended."""

    def __init__(self, api: Any, pod: Pod, image: str, *, pull_policy: str = "IfNotPresent",
                 filter: Optional[str] = None, snaplen: int = 262144):
        self.api = api
        self.pod = pod
        self.image = image
        self.name = CONTAINER_PREFIX + os.urandom(3).hex()  # (secrets would import hashlib: ~3 MB into every run)
        self._pull_policy = pull_policy
        self._args = ["--snaplen", str(snaplen)] + (["--filter", filter] if filter else [])
        self._lifeline: Any = None
        self._closed = False

    def spec(self) -> dict:
        """The ephemeral container (``kubectl debug --profile=netadmin`` capabilities, and stdin)."""
        return {
            "name": self.name, "image": self.image, "imagePullPolicy": self._pull_policy,
            "command": ["python3", "-m", AGENT_MODULE, *self._args],
            "targetContainerName": self.pod.target,
            "stdin": True, "stdinOnce": True, "tty": False,
            "terminationMessagePolicy": "File",
            "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_RAW"]}},
        }

    def add(self) -> None:
        """Add the container to the pod (a strategic merge: the pod's other ones stay)."""
        body = {"spec": {"ephemeralContainers": [self.spec()]}}
        try:
            self.api.patch_namespaced_pod_ephemeralcontainers(
                self.pod.name, self.pod.namespace, body, _content_type="application/strategic-merge-patch+json")
        except Exception as e:  # noqa: BLE001
            why = _api_error(e, "patch", "pods/ephemeralcontainers")
            if getattr(e, "status", None) == 404:
                why += ": the pod is gone, or the cluster has no ephemeral containers (Kubernetes 1.23 or later)"
            raise PodUnreachable(f"pod {self.pod}: cannot add a capture container: {why}") from None

    def wait_running(self, timeout: float = START_TIMEOUT) -> None:
        """Wait for the container to run; its failing to start (image absent...) raises."""
        deadline = time.monotonic() + timeout
        while True:
            state = self._state()
            if state is not None and state.running is not None:
                return
            if state is not None and state.terminated is not None:
                t = state.terminated
                message = (t.message or "").strip() or f"exit code {t.exit_code} ({t.reason})"
                raise PodUnreachable(f"pod {self.pod}: the capture container ended at once: {_first_line(message)}")
            if state is not None and state.waiting is not None and state.waiting.reason in _WAITING_FAILURES:
                w = state.waiting
                raise PodUnreachable(f"pod {self.pod}: the capture container cannot start: {w.reason}: "
                                     f"{_first_line(w.message or self.image)}")
            if self._closed or time.monotonic() > deadline:
                raise PodUnreachable(f"pod {self.pod}: the capture container did not start within {timeout:.0f} s")
            time.sleep(0.3)

    def _state(self) -> Any:
        try:
            raw = self.api.read_namespaced_pod(self.pod.name, self.pod.namespace)
        except Exception as e:  # noqa: BLE001
            raise PodUnreachable(f"pod {self.pod}: {_api_error(e, 'get', 'pods')}") from None
        for status in raw.status.ephemeral_container_statuses or []:
            if status.name == self.name:
                return status.state
        return None

    def termination_message(self) -> Optional[str]:
        """What the agent wrote when it ended (its counters), once it has."""
        state = self._state()
        return state.terminated.message if state is not None and state.terminated is not None else None

    def open_stream(self, poll: float = 0.5) -> Iterator[bytes]:
        """Attach to the agent (its standard input and output), tell it to start, and return its
        output (the pcapng) as it comes, byte for byte, until it ends.

        The attach stream is a websocket (the v5 channel protocol when the cluster speaks it):
        unlike the container's log, which the runtime stores as lines (a CR before a LF is lost
        there), it carries the bytes as they were written.
        """
        ws = self._attach()
        try:
            ws.write_stdin(b"\n")  # the agent waits for this before it writes anything
        except Exception as e:  # noqa: BLE001
            raise PodUnreachable(f"pod {self.pod}: cannot attach to the capture container: "
                                 f"{_first_line(e)}") from None
        self._lifeline = ws
        return self._read(ws, poll)

    def _attach(self, attempts: int = ATTACH_ATTEMPTS) -> Any:
        """The attach websocket; a transport failure (the kubelet not ready to stream a container
        that has just started) is tried again, a refusal (RBAC) is not."""
        from kubernetes.stream import stream

        for attempt in range(attempts):
            try:
                # a client of its own: stream() swaps its client's transport for a websocket while
                # it connects, which would take other threads' calls on a shared client with it
                from kubernetes import client as k8s

                api = k8s.CoreV1Api(k8s.ApiClient())
                ws = stream(api.connect_get_namespaced_pod_attach, self.pod.name, self.pod.namespace,
                            container=self.name, stdin=True, stdout=True, stderr=False, tty=False,
                            _preload_content=False, binary=True)
                ws._all = _Discard()  # the client keeps a copy of all output unless told not to
                return ws
            except Exception as e:  # noqa: BLE001
                refused = getattr(e, "status", None) in (401, 403, 404)
                if refused or attempt == attempts - 1 or self._closed:
                    raise PodUnreachable(f"pod {self.pod}: cannot attach to the capture container: "
                                         f"{_api_error(e, 'create', 'pods/attach')}") from None
                time.sleep(1.0)
        raise AssertionError("unreachable")

    def _read(self, ws: Any, poll: float) -> Iterator[bytes]:
        try:
            while True:
                ws.update(timeout=poll)
                data = ws.read_stdout(timeout=0)
                if data:
                    yield data
                elif not ws.is_open():
                    return
        except Exception:  # noqa: BLE001 - closed under our feet: an end we asked for, else a break
            if not self._closed:
                raise

    def end_input(self) -> None:
        """Close the agent's standard input (it then finishes, and its output ends): the v5
        protocol's half-close, else the whole stream (what was still on the way is lost)."""
        ws = self._lifeline
        if ws is None:
            self._closed = True
            return
        if getattr(ws, "subprotocol", None) == "v5.channel.k8s.io":
            try:
                ws.close_channel(0)
                return
            except Exception:  # noqa: BLE001 - then close it all
                pass
        self.close()

    def close(self) -> None:
        """End the capture in the pod: close the stream (its input ends, the agent stops)."""
        self._closed = True
        if self._lifeline is not None:
            try:
                self._lifeline.close()
            except Exception:  # noqa: BLE001 - already closed by the other side
                pass


class _Discard:
    """Where the websocket client's copy of all output goes: nowhere."""

    def write(self, data: Any) -> None:
        pass

    def getvalue(self) -> bytes:
        return b""


def _api_error(error: Exception, verb: str, resource: str) -> str:
    """One line for a failed API call: the RBAC verb when refused, else the server's message."""
    status = getattr(error, "status", None)
    body = getattr(error, "body", None)
    message = _message_of(body) or _first_line(getattr(error, "reason", None) or error) or type(error).__name__
    if status == 403:
        return f"forbidden: the RBAC verb '{verb}' on {resource} is needed ({message})"
    if status == 404:
        return f"not found ({message})"
    if status:  # 0: the client's own failure (a websocket handshake), no HTTP status
        return f"{message} (HTTP {status})"
    return message


def _message_of(body: Any) -> Optional[str]:
    import json

    try:
        return _first_line(json.loads(body)["message"]) if body else None
    except (ValueError, KeyError, TypeError):
        return None


def _first_line(text: Any) -> str:
    return (str(text).strip().splitlines() or [""])[0]
