"""attach's pipework parity (issue 14): VLAN, a bridge as the host side, --host-shim, U: MACs, 0/0,
-a 4|6, the host's MTU, and a PID target pinned by its open namespace.

The fake LAN is test_attach's: ``veth.host_if`` in the test's namespace, its
peer in the router namespace ``veth.ns``.  The bridge tests use a namespace of
their own as "the host" (attach run on a thread inside it), so the root
namespace's firewall cannot drop bridged frames.
"""

from __future__ import annotations

import json
import signal
import struct
import subprocess
import time
import uuid

import pytest

import pcap4py
from pcap4py.container.plumbing import attach, detach
from pcap4py.errors import AddressError, ContainerNotRunning, NetlinkError
from pcap4py.netns import netns_key, run_in_netns
from pcap4py.plumbing import lower, macvlan
from pcap4py.plumbing.address import stable_mac
from pcap4py.plumbing.transaction import HOOKS
from tests.fixtures.cli import run_cli
from tests.fixtures.netlab import delete_namespace, make_namespace, sh
from tests.plumbing.test_attach import Guest, guest, host_snapshot, lan, ns_snapshot  # noqa: F401 - fixtures

VID = 7


def links(*prefix: str) -> dict:
    return {l["ifname"]: l for l in json.loads(sh(*prefix, "ip", "-j", "-d", "link", "show").stdout or "[]")}


def host_side(host_if: str) -> set:
    """The test namespace's links of this lab: host_if, its VLAN devices, and what hangs on either
    (other sessions make links of their own meanwhile)."""
    return {n for n, l in links().items()
            if n.startswith(host_if) or str(l.get("link") or "").startswith(host_if)}


def host_routes_to(ip: str) -> str:
    return sh("ip", "-4", "route", "show", "table", "all", "to", f"{ip}/32").stdout.strip()


def kernel_has_vlans(ns) -> bool:
    """Whether this kernel makes 802.1Q devices (some VM kernels are built without CONFIG_VLAN_8021Q)."""
    probe = ns.run("ip", "link", "add", "link", "lo", "name", "p4probe", "type", "vlan", "id", "1", check=False)
    if probe.returncode == 0:
        ns.run("ip", "link", "del", "p4probe")
    return "Unknown device type" not in probe.stderr


@pytest.fixture
def vlan_lan(lan):
    """The router's own VLAN interface ``peer_if.7`` with the second LAN's .1/24 (the gateway)."""
    veth, _, _ = lan
    if not kernel_has_vlans(veth.ns):
        pytest.skip("this kernel has no 802.1Q VLAN support (CONFIG_VLAN_8021Q)")
    vif = f"{veth.peer_if}.{VID}"
    veth.ns.run("ip", "link", "add", "link", veth.peer_if, "name", vif, "type", "vlan", "id", str(VID))
    veth.ns.run("ip", "addr", "add", f"{veth.second_ip(1)}/24", "dev", vif)
    veth.ns.run("ip", "link", "set", vif, "up")
    return veth, veth.second_ip(1)


# --------------------------------------------------------------------------- VLAN


