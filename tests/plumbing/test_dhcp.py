"""attach ... dhcp: a lease from a real dnsmasq in the router namespace of the fake LAN.

The LAN is the ``veth`` fixture: its peer, in the router namespace, has .2 of
198.18.N.0/24 and runs ``dnsmasq`` (Debian's dnsmasq-base: DHCP only, no DNS)
handing out .100-.150, with itself as the router.  The attach target is the
``guest`` namespace of tests/plumbing/test_attach.py (eth0 and a default route of its own).
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import signal
import subprocess
import time

import pytest

from pcap4py.container.plumbing import attach, detach
from pcap4py.errors import AddressError, DhcpError
from pcap4py.plumbing.address import parse_address
from tests.fixtures.cli import run_cli, start_cli, wait_output
from tests.plumbing.test_attach import guest, host_snapshot, ns_snapshot  # noqa: F401 - fixtures

pytestmark = pytest.mark.skipif(shutil.which("dnsmasq") is None, reason="needs dnsmasq (dnsmasq-base)")

FIRST, LAST = 100, 150


class Dnsmasq:
    """dnsmasq serving DHCP on the router end of the veth lab; its lease file under tmp_path."""

    def __init__(self, veth, tmp_path):
        self.veth, self.leasefile = veth, tmp_path / "dnsmasq.leases"
        self.log = open(tmp_path / "dnsmasq.log", "w+")
        self.proc = veth.ns.popen(
            "dnsmasq", "--no-daemon", "--port=0", f"--interface={veth.peer_if}", "--bind-interfaces",
            f"--dhcp-range={veth.ip(FIRST)},{veth.ip(LAST)},255.255.255.0,1h", f"--dhcp-leasefile={self.leasefile}",
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while "DHCP, sockets bound" not in self._log_text():
            assert self.proc.poll() is None and time.monotonic() < deadline, f"dnsmasq did not start: {self._log_text()}"
            time.sleep(0.05)

    def _log_text(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def leases(self) -> list[list[str]]:
        """The lease file's lines: expiry, MAC, IP, hostname, client id."""
        text = self.leasefile.read_text() if self.leasefile.exists() else ""
        return [line.split() for line in text.splitlines() if line.strip()]

    def wait_leases(self, count: int, timeout: float = 5) -> list[list[str]]:
        deadline = time.monotonic() + timeout
        while len(self.leases()) != count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.leases()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)
        self.log.close()


@pytest.fixture
def dnsmasq(veth, tmp_path):
    server = Dnsmasq(veth, tmp_path)
    try:
        yield server
    finally:
        server.stop()


def _eth1_ipv4(guest) -> list[dict]:
    out = json.loads(guest.ns.run("ip", "-j", "-4", "addr", "show", "dev", "eth1").stdout)
    return [a for a in out[0]["addr_info"]] if out else []


def _in_range(veth, ip: str) -> bool:
    return ipaddress.ip_address(veth.ip(FIRST)) <= ipaddress.ip_address(ip) <= ipaddress.ip_address(veth.ip(LAST))


def test_parse_dhcp():
    assert parse_address("dhcp").dhcp and parse_address("dhcp").hostname is None
    assert parse_address("dhcp:web-1").hostname == "web-1" and str(parse_address("dhcp:web-1")) == "dhcp:web-1"
    with pytest.raises(AddressError, match="bad DHCP hostname"):
        parse_address("dhcp:no spaces")
    with pytest.raises(AddressError, match="no @GATEWAY"):
        parse_address("dhcp", "198.18.1.1")


def test_attach_dhcp_lease_address_route_pings_and_release_on_detach(veth, guest, dnsmasq):
    before = ns_snapshot(guest.ns.name)
    att = attach(veth.host_if, guest.path, "dhcp:p4guest", mac="02:00:c6:12:00:64")

    # the leased address is on eth1, in dnsmasq's range; the default route goes via the router (dnsmasq)
    addrs = _eth1_ipv4(guest)
    assert len(addrs) == 1 and addrs[0]["prefixlen"] == 24 and _in_range(veth, addrs[0]["local"])
    assert str(att.address) == f"{addrs[0]['local']}/24" and str(att.gateway) == veth.peer_ip
    assert att.lease is not None and att.lease.server_id == veth.peer_ip and att.lease.lease_time == 3600
    assert guest.default_route() .startswith(f"default via {veth.peer_ip} dev eth1")
    # dnsmasq's lease file names the MAC, the address and the hostname asked for
    leases = dnsmasq.wait_leases(1)
    assert [lease[1:4] for lease in leases] == [["02:00:c6:12:00:64", addrs[0]["local"], "p4guest"]]
    # pings both ways
    guest.ns.ping(veth.peer_ip)
    veth.ns.ping(addrs[0]["local"])
    # the lease is in the interface's record
    alias = json.loads(guest.ns.run("ip", "-j", "link", "show", "eth1").stdout)[0]["ifalias"]
    assert '"dhcp":["%s",' % veth.peer_ip in alias

    # the same attach again: recognised, nothing asked of the server
    again = attach(veth.host_if, guest.path, "dhcp:p4guest")
    assert again.already and again.address == att.address and again.gateway == att.gateway

    det = detach(guest.path)
    assert det.removed and det.lease_released and len(det.restored_routes) == 1
    assert dnsmasq.wait_leases(0) == []  # dnsmasq got the DHCPRELEASE
    assert ns_snapshot(guest.ns.name) == before


