"""mirror build/teardown: tc mirroring of a fake LAN port into a bridge, sniffed from namespaces and containers.

The fake LAN: two namespaces A and B, each with a veth whose host end is a port
of a test bridge ``lan``.  Traffic A <-> B crosses ``src`` (A's host end) in
both directions: A -> B arrives on src (ingress), B -> A leaves through it
(egress).  The mirror copies both into the mirror bridge, which floods them to
its ports: a veth into a sniffer namespace, or containers on the mirror's
Docker network.  Nothing here touches the host's uplink.
"""

from __future__ import annotations

import json
import uuid

import pytest

import pcap4py
from pcap4py.errors import InterfaceNotFound, NetlinkError
from pcap4py.container.plumbing import mirror_build, mirror_teardown
from pcap4py.plumbing.mirror import state_path
from tests.fixtures.cli import run_cli
from tests.fixtures.netlab import Namespace, delete_namespace, lan_ip, make_namespace, next_subnet, send_udp, sh

PORT = 5555


class Lan:
    """Namespaces A and B on a test bridge; ``src`` is A's port (the one to mirror)."""

    def __init__(self, n: int):
        tag = uuid.uuid4().hex[:6]
        self.tag = tag
        self.lan = f"p4l{tag}"
        self.src = f"p4a{tag}"
        self.mirror_bridge = f"p4s{tag}"
        self.a, self.b = make_namespace("p4ma"), make_namespace("p4mb")
        self.a_ip, self.b_ip = lan_ip(n, 1, second=True), lan_ip(n, 2, second=True)
        self.sniffers: list[tuple[Namespace, str]] = []
        sh("ip", "link", "add", self.lan, "type", "bridge")
        sh("ip", "link", "set", self.lan, "up")
        for ns, host_end, ip in ((self.a, self.src, self.a_ip), (self.b, f"p4b{tag}", self.b_ip)):
            sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", "lan0", "netns", ns.name)
            sh("ip", "link", "set", host_end, "master", self.lan, "up")
            ns.run("ip", "addr", "add", f"{ip}/24", "dev", "lan0")
            ns.run("ip", "link", "set", "lan0", "up")

    def sniffer(self) -> Namespace:
        """A namespace with one veth port on the mirror bridge (its end is ``spy0``)."""
        ns = make_namespace("p4sn")
        host_end = f"p4x{uuid.uuid4().hex[:6]}"
        sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", "spy0", "netns", ns.name)
        sh("ip", "link", "set", host_end, "master", self.mirror_bridge, "up")
        ns.run("ip", "link", "set", "spy0", "up")
        self.sniffers.append((ns, host_end))
        return ns

    def send(self, frm: Namespace, dst: str, payload: bytes, count: int = 3) -> None:
        send_udp(dst, PORT, payload, count=count, src_port=0, ns=frm)

    def traffic(self) -> None:
        self.send(self.a, self.b_ip, b"p4-a-to-b")
        self.send(self.b, self.a_ip, b"p4-b-to-a")

    def close(self) -> None:
        for ns, host_end in self.sniffers:
            sh("ip", "link", "del", host_end, check=False)
            delete_namespace(ns)
        for dev in (self.src, f"p4b{self.tag}", self.lan):
            sh("ip", "link", "del", dev, check=False)
        delete_namespace(self.a)
        delete_namespace(self.b)
        # a failed test must not leave the mirror behind
        sh("ip", "link", "del", self.mirror_bridge, check=False)
        state_path(self.src, self.mirror_bridge).unlink(missing_ok=True)


@pytest.fixture
def lan():
    lab = Lan(next_subnet())
    try:
        yield lab
    finally:
        lab.close()


def tc_state(dev: str) -> dict:
    """What `tc` and `ip` say about ``dev``: qdiscs, filters on both clsact hooks, flags."""
    link = json.loads(sh("ip", "-j", "link", "show", dev).stdout)[0]
    return {
        "qdiscs": sh("tc", "qdisc", "show", "dev", dev).stdout,
        "ingress": sh("tc", "filter", "show", "dev", dev, "ingress", check=False).stdout,
        "egress": sh("tc", "filter", "show", "dev", dev, "egress", check=False).stdout,
        "flags": sorted(link["flags"]),
    }


def link_exists(dev: str) -> bool:
    return sh("ip", "link", "show", dev, check=False).returncode == 0


def payloads(packets) -> list[tuple[str, str, bytes]]:
    return [(p.src, p.dst, bytes(p.payload)) for p in packets if p.proto == "UDP" and p.dport == PORT]


def capture_all(refs_ifaces, action, expect: int) -> list[list]:
    """Open one pcap4py handle per (netns, iface), run ``action``, read up to ``expect`` UDP packets each."""
    handles = [pcap4py.open_live(iface, netns=ref, filter=f"udp port {PORT}", immediate=True, timeout_ms=50)
               for ref, iface in refs_ifaces]
    try:
        action()
        return [list(h.packets(count=expect, duration=4)) for h in handles]
    finally:
        for h in handles:
            h.close()


