"""Resolving Docker containers for capture, against a real dockerd and real containers."""

from __future__ import annotations

import json
import os
import socket

import pytest

import pcap4py
from pcap4py.container import Container, containers, get_container
from tests.fixtures.cli import run_cli

pytestmark = pytest.mark.docker


def _sysfs(iface: str, attr: str) -> int:
    with open(f"/sys/class/net/{iface}/{attr}") as f:
        return int(f.read())


def test_resolves_a_container_on_the_default_bridge(dockerlab):
    web = dockerlab.httpd()
    c = get_container(web.name)

    assert (c.id, c.name, c.state) == (web.id, web.name, "running")
    assert c.pid == web.pid
    assert c.netns_path == f"/proc/{web.pid}/ns/net"
    assert os.stat(c.netns_path).st_ino != os.stat("/proc/self/ns/net").st_ino

    lo, eth0 = c.interface("lo"), c.interface("eth0")
    assert lo.loopback and lo.mac is None and "127.0.0.1" in lo.ips and lo.host_peer is None
    assert eth0.mac == web.mac()
    assert web.ip() in eth0.ips

    # the iflink/ifindex recipe by hand: the container's iflink is the host peer's ifindex
    code, out = web.exec("cat", "/sys/class/net/eth0/iflink")
    assert code == 0
    assert eth0.iflink == int(out)
    assert _sysfs(eth0.host_peer, "ifindex") == int(out) == eth0.host_peer_index
    assert _sysfs(eth0.host_peer, "iflink") == eth0.index

    (net,) = c.networks
    assert net.name == "bridge" and net.driver == "bridge"
    assert net.bridge == "docker0" == eth0.host_bridge
    assert (net.ip, net.mac, net.interface) == (web.ip(), web.mac(), "eth0")
    assert c.macs == {web.mac()}
    assert {web.ip(), "127.0.0.1"} <= c.ips


def test_resolves_by_id_prefix_and_through_the_package(dockerlab):
    web = dockerlab.run("idpfx")
    assert get_container(web.id[:10]).name == web.name
    assert pcap4py.get_container(web.name).id == web.id


def test_walks_every_user_defined_network(dockerlab):
    front, back = dockerlab.network("front"), dockerlab.network("back")
    app = dockerlab.run("multi", network=front.name)
    back.connect(app.sdk)

    c = get_container(app.name)
    nets = {n.name: n for n in c.networks}
    assert set(nets) == {front.name, back.name}
    for sdk_net in (front, back):
        net = nets[sdk_net.name]
        assert net.bridge == f"br-{sdk_net.id[:12]}"
        assert os.path.isdir(f"/sys/class/net/{net.bridge}/bridge")
        assert net.ip == app.ip(sdk_net.name)
        iface = c.interface(net.interface)
        assert iface.mac == net.mac == app.mac(sdk_net.name)
        assert net.ip in iface.ips
        assert iface.host_bridge == net.bridge
        assert iface.host_peer and _sysfs(iface.host_peer, "iflink") == iface.index
    assert nets[front.name].interface != nets[back.name].interface
    assert {nets[front.name].ip, nets[back.name].ip} <= c.ips


def test_custom_bridge_name_comes_from_the_network_option(dockerlab):
    name = f"p4tbr{dockerlab.tag}"
    net = dockerlab.network("named", options={"com.docker.network.bridge.name": name})
    box = dockerlab.run("named", network=net.name)
    (n,) = get_container(box.name).networks
    assert n.bridge == name == get_container(box.name).interface("eth0").host_bridge


def test_shared_namespace_container_reports_the_owner_networks(dockerlab):
    web = dockerlab.httpd()
    side = dockerlab.run("sidecar", network=f"container:{web.id}")
    c = get_container(side.name)
    assert os.stat(c.netns_path).st_ino == os.stat(f"/proc/{web.pid}/ns/net").st_ino
    assert c.interface("eth0").mac == web.mac()
    assert [n.ip for n in c.networks] == [web.ip()]


def test_stopped_container_is_an_error(dockerlab):
    box = dockerlab.run("stopped", "true")
    box.sdk.wait(timeout=30)
    with pytest.raises(pcap4py.ContainerNotRunning, match=rf"{box.name} is not running \(state: exited\)"):
        get_container(box.name)


