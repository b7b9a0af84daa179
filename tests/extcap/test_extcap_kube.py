"""Kubernetes pods as Wireshark interfaces (``pcap4py-k8s-NS-POD``), through the real tshark and the
single-node cluster (tests/fixtures/kubelab.py); and a cluster that is slow, refuses or is broken
never costs the listing more than its bounded wait, nor the containers' interfaces."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from pcap4py.extcap.pods import K8S_PREFIX, interfaces_of
from pcap4py.extcap.targets import interface_name
from pcap4py.remote.kube import Pod
from tests.fixtures.cli import run_cli, start_cli
from tests.fixtures.dockerlab import IMAGE as BUSYBOX
from tests.extcap.test_extcap import (extcap_processes, frames, interfaces, packets_by_interface, read_fifo_into, tshark,
                               wait_until)

HAS_TSHARK = Path("/usr/bin/tshark").exists()
NS = "p4x"
SLOW_TIMEOUT = 1.0  # PCAP4PY_KUBE_LIST_TIMEOUT for the slow cluster
LIST_TIMEOUT_VARIABLE = "PCAP4PY_KUBE_LIST_TIMEOUT"
MARGIN = 2.5  # seconds on top of the timeout and a listing without any cluster (a loaded machine)

PODS = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: {NS}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: httpd, image: {BUSYBOX}, imagePullPolicy: Never, command: [httpd, -f, -p, "80", -h, /www]}}
  - {{name: side, image: {BUSYBOX}, imagePullPolicy: Never, command: [sleep, "3600"]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: client, namespace: {NS}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: sh, image: {BUSYBOX}, imagePullPolicy: Never, command: [sleep, "3600"]}}
"""

VICTIM = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {ns}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: pinger, image: {image}, imagePullPolicy: Never, command: [ping, -q, -i, "0.2", -c, "3000", 127.0.0.1]}}
"""


def start_victim(cluster, name: str) -> None:
    """A pod pinging its own loopback (bounded), running."""
    cluster.kubectl("apply", "-f", "-", input=VICTIM.format(name=name, ns=NS, image=BUSYBOX))
    cluster.kubectl("-n", NS, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=120s", timeout=150)


# --------------------------------------------------------------------------- no cluster needed


def pod(ns: str, name: str, uid: str = "0123456789abcdef") -> Pod:
    return Pod(ns, name, uid, "node-1", ("198.18.70.9",), "c", ("c",))


def test_pod_interfaces_are_distinct_even_when_their_names_join_alike():
    got = interfaces_of([pod("a-b", "c", "uid-one-xxxx"), pod("a", "b-c", "uid-two-yyyy"), pod("kube-system", "x.y")])
    values = [i.value for i in got]
    assert values == ["pcap4py-k8s-a-b-c-uid-one-", "pcap4py-k8s-a-b-c-uid-two-", "pcap4py-k8s-kube-system-x.y"]
    assert got[2].display == "Kubernetes pod kube-system/x.y (node-1)"
    assert interfaces_of([pod("n", "a}{display=x")])[0].value == "pcap4py-k8s-n-a__display_x"


def test_a_container_named_like_a_pod_interface_is_listed_by_its_id():
    assert interface_name("k8s-n-web", "f00dfeedbeef0123") == "pcap4py-f00dfeedbeef"
    assert interface_name("web", "f00dfeedbeef0123") == "pcap4py-web"


def _kubeconfig(path: Path, server: str) -> Path:
    path.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "{server}", insecure-skip-tls-verify: true}}}}]
users: [{{name: u, user: {{token: "x"}}}}]
contexts: [{{name: v, context: {{cluster: c, user: u, namespace: default}}}}]
current-context: v
""")
    return path


def _listing(env: dict) -> tuple[float, subprocess.CompletedProcess]:
    started = time.monotonic()
    res = run_cli("extcap", "--extcap-interfaces", env={LIST_TIMEOUT_VARIABLE: str(SLOW_TIMEOUT), **env})
    return time.monotonic() - started, res