# --------------------------------------------------------------------------- namespaces only


def test_mirror_both_directions_into_a_new_bridge_and_teardown(lan):
    before = tc_state(lan.src)
    m = mirror_build(lan.src, lan.mirror_bridge)
    assert not m.already and f"bridge {lan.mirror_bridge}" in m.created
    assert set(m.prefs) == {"ingress", "egress"} and m.prefs["ingress"] != m.prefs["egress"]

    # the bridge floods: MAC learning off, STP off
    info = json.loads(sh("ip", "-j", "-d", "link", "show", lan.mirror_bridge).stdout)[0]["linkinfo"]["info_data"]
    assert info["ageing_time"] == 0 and info["stp_state"] == 0
    # what tc-mirror's filters look like, read back with tc
    for hook in ("ingress", "egress"):
        shown = sh("tc", "filter", "show", "dev", lan.src, hook).stdout
        assert f"mirred (Egress Mirror to device {lan.mirror_bridge})" in shown
        assert "match 00000000/00000000 at 0" in shown and "protocol all" in shown
        assert shown.count("mirred") == 1

    spy1, spy2 = lan.sniffer(), lan.sniffer()
    got = capture_all([(spy1.name, "spy0"), (spy2.name, "spy0")], lan.traffic, expect=6)
    for packets in got:
        seen = payloads(packets)
        assert seen.count((lan.a_ip, lan.b_ip, b"p4-a-to-b")) == 3, seen   # ingress on src, exactly once
        assert seen.count((lan.b_ip, lan.a_ip, b"p4-b-to-a")) == 3, seen   # egress on src, exactly once

    t = mirror_teardown(lan.src, lan.mirror_bridge)
    assert {"ingress filter", "egress filter", "clsact qdisc", f"bridge {lan.mirror_bridge}",
            "promiscuous mode"} <= set(t.removed)
    assert tc_state(lan.src) == before
    assert not link_exists(lan.mirror_bridge)
    assert not state_path(lan.src, lan.mirror_bridge).exists()
    # and the mirror is really gone: A and B still talk, nothing is copied anywhere
    assert "mirred" not in sh("tc", "filter", "show", "dev", lan.src, "ingress").stdout


def test_build_twice_adds_nothing_and_teardown_twice_is_harmless(lan):
    first = mirror_build(lan.src, lan.mirror_bridge)
    state = tc_state(lan.src)
    second = mirror_build(lan.src, lan.mirror_bridge)
    assert second.already and "already in place" in str(second)
    assert second.prefs == first.prefs
    assert tc_state(lan.src) == state  # one filter per hook, not two (tc-mirror would mirror twice)
    # the state file still says build created the bridge: teardown removes it
    assert mirror_teardown(lan.src, lan.mirror_bridge).removed
    assert not link_exists(lan.mirror_bridge)
    again = mirror_teardown(lan.src, lan.mirror_bridge)
    assert not again.removed and "nothing to remove" in str(again)


def test_existing_bridge_qdisc_and_filters_are_left_alone(lan):
    # someone else's bridge (learning on), clsact and filter, and promiscuous mode already on
    sh("ip", "link", "add", lan.mirror_bridge, "type", "bridge")
    sh("ip", "link", "set", lan.src, "promisc", "on")
    sh("tc", "qdisc", "add", "dev", lan.src, "clsact")
    other = f"p4o{lan.tag}"
    sh("ip", "link", "add", other, "type", "veth", "peer", "name", f"p4O{lan.tag}")
    try:
        sh("tc", "filter", "add", "dev", lan.src, "ingress", "pref", "1", "protocol", "ip", "u32",
           "match", "u8", "0", "0", "action", "mirred", "egress", "mirror", "dev", other)
        before = tc_state(lan.src)
        m = mirror_build(lan.src, lan.mirror_bridge)
        assert m.created == ["ingress filter", "egress filter"]
        assert any("learns MAC addresses" in w for w in m.warnings)
        assert 1 not in m.prefs.values()  # never shares a preference with a filter already there
        t = mirror_teardown(lan.src, lan.mirror_bridge)
        assert t.removed == ["ingress filter", "egress filter"]
        assert tc_state(lan.src) == before
        assert link_exists(lan.mirror_bridge)
    finally:
        sh("ip", "link", "del", other, check=False)


def test_mirror_made_by_tc_mirror_is_recognised(lan):
    """A mirror set up by hand with tc-mirror's own commands counts as already there."""
    sh("ip", "link", "add", lan.mirror_bridge, "type", "bridge", "ageing_time", "0")
    sh("ip", "link", "set", lan.mirror_bridge, "up")
    sh("ip", "link", "set", lan.src, "promisc", "on")
    sh("tc", "qdisc", "add", "dev", lan.src, "clsact")
    for hook, pref in (("ingress", "7"), ("egress", "8")):
        sh("tc", "filter", "add", "dev", lan.src, hook, "pref", pref, "protocol", "all", "u32", "match", "u8",
           "0", "0", "action", "mirred", "egress", "mirror", "dev", lan.mirror_bridge)
    m = mirror_build(lan.src, lan.mirror_bridge)
    assert m.already and m.prefs == {"ingress": 7, "egress": 8} and not m.warnings


