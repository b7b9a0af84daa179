"""Podman (rootful), through its service: listing, the three capture modes, stop, --follow, pods.

Every test runs on the session's private Podman (tests/fixtures/podmanlab.py) and points pcap4py
at it alone (``PCAP4PY_RUNTIME=podman``, ``CONTAINER_HOST``), except the one that checks that both
runtimes are found together (the test dockerd and the test Podman).  Packets are read back by
tcpdump and tshark.
"""

from __future__ import annotations

import json
import subprocess

import pytest

import pcap4py
from tests.fixtures.cli import run_cli
from tests.container.test_container_capture import CaptureProcess
from tests.sinks.test_pcapng import tshark

pytestmark = pytest.mark.podman


def _ping(lab, client: str, ip: str, n: int = 3) -> None:
    code, out = lab.exec(client, "ping", "-c", str(n), "-i", "0.2", "-W", "1", ip)
    assert code == 0, out


def _requests(path, src: str, dst: str) -> int:
    text = subprocess.run(["tcpdump", "-n", "-r", str(path)], capture_output=True, text=True, timeout=30).stdout
    return text.count(f"{src} > {dst}: ICMP echo request")


def _master(iface: str) -> str:
    import os

    return os.path.basename(os.readlink(f"/sys/class/net/{iface}/master"))


def test_containers_lists_a_podman_container_naming_the_runtime_and_its_netlink_bridge(podmanlab):
    web = podmanlab.httpd()
    c = pcap4py.get_container(web)
    eth0 = c.interface("eth0")
    assert c.runtime == "podman" and c.pid == podmanlab.pid(web)
    assert eth0.host_bridge == _master(eth0.host_peer) and "podman" in eth0.host_bridge
    (net,) = c.networks
    assert (net.name, net.bridge, net.ip, net.interface) == ("p4tnet", eth0.host_bridge, podmanlab.ip(web), "eth0")

    res = run_cli("containers")
    assert res.returncode == 0, res.stderr
    line = next(l for l in res.stdout.splitlines() if l.startswith(web + " ") and " eth0 " in l)
    assert line.split()[1] == "podman" and line.split()[-1] == eth0.host_bridge, line
    mine = next(d for d in json.loads(run_cli("containers", "--json").stdout) if d["name"] == web)
    assert mine["runtime"] == "podman"


def test_both_runtimes_are_found_from_their_sockets(podmanlab, dockerlab, monkeypatch):
    monkeypatch.delenv("PCAP4PY_RUNTIME")  # chosen from the sockets: the test dockerd's and the test Podman's
    pod_side = podmanlab.run("both")
    docker_side = dockerlab.run("both")
    found = {c.name: c.runtime for c in pcap4py.containers()}
    assert found[pod_side] == "podman" and found[docker_side.name] == "docker"
    assert pcap4py.get_container(pod_side).runtime == "podman"
    res = run_cli("containers", "--runtime", "docker")
    assert docker_side.name in res.stdout and pod_side not in res.stdout, res.stdout


@pytest.mark.parametrize("via, handles", [("netns", 2), ("veth", 1), ("bridge", 1)])
def test_each_mode_captures_the_exchange(podmanlab, tmp_path, via, handles):
    web = podmanlab.httpd()
    client = podmanlab.run("client")
    out = tmp_path / "web.pcap"
    proc = CaptureProcess("--container", web, "--via", via, "-w", str(out), "icmp", handles=handles)
    _ping(podmanlab, client, podmanlab.ip(web))
    _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    if via == "bridge":
        peer = pcap4py.get_container(web).interface("eth0").host_peer
        assert f"listening on {_master(peer)}," in err, err  # podmanN, from netlink: never br-<id>
    assert _requests(out, podmanlab.ip(client), podmanlab.ip(web)) == 3


def test_podman_stop_ends_the_capture_cleanly(podmanlab, tmp_path):
    web = podmanlab.httpd()
    client = podmanlab.run("client")
    out = tmp_path / "stop.pcap"
    src, dst = podmanlab.ip(client), podmanlab.ip(web)
    proc = CaptureProcess("--container", web, "-w", str(out), "icmp", handles=2)
    _ping(podmanlab, client, dst, 2)
    podmanlab.svc.podman("stop", "-t", "2", web)
    try:
        proc.proc.wait(timeout=30)
    finally:
        _, err = proc.stop(linger=0)
    assert proc.proc.returncode == 0, err
    assert f"pcap4py: container {web} stopped" in err and "capture ended" in err, err
    assert "failed" not in err, err
    assert _requests(out, src, dst) == 2


