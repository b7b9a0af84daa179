"""capture --kube against a real single-node Kubernetes (tests/fixtures/kubelab.py): two pods behind
a selector exchange HTTP; the merged pcapng names both pods' interfaces, with directions from each
pod's point of view; the binary stream survives the API server (each pod's packets are as many as
its agent counted); Ctrl-C drains and leaves a valid file; --follow takes a third pod; an RBAC
refusal is one line."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.fixtures.dockerlab import IMAGE as BUSYBOX

pytestmark = [pytest.mark.kube, pytest.mark.slow]
NS = "p4k"
HTTP_ROUNDS = 5

PODS = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: {NS}, labels: {{app: x}}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: httpd, image: {BUSYBOX}, imagePullPolicy: Never, command: [httpd, -f, -p, "80", -h, /www]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: client, namespace: {NS}, labels: {{app: x}}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: sh, image: {BUSYBOX}, imagePullPolicy: Never, command: [sleep, "3600"]}}
"""


@pytest.fixture(scope="module")
def pods(kube_cluster):
    """The two pods, running; their IPs."""
    with kube_cluster.applied_pods(PODS, NS) as ips:
        yield ips


class Capture:
    """``pcap4py capture --kube ...`` running; its stderr lines collected as they come."""

    def __init__(self, cluster, *args: str, kubeconfig: str = None):
        env = {**cluster.env, "KUBECONFIG": kubeconfig or cluster.kubeconfig}
        image = [] if "--image" in args else ["--image", cluster.agent_image]
        self.proc = subprocess.Popen([sys.executable, "-m", "pcap4py", "capture", "--kube", "--namespace", NS,
                                      *image, "--image-pull-policy", "Never", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 120) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines if re.search(pattern, line)]
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no {count}x {pattern!r} in:\n" + "\n".join(self.lines))

    def finish(self, timeout: float = 60) -> int:
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode

    def ephemeral(self) -> dict[str, str]:
        """pod name -> the ephemeral container that captured it."""
        found = {}
        for line in self.lines:
            m = re.search(rf"\+ pod {NS}/(\S+) .*ephemeral container (\S+)", line)
            if m:
                found[m.group(1)] = m.group(2)
        return found


def http_rounds(cluster, ips, rounds: int = HTTP_ROUNDS) -> None:
    """The client pod fetches the web pod's page ``rounds`` times (bounded)."""
    script = f"for i in $(seq 1 {rounds}); do wget -q -O /dev/null http://{ips['web']}/ || exit 1; done"
    cluster.kubectl("-n", NS, "exec", "client", "--", "timeout", "30", "sh", "-c", script, timeout=60)


def tshark(path: str, *fields: str, filter: str = None) -> list[tuple]:
    args = ["tshark", "-r", path, "-T", "fields"] + [a for f in fields for a in ("-e", f)]
    if filter:
        args += ["-Y", filter]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [tuple(line.split("\t")) for line in proc.stdout.splitlines()]


def test_selector_capture_merges_both_pods_with_directions(kube_cluster, pods, tmp_path):
    out = str(tmp_path / "pods.pcapng")
    n = HTTP_ROUNDS * 16  # more than one pod's share (10-11 packets a fetch): both must be in
    cap = Capture(kube_cluster, "--selector", "app=x", "-w", out, "-c", str(n), "tcp port 80")
    cap.wait_for(r"\+ pod p4k/", count=2)
    http_rounds(kube_cluster, pods)
    assert cap.finish() == 0, "\n".join(cap.lines)
    rows = tshark(out, "frame.interface_name", "frame.interface_description", "frame.packet_flags_direction",
                  "ip.src", "tcp.srcport", "tcp.dstport")
    assert len(rows) == n  # -c: exactly n packets
    names = {r[0] for r in rows}
    assert names == {f"{NS}/web/eth0", f"{NS}/client/eth0"}, names
    uid = kube_cluster.kubectl("-n", NS, "get", "pod", "web", "-o", "jsonpath={.metadata.uid}").stdout
    web_description = next(r[1] for r in rows if r[0] == f"{NS}/web/eth0")
    assert f"uid {uid}" in web_description and "node pcap4py-node" in web_description and "httpd" in web_description
    for name, _, direction, src, sport, dport in rows:
        sent_by_web = sport == "80"
        sent_by_pod = sent_by_web if name.endswith("/web/eth0") else not sent_by_web
        assert direction == ("0x00000002" if sent_by_pod else "0x00000001"), (name, src, sport, dport, direction)
        assert src == (pods["web"] if sent_by_web else pods["client"])


