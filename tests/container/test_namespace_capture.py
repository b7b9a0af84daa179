"""``capture --pid PID`` and ``capture --netns PATH|NAME``: every interface of a namespace, as ``--container``.

Namespaces and veth pairs made by the test (tests/fixtures/netlab.py); files read back by tshark
and tcpdump.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.fixtures.cli import run_cli
from tests.fixtures.netlab import sh
from tests.container.test_container_capture import CaptureProcess
from tests.sinks.test_pcapng import tcpdump_count, tshark


def _requests(path) -> list[list[str]]:
    return tshark(path, "frame.interface_name", "frame.interface_description", "frame.packet_flags_direction",
                  display_filter="icmp.type == 8")


def _direction(flags: str) -> int:
    """pcapng's direction bits (1 inbound, 2 outbound) of tshark's ``frame.packet_flags_direction``."""
    return int(flags, 0) & 3


def test_netns_by_name_captures_every_interface_named_after_it(veth, tmp_path):
    out = tmp_path / "ns.pcapng"
    proc = CaptureProcess("--netns", veth.ns.name, "-w", str(out), handles=2)
    assert veth.ns.ping(veth.host_ip, 3).returncode == 0  # sent from inside: Out on its veth
    assert veth.ns.ping("127.0.0.1", 1).returncode == 0   # and on its loopback
    _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    rows = _requests(out)
    mine = [r for r in rows if r[0] == f"{veth.ns.name}/{veth.peer_if}"]
    assert len(mine) == 3, rows
    assert all(_direction(r[2]) == 2 for r in mine), mine  # outbound, from the namespace's point of view
    assert f"network namespace {veth.ns.name}" in mine[0][1]
    assert [r for r in rows if r[0] == f"{veth.ns.name}/lo"]
    assert tcpdump_count(out) >= 4


def test_netns_by_path_and_via_veth_captures_the_host_peer(veth, tmp_path):
    out = tmp_path / "veth.pcap"
    proc = CaptureProcess("--netns", veth.ns.path, "--via", "veth", "-w", str(out), "icmp", handles=1)
    assert veth.ns.ping(veth.host_ip, 2).returncode == 0
    _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    assert f"listening on {veth.host_if}" in err
    text = subprocess.run(["tcpdump", "-n", "-r", str(out)], capture_output=True, text=True, timeout=30).stdout
    assert text.count(f"{veth.peer_ip} > {veth.host_ip}: ICMP echo request") == 2, text


@pytest.fixture
def held_by_a_process(veth):
    """A namespace that only a process holds (``unshare --net``), with the lab's peer moved into it."""
    proc = subprocess.Popen(["unshare", "--net", "sleep", "60"])
    try:
        time.sleep(0.3)
        veth.ns.run("ip", "link", "set", veth.peer_if, "netns", str(proc.pid))
        for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", f"{veth.peer_ip}/24", "dev", veth.peer_if],
                    ["ip", "link", "set", veth.peer_if, "up"]):
            sh("nsenter", "-t", str(proc.pid), "-n", *cmd)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_pid_captures_its_namespace_and_ends_cleanly_when_the_process_exits(veth, held_by_a_process, tmp_path):
    pid = held_by_a_process.pid
    out = tmp_path / "pid.pcapng"
    proc = CaptureProcess("--pid", str(pid), "-w", str(out), handles=2)
    ping = sh("ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", "-w", "5", veth.peer_ip, check=False)
    assert ping.returncode == 0, ping.stdout
    time.sleep(0.5)
    held_by_a_process.kill()  # the namespace dies with its last process, its interfaces with it
    held_by_a_process.wait()
    try:
        proc.proc.wait(timeout=30)
    finally:
        _, err = proc.stop(linger=0)
    assert proc.proc.returncode == 0, err
    assert f"pcap4py: process {pid} exited: capture ended" in err, err
    rows = _requests(out)
    assert len([r for r in rows if r[0] == f"pid{pid}/{veth.peer_if}" and _direction(r[2]) == 1]) == 3, rows


@pytest.mark.parametrize("args, words", [
    (("--pid", "999999999"), "no process 999999999"),
    (("--netns", "p4t-no-such-namespace"), "/run/netns/p4t-no-such-namespace"),
    (("--netns", "/proc/self/ns/net"), "own network namespace"),
])
def test_bad_namespaces_are_one_line(args, words):
    res = run_cli("capture", *args, "-c", "1")
    lines = res.stderr.strip().splitlines()
    assert res.returncode != 0 and len(lines) == 1, res.stderr
    assert lines[0].startswith("pcap4py: ") and words in lines[0], lines


@pytest.mark.parametrize("args", [("--pid", "1", "--netns", "x"), ("--pid", "1", "--container", "x"),
                                  ("--netns", "x", "-i", "eth0")])
def test_namespace_options_exclude_the_others(args):
    res = run_cli("capture", *args, "-c", "1")
    assert res.returncode == 2 and res.stderr.startswith("pcap4py: ") and len(res.stderr.splitlines()) == 1, res.stderr