@pytest.fixture
def silent_server():
    """A TCP port on loopback that accepts connections and never says a word (a hung API server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield f"https://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_a_silent_cluster_costs_the_listing_only_its_bounded_wait(tmp_path, silent_server):
    baseline, res = _listing({"KUBECONFIG": str(tmp_path / "absent")})
    assert res.returncode == 0 and res.stderr == "", res.stderr
    took, res = _listing({"KUBECONFIG": str(_kubeconfig(tmp_path / "slow", silent_server))})
    assert res.returncode == 0
    assert res.stdout.splitlines()[-1] == "interface {value=pcap4py-all}{display=All running containers (pcap4py)}"
    # the server is named when the configuration was read in time (a loaded machine may not)
    assert res.stderr in (f"pcap4py: Kubernetes pods not listed: the cluster{where} did not answer within "
                          f"{SLOW_TIMEOUT:g} s\n" for where in (f" ({silent_server})", "")), res.stderr
    assert took < baseline + SLOW_TIMEOUT + MARGIN, (took, baseline)


def test_a_silent_cluster_never_crashes_the_listing(tmp_path, silent_server):
    """The request left blocked on its thread must not take the process down at exit: shutting
    the interpreter down around it aborted 6 of 60 listings (SIGABRT, which Wireshark shows as a
    failed extcap).  30 listings with a short wait: each exits 0 with the whole list."""
    config = str(_kubeconfig(tmp_path / "slow", silent_server))
    for _ in range(30):
        res = run_cli("extcap", "--extcap-interfaces", env={LIST_TIMEOUT_VARIABLE: "0.3", "KUBECONFIG": config})
        assert res.returncode == 0, (res.returncode, res.stderr)
        assert res.stdout.splitlines()[-1].startswith("interface {value=pcap4py-all}"), res.stdout


@pytest.mark.parametrize("kind", ["refused", "garbage"])
def test_a_refusing_or_broken_configuration_is_one_line_and_the_rest_is_listed(tmp_path, kind):
    if kind == "refused":
        spare = socket.socket()
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
        spare.close()  # nobody listens there now
        config = _kubeconfig(tmp_path / "refused", f"https://127.0.0.1:{port}")
    else:
        config = tmp_path / "garbage"
        config.write_text("garbage\n")
    took, res = _listing({"KUBECONFIG": str(config)})
    assert res.returncode == 0
    assert "interface {value=pcap4py-all}" in res.stdout and K8S_PREFIX not in res.stdout
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pcap4py: Kubernetes pods not listed"), res.stderr
    assert "Traceback" not in res.stderr


# --------------------------------------------------------------------------- against the cluster


@pytest.fixture(scope="module")
def pods(kube_cluster):
    """The pods, running; their IPs."""
    with kube_cluster.applied_pods(PODS, NS) as ips:
        yield ips


@pytest.fixture
def kube_env(kube_cluster, tmp_path) -> dict:
    """Wireshark's personal folders under ``tmp_path``, the launcher installed there, the cluster's
    kubeconfig and the session's capture image."""
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "KUBECONFIG": kube_cluster.kubeconfig,
           "PCAP4PY_KUBE_IMAGE": kube_cluster.agent_image}
    res = run_cli("extcap", "install", env=env)
    assert res.returncode == 0, res.stderr
    return env


class Fetching:
    """The client pod fetches web's page every 0.3 s (bounded: 200 rounds, 90 s) until stopped."""

    def __init__(self, cluster, ips: dict):
        script = (f"i=0; while [ $i -lt 200 ]; do wget -q -O /dev/null http://{ips['web']}/; "
                  f"i=$((i+1)); sleep 0.3; done")
        self.proc = subprocess.Popen([str(cluster.bin / "kubectl"), "-n", NS, "exec", "client", "--",
                                      "timeout", "90", "sh", "-c", script], env=cluster.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self) -> "Fetching":
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(30)