def test_attach_dhcp_without_server_is_one_error_and_leaves_nothing(veth, guest):
    before_ns, before_host = ns_snapshot(guest.ns.name), host_snapshot(veth.host_if)
    t0 = time.monotonic()
    with pytest.raises(DhcpError, match=r"^no DHCP lease for eth1 within 2 s"):
        attach(veth.host_if, guest.path, "dhcp", dhcp_timeout=2)
    assert time.monotonic() - t0 < 10
    assert ns_snapshot(guest.ns.name) == before_ns and host_snapshot(veth.host_if) == before_host

    proc = run_cli("attach", veth.host_if, guest.path, "dhcp", "--dhcp-timeout", "1")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("pcap4py: no DHCP lease for eth1 within 1 s"), lines
    assert ns_snapshot(guest.ns.name) == before_ns and host_snapshot(veth.host_if) == before_host


def test_cli_attach_dhcp_keep_renews_until_sigterm_then_leaves_the_lease(veth, guest, tmp_path):
    # a 2-minute lease (dnsmasq's minimum): T1 is at 60 s, too long for a test; the renewal is
    # shown by the INIT-REBOOT request --keep sends at once for the recorded address
    server = Dnsmasq(veth, tmp_path)
    try:
        proc = start_cli("attach", veth.host_if, guest.path, "dhcp", "--keep")
        try:
            out = wait_output(proc, "attached:", stream="stdout", timeout=30)
            ip = out.split(") ")[1].split("/")[0]
            assert _in_range(veth, ip)
            deadline = time.monotonic() + 15
            while server._log_text().count(f"DHCPACK({veth.peer_if}) {ip}") < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert server._log_text().count(f"DHCPACK({veth.peer_if}) {ip}") == 2, server._log_text()
            assert proc.poll() is None  # still in the foreground
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0, proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        # default: the interface and the lease stay; detach releases
        assert [a["local"] for a in _eth1_ipv4(guest)] == [ip]
        assert len(server.wait_leases(1)) == 1
        assert "DHCPRELEASE" not in server._log_text()
        proc = run_cli("detach", guest.path)
        assert proc.returncode == 0 and "DHCP lease released" in proc.stdout, proc.stderr
        assert server.wait_leases(0) == []
    finally:
        server.stop()


def test_keep_refuses_an_address_that_is_not_dhcp(veth, guest):
    proc = run_cli("attach", veth.host_if, guest.path, f"{veth.ip(77)}/24", "--keep")
    assert proc.returncode != 0 and "--keep and --release-on-exit are for a dhcp address" in proc.stderr
    assert not guest.ns.run("ip", "link", "show", "eth1", check=False).returncode == 0


@pytest.mark.parametrize("step", ["lease", "record", "address", "gateway"])
def test_a_failure_after_the_lease_rolls_back_and_releases_it(veth, guest, dnsmasq, step):
    from pcap4py.plumbing.transaction import HOOKS

    before_ns, before_host = ns_snapshot(guest.ns.name), host_snapshot(veth.host_if)

    def fail(name: str) -> None:
        if name == step:
            raise RuntimeError(f"injected after {name}")

    HOOKS.append(fail)
    try:
        with pytest.raises(RuntimeError, match=f"injected after {step}"):
            attach(veth.host_if, guest.path, "dhcp", mac="02:00:c6:12:00:65")
    finally:
        HOOKS.remove(fail)
    assert "DHCPACK" in dnsmasq._log_text() and "DHCPRELEASE" in dnsmasq._log_text()
    assert dnsmasq.wait_leases(0) == []  # the undo of the lease step released it
    assert ns_snapshot(guest.ns.name) == before_ns and host_snapshot(veth.host_if) == before_host


@pytest.mark.docker
def test_persisted_dhcp_attach_of_a_container_comes_back_with_the_same_lease(veth, dnsmasq, dockerlab, tmp_path,
                                                                          monkeypatch):
    from pcap4py.container.plumbing import restore

    monkeypatch.setenv("PCAP4PY_RUN_DIR", str(tmp_path / "run"))
    box = dockerlab.run("dhcp")
    att = attach(veth.host_if, box.name, "dhcp", persist=True)
    assert _in_range(veth, str(att.address.ip))
    box.sdk.restart(timeout=1)
    box.reload()
    assert box.exec("ip", "addr", "show", "eth1")[0] != 0

    [done] = restore(box.name)
    assert done.failed == 0 and done.lines[0].startswith("attached: eth1"), done.lines
    code, out = box.exec("ip", "addr", "show", "eth1")
    assert code == 0 and f"inet {att.address}" in out and att.mac in out  # same MAC, same lease
    assert f"default via {veth.peer_ip} dev eth1" in box.exec("ip", "route")[1]
    veth.ns.ping(str(att.address.ip))
    assert [lease[1:3] for lease in dnsmasq.wait_leases(1)] == [[att.mac, str(att.address.ip)]]
    assert restore(box.name)[0].lines[0].startswith("already attached: eth1")

    assert detach(box.name).lease_released
    assert dnsmasq.wait_leases(0) == []