def test_missing_container_is_an_error(dockerlab):
    with pytest.raises(pcap4py.ContainerNotFound, match="no such container: p4t-missing-"):
        get_container(f"p4t-missing-{dockerlab.tag}")


def test_host_network_container_is_an_error_that_points_to_the_host_interface(dockerlab):
    box = dockerlab.run("hostnet", network="host")
    with pytest.raises(pcap4py.HostNetworkContainer, match="host's network.*capture the host interface"):
        get_container(box.name)


def test_container_joined_to_a_host_network_container_is_an_error_too(dockerlab):
    hostnet = dockerlab.run("hostnet", network="host")
    joined = dockerlab.run("joined", network=f"container:{hostnet.id}")
    with pytest.raises(pcap4py.HostNetworkContainer, match=rf"{joined.name} uses the host's network"):
        get_container(joined.name)


def test_dead_daemon_is_an_error_that_says_where_it_looked(docker_engine, tmp_path, monkeypatch):
    # a socket file that nobody listens on: what a crashed daemon leaves behind
    path = tmp_path / "dead.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    with pytest.raises(pcap4py.DockerUnavailable, match=rf"unix://{path} \(DOCKER_HOST\)"):
        get_container("anything")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    with pytest.raises(pcap4py.DockerUnavailable, match="cannot reach the Docker daemon"):
        containers()


def test_listing_shows_running_containers_only(dockerlab):
    web = dockerlab.httpd()
    hostnet = dockerlab.run("hostnet", network="host")
    stopped = dockerlab.run("stopped", "true")
    stopped.sdk.wait(timeout=30)

    listed = {c.name: c for c in containers()}
    assert web.name in listed and hostnet.name in listed and stopped.name not in listed
    assert listed[web.name].pid == web.pid
    assert listed[web.name].interface("eth0").host_peer
    assert listed[hostnet.name].host_network and listed[hostnet.name].interfaces == ()
    assert listed[hostnet.name].network_mode == "host"


def test_containers_command(dockerlab):
    web = dockerlab.httpd()
    c = get_container(web.name)
    eth0 = c.interface("eth0")

    text = run_cli("containers")
    assert text.returncode == 0, text.stderr
    line = next(l for l in text.stdout.splitlines() if l.startswith(web.name))
    cidr = f"{web.ip()}/{web.networks()['bridge']['IPPrefixLen']}"
    assert line.split()[1] == "docker"  # the runtime column
    for word in (web.id[:12], str(web.pid), "eth0", eth0.host_peer, cidr, "docker0"):
        assert word in line

    js = run_cli("containers", "--json")
    assert js.returncode == 0, js.stderr
    mine = next(d for d in json.loads(js.stdout) if d["name"] == web.name)
    assert mine["pid"] == web.pid
    assert {i["name"]: i["host_peer"] for i in mine["interfaces"]}["eth0"] == eth0.host_peer
    assert mine["networks"][0]["ip"] == web.ip()


def test_containers_command_with_daemon_down(tmp_path):
    res = run_cli("containers", env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert res.returncode == 1
    assert res.stderr.startswith(f"pcap4py: cannot reach the Docker daemon at unix://{tmp_path}/none.sock (DOCKER_HOST)")
    assert "Traceback" not in res.stderr


def _dead_socket(tmp_path) -> str:
    path = tmp_path / "dead.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()
    return f"unix://{path}"


def test_a_runtime_that_does_not_answer_is_skipped_with_a_warning(dockerlab, tmp_path):
    """A stale Podman socket beside a live Docker: listing and capturing go on, one warning line."""
    web = dockerlab.run("stale")
    env = {"CONTAINER_HOST": _dead_socket(tmp_path)}
    res = run_cli("containers", env=env)
    assert res.returncode == 0 and any(l.startswith(web.name + " ") for l in res.stdout.splitlines()), res
    assert res.stderr.startswith("pcap4py: warning: skipped: cannot reach the Podman service at "), res.stderr
    res = run_cli("capture", "--container", web.name, "--container", web.name, "--duration", "1", env=env)
    assert res.returncode == 0 and "warning: skipped: cannot reach the Podman service" in res.stderr, res.stderr
    res = run_cli("containers", "--runtime", "podman", env=env)
    assert res.returncode == 1 and res.stderr.startswith("pcap4py: cannot reach the Podman service"), res.stderr