def test_vlan_frames_are_tagged_pings_both_ways_device_shared_and_removed_by_last_detach(vlan_lan, veth):
    veth, gw = vlan_lan
    sh("ip", "link", "set", veth.host_if, "mtu", "1400")  # the host's MTU reaches the VLAN device and eth1
    second = Guest(veth)
    try:
        g1, ip1, ip2 = Guest(veth), veth.second_ip(77), veth.second_ip(78)
        try:
            host_before = host_snapshot(veth.host_if), host_side(veth.host_if)
            a1 = attach(veth.host_if, g1.path, f"{ip1}/24@{gw}", vlan=VID)
            vdev = links()[f"{veth.host_if}.{VID}"]
            assert vdev["linkinfo"]["info_kind"] == "vlan" and vdev["linkinfo"]["info_data"]["id"] == VID
            assert vdev["mtu"] == 1400 and vdev.get("ifalias") == lower.LOWER_TAG
            eth1 = links("ip", "netns", "exec", g1.ns.name)["eth1"]
            assert eth1["mtu"] == 1400 and eth1["link_index"] == vdev["ifindex"]
            assert f"VLAN {VID}" in str(a1)

            with pcap4py.open_live(veth.peer_if, netns=veth.ns.name, immediate=True, timeout_ms=50) as h:
                veth.ns.ping(ip1, 2)   # router -> container through its own VLAN interface
                g1.ns.ping(gw, 2)      # container -> router
                frames = list(h.packets(count=40, duration=3))
            tagged = [f.data for f in frames if f.data[12:14] == b"\x81\x00"]
            icmp = [d for d in tagged if d[16:18] == b"\x08\x00" and d[18 + 9] == 1]
            assert icmp and all(struct.unpack("!H", d[14:16])[0] & 0xFFF == VID for d in icmp), frames
            assert not [f for f in frames if f.data[12:14] == b"\x08\x00"]  # nothing untagged

            # a second attach on the same VLAN shares the device; the first detach leaves it to the second
            attach(veth.host_if, second.path, f"{ip2}/24@{gw}", vlan=VID)
            assert links()[f"{veth.host_if}.{VID}"]["ifindex"] == vdev["ifindex"]
            second.ns.ping(ip1, 1)
            det = detach(g1.path)
            assert det.removed and det.lower_removed is None and f"{veth.host_if}.{VID}" in links()
            second.ns.ping(gw, 1)
            det = detach(second.path)
            assert det.lower_removed == f"{veth.host_if}.{VID}" and f"{veth.host_if}.{VID}" not in links()
            assert (host_snapshot(veth.host_if), host_side(veth.host_if)) == host_before
        finally:
            delete_namespace(g1.ns)
    finally:
        delete_namespace(second.ns)


def test_vlan_device_made_by_someone_else_is_kept(vlan_lan, guest):
    veth, gw = vlan_lan
    vif = f"{veth.host_if}.{VID}"
    sh("ip", "link", "add", "link", veth.host_if, "name", vif, "type", "vlan", "id", str(VID))
    sh("ip", "link", "set", vif, "up")
    attach(veth.host_if, guest.path, f"{veth.second_ip(77)}/24@{gw}", vlan=VID)
    guest.ns.ping(gw, 1)
    assert detach(guest.path).lower_removed is None and vif in links()
    with pytest.raises(NetlinkError, match=f"{vif} exists but is not VLAN 8"):
        sh("ip", "link", "del", vif)
        sh("ip", "link", "add", "link", veth.host_if, "name", vif, "type", "vlan", "id", "8")
        attach(veth.host_if, guest.path, f"{veth.second_ip(77)}/24", vlan=VID)
    sh("ip", "link", "del", vif)


def test_vlan_without_kernel_support_is_one_clear_line_and_nothing_is_left(lan, guest):
    veth, gw, ip = lan
    if kernel_has_vlans(veth.ns):
        pytest.skip("this kernel makes VLAN devices: the tests above cover them")
    before = ns_snapshot(guest.ns.name), host_snapshot(veth.host_if), host_side(veth.host_if)
    with pytest.raises(NetlinkError, match=rf"^attach failed, rolled back: cannot create {veth.host_if}.{VID}: "
                                           rf"this kernel has no 802.1Q VLAN support"):
        attach(veth.host_if, guest.path, f"{ip}/24@{gw}", vlan=VID, promisc=True, host_shim=True)
    assert (ns_snapshot(guest.ns.name), host_snapshot(veth.host_if), host_side(veth.host_if)) == before
    with pytest.raises(NetlinkError, match="bad VLAN id 4095"):
        attach(veth.host_if, guest.path, f"{ip}/24", vlan=4095)


# --------------------------------------------------------------------------- bridge host side


class BridgeWorld:
    """A namespace standing for the host, and two guests to attach to a bridge in it."""

    def __init__(self, subnet: str):
        self.host = make_namespace("p4H")
        self.guests = [make_namespace("p4g") for _ in range(2)]
        self.bridge = f"br{uuid.uuid4().hex[:6]}"
        self.ips = [f"{subnet}.{n}" for n in (11, 12)]

    def call(self, fn, *args, **kw):
        return run_in_netns(self.host.path, fn, *args, **kw)

    def host_links(self) -> dict:
        return links("ip", "netns", "exec", self.host.name)

    def close(self):
        for ns in [self.host, *self.guests]:
            delete_namespace(ns)


