"""pcapng output reaches its file or pipe after every read round, as pcap output and tcpdump do.

A file watched while the capture runs grows; a capture killed with SIGKILL (no chance to flush at
exit) leaves every packet of the rounds before in a file tshark reads; a reader on ``-w -`` sees
packets while the capture runs, and a reader that goes away (``| head -c 100``) ends the capture.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from tests.fixtures.cli import pcap4py_cmd, start_cli, wait_listening, wait_output
from tests.sinks.test_pcapng import tshark


def _wait_packets(path, at_least: int, timeout: float = 10.0) -> int:
    """How many packets tcpdump reads in ``path`` once there are ``at_least`` (or after ``timeout``).
    Counted, not sized: the section and interface blocks may reach the file before any packet."""
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        if os.path.exists(path):
            done = subprocess.run(["tcpdump", "-n", "-r", str(path)], capture_output=True, text=True, timeout=30)
            count = len(done.stdout.splitlines())
            if count >= at_least:
                break
        time.sleep(0.1)
    return count


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def test_pcapng_file_grows_while_capturing_and_survives_sigkill(veth, tmp_path):
    path = tmp_path / "k.pcapng"
    proc = start_cli("capture", veth.host_if, "-w", str(path), "udp")
    try:
        wait_listening(proc)
        veth.send_udp(veth.host_ip, 5601, b"first", count=5)
        assert _wait_packets(path, 5) == 5, "the first packets did not reach the file while the capture ran"
        veth.send_udp(veth.host_ip, 5601, b"second", count=5)
        assert _wait_packets(path, 10) == 10, "the file did not grow with the second packets"
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        _kill(proc)
    rows = tshark(path, "frame.interface_name", "udp.dstport")
    assert rows == [[veth.host_if, "5601"]] * 10


def test_container_pcapng_grows_while_capturing(dockerlab, tmp_path):
    web = dockerlab.run("flushweb")
    path = tmp_path / "c.pcapng"
    proc = start_cli("capture", "--container", web.name, "-w", str(path), "icmp")
    try:
        err = wait_output(proc, "listening on", timeout=30)
        while err.count("listening on") < 2:
            err += wait_output(proc, "listening on", timeout=30)
        code, out = web.exec("ping", "-c", "3", "-i", "0.2", "-W", "1", "127.0.0.1")
        assert code == 0, out
        # held back up to half a second to merge the interfaces in time order, then written while
        # the link is idle
        deadline = time.monotonic() + 5
        while len(tshark(path, "frame.number")) < 6 and time.monotonic() < deadline:
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        _kill(proc)
    rows = tshark(path, "frame.interface_name", "icmp.type")
    assert sorted(rows) == [[f"{web.name}/lo", "0"]] * 3 + [[f"{web.name}/lo", "8"]] * 3


def test_pcapng_reader_on_stdout_sees_packets_while_the_capture_runs(veth):
    cap = subprocess.Popen(pcap4py_cmd("capture", veth.host_if, "-w", "-", "--pcapng", "udp"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reader = subprocess.Popen(["tshark", "-n", "-r", "-", "-c", "3", "-T", "fields", "-e", "udp.dstport"],
                              stdin=cap.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cap.stdout.close()  # tshark holds the pipe now
    try:
        wait_listening(cap)
        veth.send_udp(veth.host_ip, 5602, b"live", count=3)
        out, err = reader.communicate(timeout=20)  # before the capture ends: it has no -c
        assert reader.returncode == 0, err
        assert out.splitlines() == ["5602"] * 3
        # the reader has gone: the next packets end the capture as tcpdump's would
        deadline = time.monotonic() + 15
        while cap.poll() is None and time.monotonic() < deadline:
            veth.send_udp(veth.host_ip, 5602, b"more", count=2)
            time.sleep(0.2)
        assert cap.wait(timeout=10) == 0
    finally:
        _kill(cap)
        _kill(reader)


def test_pcapng_into_head_ends_the_capture(veth):
    shell = subprocess.Popen(
        ["sh", "-c", " ".join(pcap4py_cmd("capture", veth.host_if, "-w", "-", "--pcapng", "udp"))
         + " | head -c 100 > /dev/null; echo done"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_listening(shell)
        deadline = time.monotonic() + 15
        while shell.poll() is None and time.monotonic() < deadline:
            veth.send_udp(veth.host_ip, 5603, b"x" * 40, count=2)
            time.sleep(0.2)
        out, err = shell.communicate(timeout=10)
        assert out.strip() == "done", err
        assert "Traceback" not in err
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
            shell.wait(timeout=10)
