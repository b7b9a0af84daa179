"""A captured container that stops ends the capture cleanly (issue 15, rows 3 and 4).

In every mode (netns, veth, bridge) the capture notices the container stopping, says so in one
line on stderr, prints its counters and leaves a complete file (pcap and pcapng), exit 0.  A read
error that does not come from a container going away (an interface deleted under a plain
``capture IFACE``, a running container's veth deleted) still fails the capture.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pcap4py.container import Container, get_container
from pcap4py.container.capture import open_container
from tests.fixtures.cli import start_cli, wait_listening
from tests.fixtures.dockerlab import INDEX_HTML
from tests.fixtures.netlab import sh

pytestmark = pytest.mark.docker

END_WITHIN = 15.0  # seconds from the container's stop to the capture's exit
HANDLES = {"netns": 2, "veth": 1, "bridge": 1}  # "listening on" lines per mode (netns: eth0 and lo)


def _exchange(web, client) -> None:
    """client fetches the page from web and pings it: traffic on every mode's interface."""
    out = client.fetch(f"http://{web.ip()}/")
    assert out.encode() == INDEX_HTML, out
    code, out = client.exec("ping", "-c", "2", "-i", "0.2", "-W", "1", web.ip())
    assert code == 0, out


def _wait_exit(proc: subprocess.Popen, timeout: float) -> tuple[int | None, str]:
    """The exit status within ``timeout`` (None if it still runs: it is then killed) and stderr."""
    try:
        proc.wait(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        code = None
        proc.kill()
        proc.wait(timeout=30)
    return code, proc.stderr.read().decode(errors="replace")


def _file_packets(path: Path) -> int:
    """Packets in ``path`` as tshark reads it (which fails on a cut or malformed file)."""
    res = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "cut short" not in res.stderr and "appears to be damaged" not in res.stderr, \
        res.stderr
    return len(res.stdout.split())


def _tcpdump_packets(path: Path, expression: str = "") -> int:
    res = subprocess.run(["tcpdump", "-n", "-r", str(path), *expression.split()], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return len(res.stdout.splitlines())


@pytest.mark.parametrize("via,suffix", [("netns", "pcap"), ("netns", "pcapng"), ("veth", "pcap"),
                                        ("bridge", "pcap"), ("bridge", "pcapng")])
def test_cli_capture_ends_cleanly_when_the_container_stops(dockerlab, tmp_path, via, suffix):
    web, client = dockerlab.httpd(), dockerlab.run("client")
    out = tmp_path / f"web.{suffix}"
    proc = start_cli("capture", "--container", web.name, "--via", via, "-w", str(out))
    try:
        seen = wait_listening(proc)
        deadline = time.monotonic() + 30
        while seen.count("listening on") < HANDLES[via] and time.monotonic() < deadline:
            seen += wait_listening(proc)
        _exchange(web, client)
        time.sleep(0.5)  # the packets in flight reach the capture
        web.sdk.kill()  # httpd as PID 1 ignores SIGTERM: a kill is the quick, certain stop (exit 137)
        code, err = _wait_exit(proc, END_WITHIN)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    err = seen + err
    assert code == 0, f"exit status {code} (None: still capturing {END_WITHIN}s after the stop): {err}"
    stopped = [l for l in err.splitlines() if l.startswith("pcap4py:") and not l.startswith("pcap4py: warning:")]
    assert stopped == [f"pcap4py: container {web.name} stopped (exit code 137): capture ended"], err
    captured = int(re.search(r"^(\d+) packets captured$", err, re.M).group(1))
    assert re.search(r"^\d+ packets received by filter$", err, re.M), err
    assert re.search(r"^\d+ packets dropped by kernel$", err, re.M), err
    assert captured >= 10, err  # the TCP exchange and the two pings, at least
    assert _file_packets(out) == captured
    if suffix == "pcap":  # libpcap reads it too, with every packet of the exchange
        assert _tcpdump_packets(out) == captured
        assert _tcpdump_packets(out, "icmp[icmptype] == icmp-echo") == 2


def test_api_iteration_stops_cleanly_when_the_container_stops(dockerlab):
    web, client = dockerlab.httpd(), dockerlab.run("client")
    before = set(threading.enumerate())
    cap = open_container(web.name, via="netns")
    safety = threading.Timer(60, cap.stop)  # bounds the loop if the stop is never noticed
    safety.start()
    try:
        _exchange(web, client)
        killer = threading.Timer(0.5, web.sdk.kill)
        killer.start()
        started = time.monotonic()
        pkts = list(cap)
        took = time.monotonic() - started
        killer.join()
        assert cap.stop_reason == f"container {web.name} stopped (exit code 137)"
        assert took < END_WITHIN
        assert any(INDEX_HTML in p.payload for p in pkts)
        assert cap.stats().captured == len(pkts)
    finally:
        safety.cancel()
        cap.close()
    # the watcher of the container ended with the capture
    left = [t for t in set(threading.enumerate()) - before if t.is_alive() and t is not safety]
    assert left == [], left


def test_a_stop_by_the_user_has_no_container_reason(dockerlab):
    web = dockerlab.httpd()
    cap = open_container(web.name, via="bridge")
    try:
        threading.Timer(0.3, cap.stop).start()
        list(cap)
        assert cap.stop_reason is None
    finally:
        cap.close()
    assert web.reload().sdk.status == "running"


def test_a_deleted_veth_of_a_running_container_is_still_an_error(dockerlab):
    """Only the container's going away ends a capture quietly: its veth deleted under it is an error."""
    web = dockerlab.httpd()
    peer = get_container(web.name).interface("eth0").host_peer
    proc = start_cli("capture", "--container", web.name, "--via", "veth", "-w", "/dev/null")
    try:
        seen = wait_listening(proc)
        sh("ip", "link", "del", peer)
        code, err = _wait_exit(proc, 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert code == 1, seen + err
    assert f"pcap4py: reading from {peer} failed" in err, err
    assert "stopped" not in err
    assert web.reload().sdk.status == "running"


def test_an_interface_deleted_under_a_plain_capture_is_an_error(tmp_path):
    """No container involved: a veth of the test's own deleted under ``capture IFACE`` fails it."""
    name = f"p4g{int(time.time() * 1000) % 100000}"
    sh("ip", "link", "add", name, "type", "veth", "peer", "name", f"{name}p")
    try:
        sh("ip", "link", "set", name, "up")
        sh("ip", "link", "set", f"{name}p", "up")
        proc = start_cli("capture", name, "-w", str(tmp_path / "x.pcap"))
        try:
            wait_listening(proc)
            sh("ip", "link", "del", name)
            code, err = _wait_exit(proc, 30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    finally:
        sh("ip", "link", "del", name, check=False)
    assert code == 1, err
    assert f"pcap4py: reading from {name} failed" in err, err
    assert "packets captured" not in err