def _termination_message(cluster, pod: str, container: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    path = ("jsonpath={.status.ephemeralContainerStatuses[?(@.name==\"%s\")].state.terminated.message}" % container)
    while time.monotonic() < deadline:
        message = cluster.kubectl("-n", NS, "get", "pod", pod, "-o", path).stdout
        if message:
            return message
        time.sleep(0.5)
    raise AssertionError(f"the capture container {container} of {pod} did not end")


def test_ctrl_c_drains_every_pod_and_counts_match_the_agents_own(kube_cluster, pods, tmp_path):
    """Ctrl-C: every agent is told to finish, what it captured still arrives, the file is valid,
    and each pod's packets in it are exactly as many as its agent counted (its termination
    message, read through the pod's status: another channel than the stream)."""
    out = str(tmp_path / "ctrl-c.pcapng")
    cap = Capture(kube_cluster, "--selector", "app=x", "-w", out)
    cap.wait_for(r"\+ pod p4k/", count=2)
    http_rounds(kube_cluster, pods)
    cap.proc.send_signal(signal.SIGINT)
    assert cap.finish(60) == 0, "\n".join(cap.lines)
    rows = tshark(out, "frame.interface_name", "tcp.srcport", "tcp.dstport")
    for pod, container in cap.ephemeral().items():
        counted = int(re.search(r"captured (\d+)", _termination_message(kube_cluster, pod, container)).group(1))
        mine = [r for r in rows if r[0].startswith(f"{NS}/{pod}/")]
        assert len(mine) == counted, f"{pod}: {len(mine)} packets in the file, the agent counted {counted}"
        http = [r for r in mine if "80" in r[1:]]
        assert len(http) >= HTTP_ROUNDS * 7, pod  # 7-11 packets a fetch (ACKs merge), in each pod
    assert set(cap.ephemeral()) == {"web", "client"}


def test_follow_takes_a_pod_that_comes_to_match(kube_cluster, pods, tmp_path):
    out = str(tmp_path / "follow.pcapng")
    cap = Capture(kube_cluster, "--selector", "app=x", "--follow", "-w", out)
    try:
        cap.wait_for(r"\+ pod p4k/", count=2)
        kube_cluster.kubectl("apply", "-f", "-", input=THIRD)
        cap.wait_for(r"\+ pod p4k/third ")
        script = f"for i in 1 2 3; do wget -q -O /dev/null http://{pods['web']}/ || exit 1; done"
        kube_cluster.kubectl("-n", NS, "exec", "third", "--", "timeout", "30", "sh", "-c", script, timeout=60)
    finally:
        cap.proc.send_signal(signal.SIGINT)
        assert cap.finish(60) == 0, "\n".join(cap.lines)
        kube_cluster.kubectl("-n", NS, "delete", "pod", "third", "--wait=false", check=False)
    names = {r[0] for r in tshark(out, "frame.interface_name", filter="tcp.port == 80")}
    assert {f"{NS}/third/eth0", f"{NS}/web/eth0"} <= names, names


THIRD = f"""
apiVersion: v1
kind: Pod
metadata: {{name: third, namespace: {NS}, labels: {{app: x}}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: sh, image: {BUSYBOX}, imagePullPolicy: Never, command: [sleep, "3600"]}}
"""


RBAC = f"""
apiVersion: v1
kind: ServiceAccount
metadata: {{name: viewer, namespace: {NS}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: pod-viewer, namespace: {NS}}}
rules:
- {{apiGroups: [""], resources: [pods, pods/log], verbs: [get, list, watch]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: viewer, namespace: {NS}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-viewer}}
subjects:
- {{kind: ServiceAccount, name: viewer, namespace: {NS}}}
"""


def test_an_rbac_refusal_is_one_line(kube_cluster, pods, tmp_path):
    kube_cluster.kubectl("apply", "-f", "-", input=RBAC)
    config = kube_cluster.token_kubeconfig(tmp_path / "viewer.kubeconfig", "viewer", NS)
    cap = Capture(kube_cluster, "--pod", "web", "-c", "1", kubeconfig=str(config))
    assert cap.finish(60) == 1
    refusals = [line for line in cap.lines if "forbidden" in line]
    assert len(refusals) == 1, cap.lines
    assert refusals[0].startswith("pcap4py: pod p4k/web: cannot add a capture container: forbidden: "
                                  "the RBAC verb 'patch' on pods/ephemeralcontainers is needed")
    assert cap.lines[-1] == "pcap4py: no pod could be captured"
    assert not any("Traceback" in line for line in cap.lines)


def test_an_absent_image_and_an_absent_pod_are_one_line_each_and_others_go_on(kube_cluster, pods, tmp_path):
    cap = Capture(kube_cluster, "--pod", "web", "--image", "pcap4py-kube/absent:none", "-c", "1")
    assert cap.finish(90) == 1
    absent = [line for line in cap.lines if "ErrImageNeverPull" in line]
    assert len(absent) == 1 and absent[0].startswith(
        "pcap4py: pod p4k/web: the capture container cannot start: ErrImageNeverPull"), cap.lines
    out = str(tmp_path / "one.pcapng")
    cap = Capture(kube_cluster, "--pod", "nosuch", "--pod", "web", "-w", out, "-c", "4", "tcp port 80")
    cap.wait_for(r"\+ pod p4k/web ")
    http_rounds(kube_cluster, pods, rounds=1)
    assert cap.finish() == 0, cap.lines
    assert [line for line in cap.lines if "nosuch" in line] == ["pcap4py: pod p4k/nosuch: not found (pods \"nosuch\" not found)"]
    assert {r[0] for r in tshark(out, "frame.interface_name")} == {f"{NS}/web/eth0"}


def test_json_lines_name_each_pod_and_its_direction(kube_cluster, pods):
    cap = Capture(kube_cluster, "--selector", "app=x", "--format", "jsonl", "-c", "30", "tcp port 80")
    cap.wait_for(r"\+ pod p4k/", count=2)
    http_rounds(kube_cluster, pods)
    assert cap.finish() == 0, cap.lines
    records = [json.loads(line) for line in cap.proc.stdout.read().splitlines()]
    assert len(records) == 30
    for r in records:
        assert r["interface"] in (f"{NS}/web/eth0", f"{NS}/client/eth0"), r
        sent_by_web = r["src_port"] == 80
        by_pod = sent_by_web if r["interface"].startswith(f"{NS}/web/") else not sent_by_web
        assert r["direction"] == ("out" if by_pod else "in"), r


FLOOD = 20_000
FLOODER = """
apiVersion: v1
kind: Pod
metadata: {{name: flooder, namespace: {ns}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {{name: py, image: {image}, imagePullPolicy: Never, command: [sleep, "3600"]}}
"""
SEND = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((sys.argv[1], 9999))
sent, t0 = 0, time.monotonic()
while sent < int(sys.argv[2]) and time.monotonic() - t0 < 60:
    try:
        s.send(b"p4" * 9)
        sent += 1
    except OSError:
        pass
print(sent)
"""


def test_a_burst_of_small_frames_at_top_speed_is_captured_whole(kube_cluster, pods, tmp_path):
    """20,000 60-byte frames as fast as a pod can send them: every one is in the file (the agent's
    immediate mode used a ring of ~128 snaplen-sized slots and dropped about half)."""
    kube_cluster.kubectl("apply", "-f", "-", input=FLOODER.format(ns=NS, image=kube_cluster.agent_image))
    try:
        kube_cluster.kubectl("-n", NS, "wait", "--for=condition=Ready", "pod/flooder", "--timeout=120s", timeout=150)
        out = str(tmp_path / "burst.pcapng")
        cap = Capture(kube_cluster, "--pod", "flooder", "-w", out, "udp port 9999")
        cap.wait_for(r"\+ pod p4k/flooder ")
        sent = int(kube_cluster.kubectl("-n", NS, "exec", "flooder", "--", "python3", "-c", SEND, pods["web"],
                                        str(FLOOD), timeout=120).stdout)
        time.sleep(2)
        cap.proc.send_signal(signal.SIGINT)  # drains: what the agent captured still arrives
        assert cap.finish(60) == 0, cap.lines
    finally:
        kube_cluster.kubectl("-n", NS, "delete", "pod", "flooder", "--wait=false", check=False)
    assert sent == FLOOD
    assert len(tshark(out, "frame.interface_name", filter="udp.dstport == 9999")) == FLOOD