@pytest.mark.kube
@pytest.mark.slow
@pytest.mark.skipif(not HAS_TSHARK, reason="tshark is not installed")
def test_tshark_lists_the_pods_with_their_node_and_their_containers(kube_cluster, pods, kube_env):
    listed = interfaces(kube_env)
    assert f"{K8S_PREFIX}{NS}-web (Kubernetes pod {NS}/web (pcap4py-node))" in listed, listed
    assert f"{K8S_PREFIX}{NS}-client (Kubernetes pod {NS}/client (pcap4py-node))" in listed
    assert "pcap4py-all (All running containers (pcap4py))" in listed
    config = run_cli("extcap", "--extcap-config", "--extcap-interface", f"{K8S_PREFIX}{NS}-web",
                     env=kube_env).stdout.splitlines()
    assert "value {arg=0}{value=httpd}{display=httpd}{default=true}" in config, config
    assert "value {arg=0}{value=side}{display=side}{default=false}" in config
    assert any("{call=--image}" in line and f"{{default={kube_cluster.agent_image}}}" in line for line in config)


@pytest.mark.kube
@pytest.mark.slow
@pytest.mark.skipif(not HAS_TSHARK, reason="tshark is not installed")
def test_tshark_captures_a_pods_http_with_its_filter_names_and_directions(kube_cluster, pods, kube_env, tmp_path):
    out = tmp_path / "pod.pcapng"
    with Fetching(kube_cluster, pods):
        res = tshark("-i", f"{K8S_PREFIX}{NS}-web", "-f", "tcp port 80", "-a", "packets:20", "-a", "duration:90",
                     "-w", str(out), env=kube_env, timeout=150)
    assert res.returncode == 0 and "pcap4py: " not in res.stderr, res.stderr  # Wireshark would show it as an error
    wait_until(lambda: not extcap_processes(f"{NS}-web"), "exit of the extcap after tshark", 15)
    rows = subprocess.run(["tshark", "-r", str(out), "-T", "fields", "-e", "frame.interface_name",
                           "-e", "frame.packet_flags_direction", "-e", "ip.src", "-e", "tcp.srcport",
                           "-e", "tcp.dstport"], capture_output=True, text=True, timeout=60).stdout
    rows = [line.split("\t") for line in rows.splitlines()]
    assert len(rows) == 20 and len(frames(out)) == 20
    assert {r[0] for r in rows} == {f"{NS}/web/eth0"}, rows
    for _, direction, src, sport, dport in rows:
        assert "80" in (sport, dport)  # the capture filter reached the agent in the pod
        sent = sport == "80"
        assert src == (pods["web"] if sent else pods["client"])
        assert direction == ("0x00000002" if sent else "0x00000001")
    # tshark closed the fifo after 20 packets: the extcap is gone, and so is its capture container
    wait_until(lambda: _running_ephemeral(kube_cluster, "web") == [], "end of the capture container", 30)


def _count(path: Path) -> int:
    """Packets in a file tshark is writing (0 while it holds no interface block yet)."""
    try:
        return len(frames(path))
    except (OSError, ValueError):
        return 0


def _running_ephemeral(cluster, name: str) -> list[str]:
    path = "jsonpath={range .status.ephemeralContainerStatuses[?(@.state.running)]}{.name} {end}"
    return cluster.kubectl("-n", NS, "get", "pod", name, "-o", path).stdout.split()