def test_build_errors_and_rollback(lan):
    before = tc_state(lan.src)
    with pytest.raises(InterfaceNotFound, match="no interface 'p4nosuch0' to mirror"):
        mirror_build("p4nosuch0", lan.mirror_bridge)
    with pytest.raises(NetlinkError, match="into itself"):
        mirror_build(lan.src, lan.src)
    with pytest.raises(NetlinkError, match="is a port of"):
        mirror_build(lan.src, lan.lan)
    with pytest.raises(NetlinkError, match="exists and is not a bridge"):
        mirror_build(lan.src, f"p4b{lan.tag}")
    # a failure half-way (the ingress qdisc tc-mirror would have used is in the way of clsact) undoes it all
    sh("tc", "qdisc", "add", "dev", lan.src, "ingress")
    with_ingress = tc_state(lan.src)
    with pytest.raises(NetlinkError, match="'ingress' qdisc"):
        mirror_build(lan.src, lan.mirror_bridge)
    assert tc_state(lan.src) == with_ingress
    assert not link_exists(lan.mirror_bridge)
    assert not state_path(lan.src, lan.mirror_bridge).exists()
    sh("tc", "qdisc", "del", "dev", lan.src, "ingress")
    assert tc_state(lan.src) == before


def test_cli_mirror(lan):
    out = run_cli("mirror", "build", lan.src, lan.mirror_bridge)
    assert out.returncode == 0 and out.stdout.startswith(f"mirror {lan.src} -> {lan.mirror_bridge} built"), out
    out = run_cli("mirror", "build", lan.src, lan.mirror_bridge)
    assert out.returncode == 0 and "already in place" in out.stdout, out
    out = run_cli("mirror", "teardown", lan.src, lan.mirror_bridge)
    assert out.returncode == 0 and "torn down" in out.stdout, out
    assert not link_exists(lan.mirror_bridge)
    out = run_cli("mirror", "build", "p4nosuch0", lan.mirror_bridge)
    assert out.returncode == 1 and out.stderr.strip() == "pcap4py: no interface 'p4nosuch0' to mirror"


# --------------------------------------------------------------------------- Docker


@pytest.mark.docker
def test_mirror_docker_network_two_unprivileged_containers(lan, dockerlab):
    client = dockerlab.client
    net_name = f"p4t-span-{lan.tag}"
    before = tc_state(lan.src)
    m = mirror_build(lan.src, lan.mirror_bridge, docker_network=net_name)
    assert f"Docker network {net_name}" in m.created
    try:
        net = client.networks.get(net_name)
        assert net.attrs["Internal"] is True
        assert net.attrs["Options"]["com.docker.network.bridge.name"] == lan.mirror_bridge
        # Docker used our bridge as it was: learning still off
        info = json.loads(sh("ip", "-j", "-d", "link", "show", lan.mirror_bridge).stdout)[0]
        assert info["linkinfo"]["info_data"]["ageing_time"] == 0
        assert mirror_build(lan.src, lan.mirror_bridge, docker_network=net_name).already

        boxes = [dockerlab.run(f"spy{i}", network=net_name) for i in (1, 2)]
        for box in boxes:
            hc = box.reload().sdk.attrs["HostConfig"]
            assert not hc.get("Privileged") and not hc.get("CapAdd")
        def rx() -> list[int]:  # read by each container itself, without privileges
            return [int(box.exec("cat", "/sys/class/net/eth0/statistics/rx_packets")[1]) for box in boxes]

        rx_before = rx()
        got = capture_all([(box.pid, "eth0") for box in boxes], lan.traffic, expect=6)
        assert all(after - first >= 6 for first, after in zip(rx_before, rx()))
        for packets in got:
            seen = payloads(packets)
            assert seen.count((lan.a_ip, lan.b_ip, b"p4-a-to-b")) == 3, seen
            assert seen.count((lan.b_ip, lan.a_ip, b"p4-b-to-a")) == 3, seen
    finally:
        t = mirror_teardown(lan.src, lan.mirror_bridge)
    assert f"Docker network {net_name}" in t.removed and f"bridge {lan.mirror_bridge}" in t.removed
    assert not client.networks.list(names=[net_name])
    assert not link_exists(lan.mirror_bridge)
    assert tc_state(lan.src) == before


def test_build_rolls_back_when_docker_is_unreachable(lan, monkeypatch, tmp_path):
    """The Docker step fails for real (no daemon on that socket): the tc rules and bridge made before go too."""
    from pcap4py.errors import DockerUnavailable

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    before = tc_state(lan.src)
    with pytest.raises(DockerUnavailable, match="no-docker.sock"):
        mirror_build(lan.src, lan.mirror_bridge, docker_network=f"p4t-span-{lan.tag}")
    assert tc_state(lan.src) == before
    assert not link_exists(lan.mirror_bridge)
    assert not state_path(lan.src, lan.mirror_bridge).exists()
