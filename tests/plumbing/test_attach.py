"""attach/detach: pipework-style macvlan on a fake LAN, never on the host's uplink.

The fake LAN is the ``veth`` fixture: ``veth.host_if`` (in the test's own
namespace) is the "host interface", its peer lives in the "router" namespace
``veth.ns`` with address .2, which plays the gateway.  The attach target is a
namespace made by the test (or a real container) that already has an ``eth0``
and a default route of its own, so that detach has something to restore.
"""

from __future__ import annotations

import ipaddress
import json

import pytest

import pcap4py
from pcap4py.plumbing.transaction import HOOKS
from pcap4py.container.plumbing import attach, detach
from pcap4py.plumbing.address import parse_address, parse_mac
from pcap4py.errors import AddressError, ContainerNotRunning, HostNetworkContainer, InterfaceNotFound, NetlinkError, NotFound
from tests.fixtures.cli import run_cli
from tests.fixtures.netlab import make_namespace, delete_namespace, sh


# --------------------------------------------------------------------------- helpers


def _links(prefix: tuple[str, ...] = ()) -> list[dict]:
    return json.loads(sh(*prefix, "ip", "-j", "-d", "link", "show").stdout or "[]")


def ns_snapshot(ns_name: str) -> dict:
    """What a user compares: interfaces (name, kind, flags, MAC, MTU, alias) and routes of both families."""
    prefix = ("ip", "netns", "exec", ns_name)
    links = sorted(
        (l["ifname"], (l.get("linkinfo") or {}).get("info_kind"), tuple(sorted(l["flags"])), l.get("address"),
         l["mtu"], l.get("ifalias"))
        for l in _links(prefix))
    routes = {fam: sh(*prefix, "ip", fam, "route", "show", "table", "all").stdout for fam in ("-4", "-6")}
    return {"links": links, "routes": routes}


def host_snapshot(host_if: str) -> dict:
    """The host interface's state, and every macvlan on it left in the host (attach's temporary p4m* included).

    Only macvlans on ``host_if``: another session's attach, running meanwhile, makes p4m* links of its own.
    """
    links = _links()
    me = next(l for l in links if l["ifname"] == host_if)
    leftovers = sorted(l["ifname"] for l in links
                       if (l.get("linkinfo") or {}).get("info_kind") == "macvlan" and l.get("link") == host_if)
    return {"flags": tuple(sorted(me["flags"])), "promiscuity": me.get("promiscuity"), "mtu": me["mtu"],
            "leftovers": leftovers}


def macvlans_on(host_if: str, ns_names: list[str]) -> list[str]:
    """Every macvlan anywhere (host and the given namespaces) whose lower device is ``host_if``'s index."""
    idx = next(l["ifindex"] for l in _links() if l["ifname"] == host_if)
    found = [l["ifname"] for l in _links() if (l.get("linkinfo") or {}).get("info_kind") == "macvlan"
             and l.get("link") == host_if]
    for ns in ns_names:
        for l in _links(("ip", "netns", "exec", ns)):
            if (l.get("linkinfo") or {}).get("info_kind") == "macvlan" and l.get("link_index") == idx:
                found.append(f"{ns}:{l['ifname']}")
    return found


