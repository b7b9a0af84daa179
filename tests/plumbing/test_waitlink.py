"""wait-link (pipework's --wait, also spelt attach --wait): wait inside a namespace for the interface the host attaches."""

from __future__ import annotations

import subprocess
import sys
import time

from pcap4py.image import image_args, split_wait
from tests.fixtures.cli import start_cli


def _add_eth1_up(ns) -> None:
    ns.run("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p")
    for dev in ("eth1p", "eth1"):  # a veth has a carrier once both ends are up
        ns.run("ip", "link", "set", dev, "up")


def test_wait_returns_once_eth1_appears_up(netns):
    t0 = time.monotonic()
    proc = start_cli("attach", "--wait", "-i", "eth1", "--timeout", "20", netns=netns.name)
    try:
        time.sleep(1)
        assert proc.poll() is None  # still waiting: no eth1 yet
        netns.run("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p")
        time.sleep(0.5)
        assert proc.poll() is None  # there, but down: still waiting
        for dev in ("eth1p", "eth1"):
            netns.run("ip", "link", "set", dev, "up")
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.decode().startswith("eth1 is up (after ") and 1.5 <= time.monotonic() - t0 < 10


def test_wait_timeout_is_one_line_and_nonzero(netns):
    t0 = time.monotonic()
    proc = netns.run(sys.executable, "-m", "pcap4py", "attach", "--wait", "-i", "eth1", "--timeout", "0.5",
                     check=False)
    assert proc.returncode == 3 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == ["pcap4py: eth1 did not appear (up) within 0.5 s"]
    assert time.monotonic() - t0 < 10


def test_image_entry_point_takes_pipeworks_wait_then_runs_the_rest(netns):
    """The bundled image's entry module: ``pipework --wait -i eth1 -- interfaces`` waits, then lists."""
    proc = subprocess.Popen(["ip", "netns", "exec", netns.name, sys.executable, "-m", "pcap4py.image",
                             "pipework", "--wait", "-i", "eth1", "--timeout", "20", "--", "interfaces"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1)
        assert proc.poll() is None
        _add_eth1_up(netns)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    lines = out.decode().splitlines()
    assert lines[0].startswith("eth1 is up") and any("eth1" in line for line in lines[1:]), lines


def test_image_args_for_wait():
    commands = ["attach", "capture", "sample"]
    assert image_args(["--wait", "-i", "eth2"], commands) == ["wait-link", "-i", "eth2"]
    assert image_args(["pipework", "--wait"], commands) == ["wait-link"]
    assert split_wait(["--wait", "-i", "eth1", "--", "eth1", "true"]) == (["--wait", "-i", "eth1"], ["eth1", "true"])
    assert split_wait(["eth1", "true"]) == ([], ["eth1", "true"])


def test_wait_link_is_a_command_of_its_own(netns):
    """wait-link takes only its own options; attach --wait is the same command (the old spelling)."""
    proc = netns.run(sys.executable, "-m", "pcap4py", "wait-link", "-i", "eth1", "--timeout", "0.2", check=False)
    assert proc.returncode == 3 and proc.stderr.strip() == "pcap4py: eth1 did not appear (up) within 0.2 s"
    for args in (("attach", "--wait", "--vlan", "3"), ("wait-link", "--timeout", "nan"), ("reattach", "a", "b")):
        proc = subprocess.run([sys.executable, "-m", "pcap4py", *args], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, (args, proc.stderr)
        assert proc.stderr.startswith("pcap4py: "), proc.stderr


def test_wait_link_stops_on_ctrl_c_and_sigterm(netns):
    """A wait for ever ends on SIGINT (exit 130, as every command) and SIGTERM: it changes nothing,
    so nothing defers the signal (attach --wait used to run under attach's deferral and ignore it)."""
    import signal

    for signum, code in ((signal.SIGINT, 130), (signal.SIGTERM, -signal.SIGTERM)):
        proc = subprocess.Popen([sys.executable, "-m", "pcap4py", "wait-link", "-i", "eth9"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            time.sleep(1.5)  # the interpreter is up and polling
            assert proc.poll() is None
            t0 = time.monotonic()
            proc.send_signal(signum)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == code and time.monotonic() - t0 < 2, (signum, proc.returncode)
        assert b"Traceback" not in proc.stderr.read()