@pytest.fixture
def bridge_world(veth):
    w = BridgeWorld(veth.second_ip(1).rsplit(".", 1)[0])
    try:
        yield w
    finally:
        w.close()


def test_bridge_made_if_missing_two_namespaces_ping_last_detach_removes_it(bridge_world):
    w = bridge_world
    before = set(w.host_links()), [ns_snapshot(g.name) for g in w.guests]
    made = [w.call(attach, w.bridge, g.path, f"{ip}/24") for g, ip in zip(w.guests, w.ips)]
    assert all(m.peer and "on bridge" in str(m) for m in made)
    host = w.host_links()
    assert host[w.bridge]["linkinfo"]["info_kind"] == "bridge" and host[w.bridge].get("ifalias") == lower.LOWER_TAG
    assert sorted(n for n, l in host.items() if l.get("master") == w.bridge) == sorted(m.peer for m in made)
    eth1 = links("ip", "netns", "exec", w.guests[0].name)["eth1"]
    assert eth1["linkinfo"]["info_kind"] == "veth" and "UP" in eth1["flags"]
    w.guests[0].ping(w.ips[1], 2)
    w.guests[1].ping(w.ips[0], 2)
    # the same attach again: a no-op that says so
    assert w.call(attach, w.bridge, w.guests[0].path, f"{w.ips[0]}/24").already
    first = w.call(detach, w.guests[0].path)
    assert first.removed and first.lower_removed is None and w.bridge in w.host_links()
    last = w.call(detach, w.guests[1].path)
    assert last.lower_removed == w.bridge
    assert (set(w.host_links()), [ns_snapshot(g.name) for g in w.guests]) == before


def test_existing_bridge_is_kept_and_its_mtu_propagates(bridge_world):
    w = bridge_world
    w.host.run("ip", "link", "add", w.bridge, "mtu", "1400", "type", "bridge")
    w.host.run("ip", "link", "set", w.bridge, "up")
    w.call(attach, w.bridge, w.guests[0].path, f"{w.ips[0]}/24")
    assert links("ip", "netns", "exec", w.guests[0].name)["eth1"]["mtu"] == 1400
    assert w.call(detach, w.guests[0].path).lower_removed is None
    assert set(w.host_links()) == {"lo", w.bridge}
    with pytest.raises(NetlinkError, match="is a bridge: --vlan and --host-shim"):
        w.call(attach, w.bridge, w.guests[0].path, f"{w.ips[0]}/24", vlan=VID)


# --------------------------------------------------------------------------- host shim


def _host_ping(ip: str) -> int:
    return subprocess.run(["ping", "-n", "-q", "-c", "1", "-W", "1", "-w", "2", ip],
                          capture_output=True, timeout=10).returncode


def test_host_shim_lets_the_host_reach_its_macvlan_container(lan, guest):
    veth, gw, ip = lan
    before = host_snapshot(veth.host_if), host_side(veth.host_if), host_routes_to(ip)
    attach(veth.host_if, guest.path, f"{ip}/24@{gw}")
    assert _host_ping(ip) != 0  # a macvlan's lower device cannot reach it: why the shim exists
    detach(guest.path)
    att = attach(veth.host_if, guest.path, f"{ip}/24@{gw}", host_shim=True)
    assert att.shim and att.shim in links() and links()[att.shim]["linkinfo"]["info_data"]["mode"] == "bridge"
    assert f"dev {att.shim}" in host_routes_to(ip)
    assert _host_ping(ip) == 0
    assert attach(veth.host_if, guest.path, f"{ip}/24@{gw}", host_shim=True).already
    det = detach(guest.path)
    assert det.shim_removed and "host shim removed" in str(det)
    assert (host_snapshot(veth.host_if), host_side(veth.host_if), host_routes_to(ip)) == before


# --------------------------------------------------------------------------- MAC, 0/0, family