def test_follow_adds_a_started_container_and_outlives_a_stopped_one(podmanlab, tmp_path):
    label = {"p4t.podman": podmanlab.tag}
    web = podmanlab.httpd(labels=label)
    leaving = podmanlab.run("leaving", labels=label)
    out = tmp_path / "follow.pcapng"
    proc = CaptureProcess("--label", f"p4t.podman={podmanlab.tag}", "--follow", "-w", str(out), handles=4)
    late = podmanlab.run("late", labels=label)
    proc.wait_for(lambda: any(f"+ container {late} (" in l for l in proc.err), "the join line")
    _ping(podmanlab, late, podmanlab.ip(web), 2)
    podmanlab.svc.podman("kill", leaving)
    proc.wait_for(lambda: any(f"- container {leaving} stopped" in l for l in proc.err), "the leave line")
    _ping(podmanlab, late, podmanlab.ip(web), 2)
    _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    rows = tshark(out, "frame.interface_name", display_filter="icmp.type == 8")
    assert [r[0] for r in rows].count(f"{late}/eth0") == 4, rows
    assert [r[0] for r in rows].count(f"{web}/eth0") == 4, rows


@pytest.mark.parametrize("select", ["pod", "label"])
def test_a_pod_is_captured_once_named_after_it(podmanlab, tmp_path, select):
    pod = podmanlab.pod("pod", labels={"p4t.pod": podmanlab.tag})
    member = podmanlab.httpd("pa", pod=pod)
    podmanlab.run("pb", pod=pod)
    client = podmanlab.run("client")
    args = ("--pod", pod) if select == "pod" else ("--label", f"p4t.pod={podmanlab.tag}", "--container",
                                                   podmanlab.name("pb"))
    out = tmp_path / "pod.pcapng"
    proc = CaptureProcess(*args, "-w", str(out), handles=2)
    _ping(podmanlab, client, podmanlab.ip(member))
    _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    rows = tshark(out, "frame.interface_name", "frame.interface_description", display_filter="icmp.type == 8")
    assert [r[0] for r in rows] == [f"{pod}/eth0"] * 3, rows  # one namespace, each packet once
    assert f"podman pod {pod}" in rows[0][1], rows[0]


def test_an_unknown_pod_is_one_line(podmanlab):
    res = run_cli("capture", "--pod", f"p4t-none-{podmanlab.tag}", "-c", "1")
    lines = res.stderr.strip().splitlines()
    assert res.returncode != 0 and lines == [f"pcap4py: no such pod: p4t-none-{podmanlab.tag}"], res.stderr


def test_a_docker_and_a_podman_container_of_one_name_stay_apart(podmanlab, dockerlab, monkeypatch):
    monkeypatch.delenv("PCAP4PY_RUNTIME")  # both runtimes: the test dockerd's and the test Podman's
    label = f"p4t.twin={podmanlab.tag}"
    twin = dockerlab.run("twin", labels={"p4t.twin": podmanlab.tag})
    podmanlab._containers.append(twin.name)
    podmanlab.svc.podman("run", "-d", "--name", twin.name, "--label", label, "--network", podmanlab.svc.network,
                         podmanlab.svc.image, "sleep", "600")
    with pcap4py.open_containers(labels=[label]) as cap:
        labels = {s.display_name for s in cap.sources}
    assert labels == {f"{rt}:{twin.name}/{i}" for rt in ("docker", "podman") for i in ("eth0", "lo")}, labels
    res = run_cli("capture", "--container", twin.name, "-c", "1")
    lines = res.stderr.strip().splitlines()
    assert res.returncode != 0 and len(lines) == 1 and "choose one with --runtime" in lines[0], res.stderr
    res = run_cli("capture", "--container", twin.name, "--runtime", "podman", "--duration", "1")
    assert res.returncode == 0, res.stderr