@pytest.mark.kube
@pytest.mark.slow
def test_a_pod_that_goes_away_ends_the_session_cleanly(kube_cluster, pods, kube_env, tmp_path):
    start_victim(kube_cluster, "victim")
    fifo, out = tmp_path / "fifo", tmp_path / "victim.pcapng"
    os.mkfifo(fifo)
    reader = read_fifo_into(fifo, out)
    proc = start_cli("extcap", "--capture", "--extcap-interface", f"{K8S_PREFIX}{NS}-victim", "--fifo", str(fifo),
                     env=kube_env)
    try:
        wait_until(lambda: len(packets_by_interface(out)) >= 5, "the victim's pings", 120)
        kube_cluster.kubectl("-n", NS, "delete", "pod", "victim", "--wait=false")
        proc.wait(timeout=60)
        err = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        kube_cluster.kubectl("-n", NS, "delete", "pod", "victim", "--wait=false", check=False)
    reader.join(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert f"pcap4py: - pod {NS}/victim: its capture ended" in err
    got = packets_by_interface(out)
    assert len(got) >= 5 and {name for name, _ in got} <= {f"{NS}/victim/eth0", f"{NS}/victim/lo"}, got


@pytest.mark.kube
@pytest.mark.slow
@pytest.mark.skipif(not HAS_TSHARK, reason="tshark is not installed")
def test_sigterm_to_tshark_ends_the_pod_capture(kube_cluster, pods, kube_env, tmp_path):
    out = tmp_path / "long.pcapng"
    with Fetching(kube_cluster, pods):
        proc = subprocess.Popen(["tshark", "-i", f"{K8S_PREFIX}{NS}-client", "-a", "duration:120", "-w", str(out)],
                                env={**os.environ, **kube_env}, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: _count(out) >= 10, "packets in the file", 120)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert len(frames(out)) >= 10 and "pcap4py: " not in err, err
    wait_until(lambda: not extcap_processes(f"{NS}-client"), "exit of the extcap after SIGTERM", 15)
    wait_until(lambda: _running_ephemeral(kube_cluster, "client") == [], "end of the capture container", 30)


@pytest.mark.kube
@pytest.mark.slow
def test_a_user_who_may_list_one_namespace_sees_its_pods(kube_cluster, pods, tmp_path):
    kube_cluster.kubectl("apply", "-f", "-", input=RBAC)
    config = kube_cluster.token_kubeconfig(tmp_path / "lister.kubeconfig", "lister", NS)
    res = run_cli("extcap", "--extcap-interfaces", env={"KUBECONFIG": str(config)})
    assert res.returncode == 0
    assert res.stderr == f"pcap4py: listing pods in all namespaces is forbidden: only namespace {NS}\n"
    values = [line for line in res.stdout.splitlines() if K8S_PREFIX in line]
    assert f"interface {{value={K8S_PREFIX}{NS}-web}}{{display=Kubernetes pod {NS}/web (pcap4py-node)}}" in values


RBAC = f"""
apiVersion: v1
kind: ServiceAccount
metadata: {{name: lister, namespace: {NS}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: pod-lister, namespace: {NS}}}
rules:
- {{apiGroups: [""], resources: [pods], verbs: [get, list]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: lister, namespace: {NS}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-lister}}
subjects:
- {{kind: ServiceAccount, name: lister, namespace: {NS}}}
"""


@pytest.mark.kube
@pytest.mark.slow
@pytest.mark.skipif(not HAS_TSHARK, reason="tshark is not installed")
def test_tshark_ends_cleanly_when_its_pod_goes_away(kube_cluster, pods, kube_env, tmp_path):
    start_victim(kube_cluster, "gone")
    out = tmp_path / "gone.pcapng"
    proc = subprocess.Popen(["tshark", "-i", f"{K8S_PREFIX}{NS}-gone", "-a", "duration:150", "-w", str(out)],
                            env={**os.environ, **kube_env}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: _count(out) >= 5, "the pod's pings in the file", 120)
        kube_cluster.kubectl("-n", NS, "delete", "pod", "gone", "--wait=false")
        deleted = time.monotonic()
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        kube_cluster.kubectl("-n", NS, "delete", "pod", "gone", "--wait=false", check=False)
    assert time.monotonic() - deleted < 30  # not the duration:150 stop
    assert proc.returncode == 0 and "Traceback" not in err, err
    # what the extcap wrote on stderr, which Wireshark shows as the capture's end: why it ended
    assert f"pcap4py: - pod {NS}/gone: its capture ended" in err and "+ pod" not in err, err
    wait_until(lambda: not extcap_processes(f"{NS}-gone"), "exit of the extcap", 15)
    assert _count(out) >= 5 and {name for name, _ in packets_by_interface(out)} <= {f"{NS}/gone/eth0", f"{NS}/gone/lo"}