def test_stable_mac_no_address_and_family(lan, guest):
    veth, gw, ip = lan
    mac = stable_mac(guest.ns.name)
    assert int(mac[:2], 16) & 0b11 == 0b10  # locally administered, unicast
    assert stable_mac(guest.ns.name + "x") != mac
    before = ns_snapshot(guest.ns.name)
    att = attach(veth.host_if, guest.ns.name, "0/0", mac="U:")
    assert att.mac == mac and att.address is None and "no address" in str(att)
    eth1 = guest.ns.run("ip", "-j", "addr", "show", "eth1").stdout
    info = json.loads(eth1)[0]
    assert "UP" in info["flags"] and not [a for a in info["addr_info"] if a["family"] == "inet"]
    assert attach(veth.host_if, guest.ns.name, "0/0", mac="U:").already
    detach(guest.ns.name)
    assert attach(veth.host_if, guest.ns.name, f"{ip}/24", mac="U:web").mac == stable_mac(guest.ns.name + "web")
    detach(guest.ns.name)
    with pytest.raises(AddressError, match=r"is IPv4 but IPv6 was asked for \(-a 6\)"):
        attach(veth.host_if, guest.path, f"{ip}/24", family=6)
    with pytest.raises(AddressError, match="cannot have a gateway"):
        attach(veth.host_if, guest.path, f"0/0@{gw}")
    with pytest.raises(AddressError, match="--host-shim needs an address"):
        attach(veth.host_if, guest.path, "0/0", host_shim=True)
    assert ns_snapshot(guest.ns.name) == before


def test_cli_shim_stable_mac_and_family(lan, guest):
    veth, gw, ip = lan
    before = ns_snapshot(guest.ns.name), host_side(veth.host_if)
    out = run_cli("attach", veth.host_if, guest.ns.name, f"{ip}/24@{gw}", "--host-shim", "-a", "4", "--mac", "U:")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"attached: eth1 ({stable_mac(guest.ns.name)})") and "host shim p4s" in out.stdout
    guest.ns.ping(gw, 1)
    assert _host_ping(ip) == 0
    bad = run_cli("attach", veth.host_if, guest.ns.name, f"{ip}/24", "-a", "6", "-i", "eth2")
    assert bad.returncode == 1 and bad.stderr.strip() == f"pcap4py: {ip}/24 is IPv4 but IPv6 was asked for (-a 6)"
    out = run_cli("detach", guest.ns.name)
    assert out.returncode == 0 and "host shim removed" in out.stdout, out
    assert (ns_snapshot(guest.ns.name), host_side(veth.host_if)) == before


# --------------------------------------------------------------------------- races and states


def test_pid_target_is_pinned_by_its_open_namespace(lan, guest):
    """The process dies between resolving the PID and moving the interface: the interface still goes into
    the namespace that PID had (held open), never to whatever owns the PID next."""
    veth, gw, ip = lan
    proc = guest.ns.popen("sleep", "30")
    try:
        for _ in range(100):  # `ip netns exec` enters the namespace, then becomes sleep: wait for the first
            if netns_key(proc.pid) == netns_key(guest.path):
                break
            time.sleep(0.02)
        def kill_it(step):
            if step == "create":
                proc.send_signal(signal.SIGKILL)
                proc.wait(5)

        HOOKS.append(kill_it)
        try:
            att = macvlan.attach(veth.host_if, proc.pid, f"{ip}/24")
        finally:
            HOOKS.remove(kill_it)
        assert att.netns == f"/proc/{proc.pid}/ns/net"
        assert "eth1" in links("ip", "netns", "exec", guest.ns.name)
        guest.ns.ping(gw, 1)
        assert detach(guest.path).removed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.mark.docker
def test_stopped_container_is_refused_with_its_state(lan, dockerlab):
    veth, gw, ip = lan
    box = dockerlab.run("stopped14")
    box.sdk.stop(timeout=1)
    with pytest.raises(ContainerNotRunning, match=rf"^container {box.name} is not running \(state: exited\)"):
        attach(veth.host_if, box.name, f"{ip}/24@{gw}")
    assert host_snapshot(veth.host_if)["leftovers"] == []