class Guest:
    """An attach target: a namespace with eth0 (.2/24 of the lab's second LAN) and a default route via .1."""

    def __init__(self, veth):
        self.ip, self.gw = veth.second_ip(2), veth.second_ip(1)
        self.ns = make_namespace("p4g")
        self.path = self.ns.path
        # no IPv6 duplicate address detection: link-local routes appear at once, so snapshots are stable
        for conf in ("all", "default"):
            self.ns.run("sysctl", "-q", "-w", f"net.ipv6.conf.{conf}.accept_dad=0")
        self.ns.run("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "stub0")
        for dev in ("eth0", "stub0"):
            self.ns.run("ip", "link", "set", dev, "up")
        self.ns.run("ip", "addr", "add", f"{self.ip}/24", "dev", "eth0")
        self.ns.run("ip", "route", "add", "default", "via", self.gw, "dev", "eth0")

    def default_route(self, family: str = "-4") -> str:
        return self.ns.run("ip", family, "route", "show", "default").stdout.strip()


@pytest.fixture
def guest(veth):
    g = Guest(veth)
    try:
        yield g
    finally:
        delete_namespace(g.ns)


@pytest.fixture
def lan(veth):
    """(host_if, router namespace, gateway address, a free address for the guest) on the fake LAN."""
    veth.ns.run("sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
    return veth, veth.peer_ip, veth.ip(77)


# --------------------------------------------------------------------------- grammar


@pytest.mark.parametrize("spec,iface,gw", [
    ("198.18.1.200/24@198.18.1.1", "198.18.1.200/24", "198.18.1.1"),
    ("198.18.1.200/24", "198.18.1.200/24", None),
    ("198.18.0.1/31@198.18.0.0", "198.18.0.1/31", "198.18.0.0"),
    ("fd00::5/64@fd00::1", "fd00::5/64", "fd00::1"),
    (" 198.19.3.4/16@198.19.0.1 ", "198.19.3.4/16", "198.19.0.1"),
])
def test_parse_address_accepts_pipework_grammar(spec, iface, gw):
    parsed = parse_address(spec)
    assert parsed.interface == ipaddress.ip_interface(iface)
    assert parsed.gateway == (ipaddress.ip_address(gw) if gw else None)
    assert str(parsed) == (f"{iface}@{gw}" if gw else iface)


@pytest.mark.parametrize("spec,words", [
    ("198.18.1.200", "needs a prefix length"),
    ("198.18.1.200/33", "bad prefix length /33"),
    ("198.18.1.200/x", "bad prefix length"),
    ("198.18.1.300/24", "not an IPv4 or IPv6 address"),
    ("198.18.1.200/24@198.18.2.1", "outside the subnet 198.18.1.0/24"),
    ("198.18.1.200/24@fd00::1", "is IPv6 but the address"),
    ("198.18.1.200/24@198.18.1.200", "own address"),
    ("198.18.1.200/24@", "empty gateway"),
    ("198.18.1.200/24@gw", "gateway 'gw' is not"),
    ("198.18.1.0/24", "network address"),
    ("198.18.1.255/24", "broadcast address"),
    ("fd00::5/129", "bad prefix length /129"),
])
def test_parse_address_rejects_with_a_clear_message(spec, words):
    with pytest.raises(AddressError, match=words.replace("(", r"\(")):
        parse_address(spec)


def test_parse_address_gateway_given_separately():
    assert parse_address("198.18.2.3/24", "198.18.2.1").gateway == ipaddress.ip_address("198.18.2.1")
    with pytest.raises(AddressError, match="gateway given twice"):
        parse_address("198.18.2.3/24@198.18.2.1", "198.18.2.254")


def test_parse_mac():
    assert parse_mac("02:42:AC:11:00:99") == "02:42:ac:11:00:99"
    assert parse_mac("02-42-ac-11-00-99") == "02:42:ac:11:00:99"
    assert parse_mac("0242ac110099") == "02:42:ac:11:00:99"
    for bad, words in [("01:00:5e:00:00:01", "multicast"), ("00:00:00:00:00:00", "cannot be"),
                       ("02:42:ac:11:00", "not a MAC"), ("02:42-ac:11:00:99", "not a MAC")]:
        with pytest.raises(AddressError, match=words):
            parse_mac(bad)


# --------------------------------------------------------------------------- attach on a namespace


def _capture_pings(netns: str, iface: str, action) -> list:
    """Open a pcap4py handle on ``iface`` inside ``netns``, run ``action``, return the ICMP packets seen."""
    with pcap4py.open_live(iface, netns=netns, filter="icmp", immediate=True, timeout_ms=50) as handle:
        action()
        return list(handle.packets(count=8, duration=5))


def test_attach_namespace_ping_both_ways_capture_and_detach(lan, guest):
    veth, gw, ip = lan
    before_ns, before_host = ns_snapshot(guest.ns.name), host_snapshot(veth.host_if)

    att = attach(veth.host_if, guest.path, f"{ip}/24@{gw}", mac="02:00:0a:e7:00:4d")
    assert not att.already and att.name == "eth1" and att.mac == "02:00:0a:e7:00:4d"
    assert str(att.address) == f"{ip}/24" and str(att.gateway) == gw

    # what the kaitoy/pcap4j workflow shows by hand: a bridge-mode macvlan, up, addressed, the default route through GW
    link = json.loads(guest.ns.run("ip", "-j", "-d", "link", "show", "eth1").stdout)[0]
    assert link["linkinfo"]["info_kind"] == "macvlan"
    assert link["linkinfo"]["info_data"]["mode"] == "bridge"
    assert link["address"] == "02:00:0a:e7:00:4d" and "UP" in link["flags"]
    assert f"inet {ip}/24" in guest.ns.run("ip", "-4", "addr", "show", "eth1").stdout
    assert guest.default_route() == f"default via {gw} dev eth1 proto static"
    assert f"via {gw} dev eth1" in guest.ns.run("ip", "route", "get", "198.51.100.1").stdout

    def pings():
        veth.ns.ping(ip, 2)   # the router pings the guest
        guest.ns.ping(gw, 2)  # the guest pings the router

    packets = _capture_pings(guest.path, "eth1", pings)
    seen = {(p.src, p.dst) for p in packets if p.proto == "ICMP"}
    assert {(gw, ip), (ip, gw)} <= seen, seen
    assert all(p.interface == "eth1" for p in packets)

    det = detach(guest.path)
    assert det.removed and det.restored_routes
    assert ns_snapshot(guest.ns.name) == before_ns
    assert host_snapshot(veth.host_if) == before_host
    assert guest.default_route() == f"default via {guest.gw} dev eth0"


def test_attach_announces_itself_with_a_gratuitous_arp(lan, guest):
    veth, gw, ip = lan
    mac = "02:00:0a:e7:00:50"
    with pcap4py.open_live(veth.peer_if, netns=veth.ns.name, filter="arp", immediate=True, timeout_ms=50) as h:
        attach(veth.host_if, guest.path, f"{ip}/24", mac=mac)
        frames = [p for p in h.packets(count=1, duration=3)]
    assert frames and frames[0].eth_src == mac and frames[0].eth_dst == "ff:ff:ff:ff:ff:ff"
    arp = frames[0].data[14:42]
    packed = ipaddress.ip_address(ip).packed
    assert arp[6:8] == b"\x00\x01" and arp[14:18] == packed and arp[24:28] == packed  # who-has IP tell IP
    detach(guest.path)


def test_attach_twice_is_a_noop_and_detach_twice_too(lan, guest):
    veth, gw, ip = lan
    before = ns_snapshot(guest.ns.name)
    first = attach(veth.host_if, guest.ns.name, f"{ip}/24@{gw}")
    state = ns_snapshot(guest.ns.name)
    second = attach(veth.host_if, guest.ns.name, f"{ip}/24@{gw}")
    assert second.already and "already attached" in str(second)
    assert second.mac == first.mac and second.ifindex == first.ifindex
    assert ns_snapshot(guest.ns.name) == state
    # same name, other settings: refused, nothing changed
    with pytest.raises(NetlinkError, match="already exists .* other settings"):
        attach(veth.host_if, guest.ns.name, f"{veth.ip(78)}/24@{gw}")
    assert ns_snapshot(guest.ns.name) == state
    assert detach(guest.ns.name).removed
    again = detach(guest.ns.name)
    assert not again.removed and "nothing to detach" in str(again)
    assert ns_snapshot(guest.ns.name) == before


def test_attach_without_gateway_keeps_routes_and_promisc_is_restored(lan, guest):
    veth, gw, ip = lan
    host_before = host_snapshot(veth.host_if)
    assert "PROMISC" not in host_before["flags"]
    att = attach(veth.host_if, guest.path, f"{ip}/24", name="lan0", promisc=True)
    assert att.promisc_set and att.gateway is None
    assert "PROMISC" in host_snapshot(veth.host_if)["flags"]
    assert guest.default_route() == f"default via {guest.gw} dev eth0"
    guest.ns.ping(gw, 1)
    det = detach(guest.path, name="lan0")
    assert det.promisc_cleared and not det.restored_routes
    assert host_snapshot(veth.host_if) == host_before


def test_promisc_already_on_is_left_on(lan, guest):
    veth, gw, ip = lan
    sh("ip", "link", "set", veth.host_if, "promisc", "on")
    att = attach(veth.host_if, guest.path, f"{ip}/24", promisc=True)
    assert not att.promisc_set
    assert not detach(guest.path).promisc_cleared
    assert "PROMISC" in host_snapshot(veth.host_if)["flags"]


def test_attach_ipv6_with_gateway(lan, guest):
    veth, gw, ip = lan
    before = ns_snapshot(guest.ns.name)
    ip6, gw6 = f"fd31:{veth.subnet}::77", veth.peer_ip6
    att = attach(veth.host_if, guest.path, f"{ip6}/64@{gw6}")
    assert att.address.version == 6 and str(att.gateway) == gw6
    assert guest.default_route("-6").startswith(f"default via {gw6} dev eth1")
    assert guest.default_route("-4") == f"default via {guest.gw} dev eth0"  # IPv4 untouched
    veth.ns.ping(ip6, 1)
    guest.ns.ping(gw6, 1)
    assert detach(guest.path).removed
    assert ns_snapshot(guest.ns.name) == before


# --------------------------------------------------------------------------- errors


def test_errors_are_clear_and_leave_nothing(lan, guest):
    veth, gw, ip = lan
    before = ns_snapshot(guest.ns.name), host_snapshot(veth.host_if)
    with pytest.raises(InterfaceNotFound, match="no host interface 'p4nosuch0'"):
        attach("p4nosuch0", guest.path, f"{ip}/24@{gw}")
    with pytest.raises(AddressError, match="outside the subnet"):
        attach(veth.host_if, guest.path, f"{ip}/24@{veth.second_ip(9)}")
    with pytest.raises(AddressError, match="needs a prefix"):
        attach(veth.host_if, guest.path, ip)
    with pytest.raises(AddressError, match="multicast"):
        attach(veth.host_if, guest.path, f"{ip}/24", mac="01:00:5e:00:00:01")
    with pytest.raises(NotFound, match="no process 4194304"):
        attach(veth.host_if, 4194304, f"{ip}/24")
    with pytest.raises(NotFound, match="no network namespace at /run/netns/p4-none"):
        attach(veth.host_if, "/run/netns/p4-none", f"{ip}/24")
    with pytest.raises(HostNetworkContainer, match="shares this host's network namespace"):
        attach(veth.host_if, "/proc/self/ns/net", f"{ip}/24")
    with pytest.raises(NetlinkError, match="loopback"):
        attach("lo", guest.path, f"{ip}/24")
    # the name is taken by an interface pcap4py did not make: refused, and detach will not remove it
    with pytest.raises(NetlinkError, match="interface eth0 already exists .*not made by pcap4py"):
        attach(veth.host_if, guest.path, f"{ip}/24", name="eth0")
    with pytest.raises(NetlinkError, match="not made by pcap4py attach"):
        detach(guest.path, name="eth0")
    assert (ns_snapshot(guest.ns.name), host_snapshot(veth.host_if)) == before


STEPS = ["promisc", "create", "move", "name", "mac", "up", "address", "gateway"]


@pytest.mark.parametrize("step", STEPS)
def test_failure_after_each_step_rolls_everything_back(lan, guest, step):
    veth, gw, ip = lan
    before = ns_snapshot(guest.ns.name), host_snapshot(veth.host_if)
    reached = []

    def hook(name):
        reached.append(name)
        if name == step:
            # prove the step really happened on the kernel before failing
            if name in ("move", "name", "up", "address", "gateway"):
                assert macvlans_on(veth.host_if, [guest.ns.name]), "no macvlan in the guest at " + name
            raise RuntimeError(f"forced failure after {name}")

    HOOKS.append(hook)
    try:
        with pytest.raises(RuntimeError, match=f"forced failure after {step}"):
            attach(veth.host_if, guest.path, f"{ip}/24@{gw}", mac="02:00:0a:e7:00:4e", promisc=True)
    finally:
        HOOKS.remove(hook)
    assert reached == STEPS[:STEPS.index(step) + 1]
    assert macvlans_on(veth.host_if, [guest.ns.name]) == []
    assert (ns_snapshot(guest.ns.name), host_snapshot(veth.host_if)) == before


def test_kernel_refusals_after_the_move_roll_back(lan, guest):
    """Real kernel errors, no hook raising: the name taken meanwhile, IPv6 disabled in the guest."""
    veth, gw, ip = lan

    def take_name(step):
        if step == "move":  # someone creates eth1 in the guest between our check and our rename
            guest.ns.run("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1peer")

    before = ns_snapshot(guest.ns.name), host_snapshot(veth.host_if)
    HOOKS.append(take_name)
    try:
        with pytest.raises(NetlinkError, match="interface eth1 already exists"):
            attach(veth.host_if, guest.path, f"{ip}/24@{gw}", promisc=True)
    finally:
        HOOKS.remove(take_name)
    assert macvlans_on(veth.host_if, [guest.ns.name]) == []
    guest.ns.run("ip", "link", "del", "eth1")
    assert (ns_snapshot(guest.ns.name), host_snapshot(veth.host_if)) == before

    guest.ns.run("sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1")
    before = ns_snapshot(guest.ns.name), host_snapshot(veth.host_if)
    with pytest.raises(NetlinkError, match="rolled back: cannot add the address to eth1"):
        attach(veth.host_if, guest.path, f"fd31:{veth.subnet}::77/64@{veth.peer_ip6}")
    assert macvlans_on(veth.host_if, [guest.ns.name]) == []
    assert (ns_snapshot(guest.ns.name), host_snapshot(veth.host_if)) == before


# --------------------------------------------------------------------------- CLI


def test_cli_attach_detach(lan, guest):
    veth, gw, ip = lan
    before = ns_snapshot(guest.ns.name)
    out = run_cli("attach", veth.host_if, guest.ns.name, f"{ip}/24@{gw}", "-i", "lan1", "--mac", "02:00:0a:e7:00:4f")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("attached: lan1 (02:00:0a:e7:00:4f)")
    out = run_cli("attach", veth.host_if, guest.ns.name, f"{ip}/24@{gw}", "-i", "lan1")
    assert out.returncode == 0 and out.stdout.startswith("already attached"), out
    guest.ns.ping(gw, 1)
    outside = veth.second_ip(1)
    bad = run_cli("attach", veth.host_if, guest.ns.name, f"{ip}/24@{outside}")
    assert bad.returncode == 1 and bad.stderr.strip() == \
        f"pcap4py: gateway {outside} is outside the subnet {ipaddress.ip_interface(f'{ip}/24').network} of {ip}/24"
    out = run_cli("detach", guest.ns.name, "-i", "lan1")
    assert out.returncode == 0 and out.stdout.startswith("detached: lan1"), out
    assert ns_snapshot(guest.ns.name) == before


# --------------------------------------------------------------------------- a real container


def _container_snapshot(pid: int) -> dict:
    prefix = ("nsenter", "-t", str(pid), "-n")
    links = sorted((l["ifname"], tuple(sorted(l["flags"])), l.get("address")) for l in _links(prefix))
    routes = sh(*prefix, "ip", "-4", "route", "show", "table", "all").stdout
    return {"links": links, "routes": routes}


@pytest.mark.docker
def test_attach_real_container(lan, dockerlab):
    veth, gw, ip = lan
    box = dockerlab.run("attach")
    pid = box.pid
    before, host_before = _container_snapshot(pid), host_snapshot(veth.host_if)
    docker_gw = box.gateway("bridge")

    att = attach(veth.host_if, box.name, f"{ip}/24@{gw}")
    assert att.netns == f"/proc/{pid}/ns/net" and att.replaced_routes
    code, out = box.exec("ip", "route")
    assert code == 0 and f"default via {gw} dev eth1" in out and docker_gw not in out.split("\n")[0]

    def pings():
        veth.ns.ping(ip, 2)
        code, out = box.exec("ping", "-c", "2", "-W", "2", gw)
        assert code == 0, out

    packets = _capture_pings(pid, "eth1", pings)
    seen = {(p.src, p.dst) for p in packets if p.proto == "ICMP"}
    assert {(gw, ip), (ip, gw)} <= seen, seen

    assert attach(veth.host_if, box.name, f"{ip}/24@{gw}").already
    det = detach(box.name)
    assert det.removed
    assert _container_snapshot(pid) == before
    assert host_snapshot(veth.host_if) == host_before
    code, out = box.exec("ip", "route")
    assert f"default via {docker_gw} dev eth0" in out


@pytest.mark.docker
def test_attach_stopped_container_is_refused(lan, dockerlab):
    veth, gw, ip = lan
    box = dockerlab.run("stopped")
    box.sdk.stop(timeout=1)
    with pytest.raises(ContainerNotRunning):
        attach(veth.host_if, box.name, f"{ip}/24@{gw}")
    assert host_snapshot(veth.host_if)["leftovers"] == []


@pytest.mark.docker
def test_persist_and_restore_after_a_real_restart(lan, dockerlab, tmp_path, monkeypatch):
    veth, gw, ip = lan
    monkeypatch.setenv("PCAP4PY_RUN_DIR", str(tmp_path))
    box = dockerlab.run("persist")
    att = attach(veth.host_if, box.name, f"{ip}/24@{gw}", persist=True)
    state = tmp_path / "attach" / f"{box.id}.json"
    assert json.loads(state.read_text())["eth1"]["address"] == f"{ip}/24@{gw}"

    box.sdk.restart(timeout=1)
    box.reload()
    code, out = box.exec("ip", "addr", "show", "eth1")
    assert code != 0  # the new namespace has no eth1

    proc = run_cli("attach", "--restore", box.name, env={"PCAP4PY_RUN_DIR": str(tmp_path)})
    assert proc.returncode == 0 and proc.stdout.startswith("attached: eth1"), proc.stdout + proc.stderr
    code, out = box.exec("ip", "addr", "show", "eth1")
    assert code == 0 and f"inet {ip}/24" in out and att.mac in out
    code, out = box.exec("ip", "route")
    assert f"default via {gw} dev eth1" in out
    veth.ns.ping(ip, 2)

    # a second restore (all containers) changes nothing
    proc = run_cli("attach", "--restore", env={"PCAP4PY_RUN_DIR": str(tmp_path)})
    assert proc.returncode == 0 and proc.stdout.startswith("already attached: eth1"), proc.stdout + proc.stderr

    assert detach(box.name).removed and not state.exists()  # detach forgets it
    proc = run_cli("attach", "--restore", box.name, env={"PCAP4PY_RUN_DIR": str(tmp_path)})
    assert proc.returncode == 0 and "nothing to restore" in proc.stdout
    assert box.exec("ip", "addr", "show", "eth1")[0] != 0


def test_persist_needs_a_container(lan, guest, tmp_path, monkeypatch):
    veth, gw, ip = lan
    monkeypatch.setenv("PCAP4PY_RUN_DIR", str(tmp_path))
    with pytest.raises(NotFound, match="--persist is for a container"):
        attach(veth.host_if, guest.path, f"{ip}/24", persist=True)
    assert not (tmp_path / "attach").exists()
