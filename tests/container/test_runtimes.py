"""The runtime layer's pure parts: which runtimes are asked, their events in neutral words, one
reading of a container's state, and how a shared namespace is named.  No runtime is contacted:
the real runtimes are exercised in test_container*.py, test_podman*.py and test_shared_namespace.py."""

from __future__ import annotations

import pytest

from pcap4py.container import lookup
from pcap4py.container.model import Container, ContainerState
from pcap4py.container.namespace import Namespace
from pcap4py.container.runtimes import chosen, containerd, cri
from pcap4py.container.runtimes.docker import DockerRuntime, _Events
from pcap4py.container.runtimes.podman import PodmanRuntime
from pcap4py.errors import ContainerNotFound, DockerUnavailable, SelectionError
from tests.fixtures.cli import run_cli


@pytest.fixture
def no_sockets(monkeypatch, tmp_path):
    """No runtime set or present, whatever this machine runs."""
    for var in ("DOCKER_HOST", "CONTAINER_HOST", "PCAP4PY_RUNTIME", "CONTAINER_RUNTIME_ENDPOINT",
                "CONTAINERD_ADDRESS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(cri, "DEFAULTS", (f"unix://{tmp_path}/containerd.sock", f"unix://{tmp_path}/crio.sock"))
    monkeypatch.setattr(containerd, "DEFAULT", f"unix://{tmp_path}/containerd.sock")
    monkeypatch.setattr(DockerRuntime, "DEFAULT", f"unix://{tmp_path}/docker.sock")
    monkeypatch.setattr(PodmanRuntime, "DEFAULT", f"unix://{tmp_path}/podman.sock")
    monkeypatch.setattr(PodmanRuntime, "ROOTLESS", f"{tmp_path}/user/*/podman/podman.sock")
    return tmp_path


def test_runtimes_are_chosen_from_the_sockets_present(no_sockets, monkeypatch):
    assert [(rt.name, rt.endpoint) for rt in chosen()] == [("docker", f"unix://{no_sockets}/docker.sock")]
    (no_sockets / "podman.sock").touch()
    for uid in ("1000", "1001"):
        (no_sockets / "user" / uid / "podman").mkdir(parents=True)
        (no_sockets / "user" / uid / "podman" / "podman.sock").touch()
    assert [rt.endpoint for rt in chosen()] == [f"unix://{no_sockets}/podman.sock",
                                                f"unix://{no_sockets}/user/1000/podman/podman.sock",
                                                f"unix://{no_sockets}/user/1001/podman/podman.sock"]
    monkeypatch.setenv("DOCKER_HOST", "unix:///somewhere/docker.sock")
    monkeypatch.setenv("CONTAINER_HOST", "unix:///somewhere/podman.sock")
    assert [(rt.name, rt.endpoint) for rt in chosen()] == [("docker", "unix:///somewhere/docker.sock"),
                                                           ("podman", "unix:///somewhere/podman.sock")]
    monkeypatch.setenv("PCAP4PY_RUNTIME", "podman")
    assert [rt.name for rt in chosen()] == ["podman"]
    assert [rt.name for rt in chosen("docker")] == ["docker"]


def test_an_unknown_runtime_is_refused(no_sockets, monkeypatch):
    monkeypatch.setenv("PCAP4PY_RUNTIME", "rkt")
    with pytest.raises(SelectionError, match="unknown container runtime 'rkt': use one of docker, podman"):
        chosen()
    res = run_cli("containers")
    assert res.returncode != 0 and res.stderr.startswith("pcap4py: unknown container runtime 'rkt'"), res.stderr
    res = run_cli("capture", "--runtime", "rkt", "--all-containers", "-c", "1")
    assert res.returncode == 2 and "--runtime" in res.stderr, res.stderr


@pytest.mark.parametrize("runtime, raw, expected", [
    (DockerRuntime, {"Action": "die", "id": "a", "Actor": {"Attributes": {"name": "web", "exitCode": "137"}}},
     ("stop", "a", "web", 137)),
    (DockerRuntime, {"Action": "destroy", "id": "a", "Actor": {"Attributes": {"name": "web"}}}, ("stop", "a", "web", None)),
    (DockerRuntime, {"Action": "start", "id": "b", "Actor": {"Attributes": {"name": "db", "tier": "x"}}},
     ("start", "b", "db", None)),
    (DockerRuntime, {"Action": "died", "id": "a"}, None),  # not a Docker word
    (PodmanRuntime, {"Action": "die", "id": "a", "Actor": {"Attributes": {"name": "p", "exitCode": "0"}}},
     ("stop", "a", "p", 0)),
    (PodmanRuntime, {"status": "died", "id": "a", "Actor": {"Attributes": {"name": "p"}}}, ("stop", "a", "p", None)),
    (PodmanRuntime, {"Action": "remove", "id": "a", "Actor": {"Attributes": {"name": "p"}}}, ("stop", "a", "p", None)),
    (PodmanRuntime, {"Action": "exec_create", "id": "a"}, None),
])
def test_events_in_neutral_words(runtime, raw, expected):
    events = [(e.kind, e.id, e.name, e.exit_code) for e in _Events(iter([raw]), runtime.KINDS)]
    assert events == ([expected] if expected else [])


def test_podman_is_asked_in_its_own_event_words():
    """Podman 4.3 filters before translating: asking for 'die' would never match a stop."""
    assert set(PodmanRuntime.SUBSCRIBE) >= {"start", "died", "remove"}
    assert set(DockerRuntime.SUBSCRIBE) >= {"start", "die", "destroy"}


@pytest.mark.parametrize("state, running, pid, code", [
    ({"Status": "running", "Running": True, "Pid": 42, "ExitCode": 0}, True, 42, 0),
    ({"Status": "running", "Running": True, "Pid": 0}, False, None, None),  # no process: no namespace
    ({"Status": "exited", "Running": False, "Pid": 0, "ExitCode": 137}, False, None, 137),
    ({}, False, None, None),
])
def test_one_reading_of_state(state, running, pid, code):
    s = ContainerState.of({"State": state})
    assert (s.running, s.pid, s.exit_code) == (running, pid, code)
    assert s.still(42) == (running and pid == 42)


def _container(name: str, mode: str = "bridge", pod=None, runtime: str = "podman") -> Container:
    return Container(id=name * 4, name=name, image="i", state="running", pid=1, network_mode=mode,
                     netns_path="/proc/1/ns/net", runtime=runtime, pod=pod)


def test_a_shared_namespace_is_named_by_its_pod_else_by_its_containers_owner_first():
    pod = Namespace.shared([_container("pb", "container:x", "shop"), _container("infra", pod="shop"),
                            _container("pa", "container:x", "shop")])
    assert (pod.name, pod.who) == ("shop", "pod shop")
    assert pod.about == "podman pod shop (containers infra, pa, pb)"
    joined = Namespace.shared([_container("side", "container:web", runtime="docker"),
                               _container("web", runtime="docker")])
    assert joined.name == "web+side" and "docker containers web, side" in joined.about
    alone = Namespace.shared([_container("web", runtime="docker")])
    assert (alone.name, alone.who) == ("web", "container web")
    assert alone.about == f"docker container web (id {'web' * 4})"


class _Answering:
    """A runtime that answers and does not have the container."""

    name, endpoint = "podman", "unix:///p.sock"

    def get(self, ref):
        raise ContainerNotFound(f"no such container: {ref}")


class _Silent(_Answering):
    """A runtime whose socket does not answer."""

    name, endpoint = "docker", "unix:///d.sock"

    def get(self, ref):
        raise DockerUnavailable("cannot reach docker at unix:///d.sock")


def test_not_found_is_concluded_only_when_every_runtime_answered():
    """A container missing from the runtimes that answer may be in the one that did not: that is
    no "no such container" (reattach forgets the records of containers not found; seen when a
    test cluster's containerd answered while Docker was down)."""
    with pytest.raises(DockerUnavailable, match="no such container: web; and cannot reach docker"):
        lookup.find_in("web", [_Silent(), _Answering()])
    with pytest.raises(ContainerNotFound):
        lookup.find_in("web", [_Answering()])
    with pytest.raises(DockerUnavailable, match="^cannot reach docker"):
        lookup.find_in("web", [_Silent()])
