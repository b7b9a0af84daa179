"""Kubernetes pods behind the extcap interfaces: the only module here that imports the remote layer.

With a kubeconfig present (``KUBECONFIG`` or ~/.kube/config) and the client installed
(``pcap4py[kube]``), every running pod the user may list (in all namespaces, else in the current
context's namespace) is an interface ``pcap4py-k8s-NS-POD``.  Listing is bounded
(:data:`LIST_TIMEOUT` seconds, ``$PCAP4PY_KUBE_LIST_TIMEOUT``) and never fails the whole answer:
a cluster that is unreachable, slow or refuses is one line on stderr, and the containers are
listed all the same.  A capture finds the pod again by its interface (a fresh listing) and takes
it through :func:`pcap4py.remote.pods.open_pods`, as ``capture --kube`` does.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from importlib.util import find_spec
from typing import TYPE_CHECKING, Callable, Iterator, NamedTuple, Optional, Sequence

from ..errors import KubeError, NotFound, Pcap4pyError
from ..remote.kube import Pod, client, default_image, kubeconfig_present, running_pods

if TYPE_CHECKING:
    from ..engine.capture import Capture

K8S_PREFIX = "pcap4py-k8s-"
LIST_TIMEOUT = 2.0  # seconds the listing waits for a cluster (Wireshark waits for the whole answer)
TIMEOUT_VARIABLE = "PCAP4PY_KUBE_LIST_TIMEOUT"
FIND_TIMEOUT = 30.0  # seconds a capture waits for the listing that finds its pod
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")  # what an interface value may hold (names are DNS names anyway)


class PodInterface(NamedTuple):
    """A running pod as the extcap lists it: its interface value, display and the pod."""

    value: str
    display: str
    pod: Pod


def interfaces_of(pods: Sequence[Pod]) -> list[PodInterface]:
    """Each pod's interface, sorted: ``pcap4py-k8s-NS-POD``; pods whose names would be the same
    value (``a-b``/``c`` and ``a``/``b-c``) each get their uid's first characters too."""
    by_value: dict[str, list[Pod]] = {}
    for pod in pods:
        by_value.setdefault(K8S_PREFIX + _UNSAFE.sub("_", f"{pod.namespace}-{pod.name}"), []).append(pod)
    found = []
    for value, same in by_value.items():
        for pod in same:
            unique = value if len(same) == 1 else f"{value}-{pod.uid[:8]}"
            found.append(PodInterface(unique, f"Kubernetes pod {pod} ({pod.node or 'no node yet'})", pod))
    return sorted(found)


def list_timeout() -> float:
    try:
        return max(0.1, float(os.environ.get(TIMEOUT_VARIABLE, LIST_TIMEOUT)))
    except ValueError:
        return LIST_TIMEOUT


def start_listing(timeout: Optional[float] = None,
                  warn: Optional[Callable[[str], None]] = None) -> Callable[[], list[PodInterface]]:
    """Start listing the pods on a thread of its own; the returned call waits for the list, at most
    ``timeout`` seconds from now (a cluster slower than that is skipped with a line through ``warn``).
    Without a kubeconfig or the client, nothing is asked and the list is empty."""
    warn = warn or _stderr
    if not kubeconfig_present() or find_spec("kubernetes") is None:
        return lambda: []
    timeout = list_timeout() if timeout is None else timeout
    # imported here, not on the thread: two threads importing packages that share modules
    # (requests, urllib3: the container runtimes' clients) can see them half made
    import kubernetes.client  # noqa: F401
    import kubernetes.config  # noqa: F401
    result: dict = {}

    def work() -> None:
        try:
            api, namespace = client()
            result["server"] = api.api_client.configuration.host
            pods, narrowed = running_pods(api, namespace, timeout)
            result["pods"], result["narrowed"] = pods, narrowed
        except Pcap4pyError as e:
            result["error"] = str(e)
        except Exception as e:  # noqa: BLE001 - a broken kubeconfig, a client failure: one line, never the listing
            result["error"] = f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]}"

    # a daemon: a cluster that never answers must not keep the answer (or the process) waiting
    thread = threading.Thread(target=work, name="pcap4py-kube-list", daemon=True)
    deadline = time.monotonic() + timeout
    thread.start()

    def wait() -> list[PodInterface]:
        thread.join(max(0.0, deadline - time.monotonic()))
        where = f" ({result['server']})" if result.get("server") else ""
        if thread.is_alive():
            warn(f"Kubernetes pods not listed: the cluster{where} did not answer within {timeout:g} s")
            return []
        if "error" in result:
            warn(f"Kubernetes pods not listed{where}: {result['error']}")
            return []
        if result.get("narrowed"):
            warn(result["narrowed"])
        return interfaces_of(result["pods"])

    wait.unanswered = thread.is_alive  # type: ignore[attr-defined]
    return wait


def leave_if_unanswered(listing: Callable[[], list[PodInterface]]) -> None:
    """End the process at once (status 0, output flushed) when the cluster of ``listing`` never
    answered: its request is still blocked in C on the daemon thread (a TLS handshake), and the
    interpreter's shutdown around such a thread aborted the process now and then (SIGABRT in 6 of
    60 listings against a silent server), which Wireshark reports as a failed extcap."""
    if getattr(listing, "unanswered", lambda: False)():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def find_pod(value: str, timeout: float = FIND_TIMEOUT) -> tuple[object, Pod]:
    """The API client and the running pod behind interface ``value`` (listed afresh)."""
    api, namespace = client()
    pods, _ = running_pods(api, namespace, timeout)
    for iface in interfaces_of(pods):
        if iface.value == value:
            return api, iface.pod
    raise NotFound(f"no running Kubernetes pod is the interface {value} (it has gone, or does not run)")


def pod_containers(value: str, timeout: Optional[float] = None) -> tuple[str, ...]:
    """The containers of the pod behind ``value`` (none when the cluster cannot tell in time)."""
    listed = start_listing(timeout, warn=lambda line: None)()
    return next((i.pod.containers for i in listed if i.value == value), ())


@contextmanager
def open_pod(value: str, *, filter: Optional[str], snaplen: int, target: Optional[str] = None,
             image: Optional[str] = None) -> Iterator["Capture"]:
    """A capture of the pod behind ``value`` (an ephemeral container running ``image``, sharing
    ``target``'s namespaces), closed when the body ends.  Wireshark shows whatever an extcap wrote
    on stderr as an error once the capture ends, so only what the user must know goes there: a
    pod whose capture ended while nobody asked (it went away), or why it could not be captured at
    all (raised after the body)."""
    from ..remote.pods import open_pods

    api, pod = find_pod(value)
    if target:
        if target not in pod.containers:
            raise NotFound(f"pod {pod} has no container {target} (it has {', '.join(pod.containers)})")
        pod = replace(pod, target=target)
    joined: list[str] = []
    problems: list[str] = []
    session: list = []  # the capture's session, once there

    def report(line: str) -> None:
        if line.startswith("+ pod "):
            joined.append(line)
        elif line.startswith("- pod "):
            if not (session and session[0].draining):  # not the end a stop (SIGTERM) asked for
                _stderr(line)
        else:
            problems.append(line)

    with open_pods(api, [pod], image or default_image(), filter=filter, snaplen=snaplen, report=report) as cap:
        session.append(cap.session)
        yield cap
    if not joined:
        raise KubeError("; ".join(problems) or f"pod {pod} could not be captured")


def _stderr(line: str) -> None:
    from ..text import printable

    print(f"pcap4py: {printable(line)}", file=sys.stderr, flush=True)
