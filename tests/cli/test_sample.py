"""``pcap4py sample``: the kaitoy/pcap4j program, run on a veth pair without Docker.

The namespace end of the ``veth`` fixture is renamed ``eth0`` so that the wait
mode (which, like the original, always listens on eth0) has its trigger
interface inside the namespace, never on the host's uplink.
"""

from __future__ import annotations

import re
import subprocess
import time

from tests.fixtures.cli import run_cli, start_cli, wait_output
from tests.fixtures.netlab import send_udp

STATS = re.compile(r"^ps_recv: (\d+)\nps_drop: (\d+)\nps_ifdrop: (\d+)\n\Z", re.M)


def _send_until_exit(proc: subprocess.Popen, send, limit: int = 50) -> None:
    """Call ``send()`` every 0.2 s until ``proc`` exits (at most ``limit`` times)."""
    for _ in range(limit):
        if proc.poll() is not None:
            return
        send()
        time.sleep(0.2)


def test_sample_captures_count_packets_with_a_multi_word_filter(veth):
    proc = start_cli("sample", veth.host_if, "false", "udp", "and", "dst", "port", "5555",
                     env={"PCAP4PY_COUNT": "3"}, text=True)
    try:
        _send_until_exit(proc, lambda: (veth.send_udp(veth.host_ip, 5556, b"other"),
                                        veth.send_udp(veth.host_ip, 5555, b"kaitoy")))
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert f"{veth.host_if} (" in out and f"IP address: {veth.host_ip}\n" in out
    blocks = out.split("[Ethernet Header")[1:]
    assert len(blocks) == 3
    assert all("Destination port: 5555" in b and "Source address: /" + veth.peer_ip in b for b in blocks)
    assert STATS.search(out), out


def test_sample_wait_mode_captures_only_after_the_ping(veth):
    ns, peer = veth.ns, veth.peer_if
    ns.run("ip", "link", "set", peer, "down")
    ns.run("ip", "link", "set", peer, "name", "eth0")
    ns.run("ip", "link", "set", "eth0", "up")
    proc = start_cli("sample", "eth0", "true", "udp", "port", "5555", netns=ns.name,
                     env={"PCAP4PY_COUNT": "2", "PCAP4PY_WAIT_TIMEOUT": "60"}, text=True)
    try:
        seen = wait_output(proc, "waiting for a ping on eth0", stream="stdout", timeout=30)
        # before the trigger: datagrams arrive but are not captured
        send_udp(veth.peer_ip, 5555, b"early", count=3, src_port=0)
        time.sleep(0.5)
        assert proc.poll() is None
        assert subprocess.run(["ping", "-n", "-q", "-c", "1", "-W", "2", veth.peer_ip],
                              capture_output=True).returncode == 0
        _send_until_exit(proc, lambda: send_udp(veth.peer_ip, 5555, b"late!", src_port=0))
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    out = seen + out
    assert proc.returncode == 0, err
    assert f"triggered by an echo request from {veth.host_ip} on eth0" in out
    blocks = out.split("[Ethernet Header")[1:]
    assert len(blocks) == 2
    early, late = b"early".hex(" "), b"late!".hex(" ")
    assert all(late in b and early not in b for b in blocks), out
    assert STATS.search(out), out


def test_sample_errors_are_one_clear_line(veth):
    bad_iface = run_cli("sample", "p4nosuch0", "false")
    assert bad_iface.returncode != 0
    assert "pcap4py: no such interface: 'p4nosuch0'" in bad_iface.stderr
    bad_filter = run_cli("sample", veth.host_if, "true", "tcp", "port", "nope")
    assert bad_filter.returncode != 0
    assert "pcap4py: bad filter expression 'tcp port nope' at column 10" in bad_filter.stderr
    assert "waiting" not in bad_filter.stdout


def test_pcap4j_is_warmed_up_on_a_java_thread_of_its_own():
    """The sample starts Pcap4J's first parse (~80 ms of class initialisation) on a Java daemon
    thread as soon as the JVM is up, so it overlaps opening the handle: the thread exists, ends on
    its own, and its made-up frame parses and renders as an ICMP echo request."""
    from pcap4py.engine import jvm, parse

    thread = parse.warm_up()
    assert parse.warm_up() is thread  # once per process
    assert str(thread.getName()) == "pcap4py-pcap4j-warm-up" and thread.isDaemon()
    thread.join(30_000)
    assert not thread.isAlive()
    assert int(jvm.jclass("pcap4py.helper.Pcap4jWarmUp").run()) > 0
    rendered = parse.render(parse.parse(bytes(jvm.jclass("pcap4py.helper.Pcap4jWarmUp").frame()), 1))
    assert "Type: 8 (Echo)" in rendered and "Source address: /198.18.0.1" in rendered
