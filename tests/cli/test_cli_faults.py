"""Faults at the edges of the command line: huge filters, closed pipes, full disks, odd signals,
bad numbers, a broken Java; each in a real process, with real signals and real files."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.cli import pcap4py_cmd, run_cli, start_cli, wait_listening, wait_output
from tests.fixtures.netlab import send_udp, sh
from tests.cli.test_errors import assert_one_line_error

PORT = 5571  # UDP port of the test traffic on loopback (nobody listens; the capture sees it)
HSPERF = Path("/tmp/hsperfdata_root")


def tcpdump_read(path) -> subprocess.CompletedProcess:
    return subprocess.run(["tcpdump", "-n", "-r", str(path)], capture_output=True, text=True, timeout=60)


def write_pcap(path, count: int, size: int = 200) -> None:
    """A classic pcap of ``count`` Ethernet/IPv4/UDP frames of ``size`` bytes, made here with struct."""
    udp_len = size - 14 - 20
    frame = (b"\x02\0\0\0\0\x01" + b"\x02\0\0\0\0\x02" + b"\x08\x00"
             + struct.pack("!BBHHHBBH4s4s", 0x45, 0, size - 14, 1, 0, 64, 17, 0,
                           bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2]))
             + struct.pack("!HHHH", 40000, PORT, udp_len, 0) + b"x" * (udp_len - 8))
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for i in range(count):
            f.write(struct.pack("<IIII", 1_700_000_000 + i, 0, size, size) + frame)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


# --- issue 10 row 3: a long invalid filter -------------------------------------------------------
def test_long_invalid_filter_is_answered_at_once():
    terms = " or ".join(f"host 198.18.{i // 250}.{i % 250 + 1}" for i in range(500))
    expression = terms + " and and udp"
    assert len(expression) > 10_000
    started = time.monotonic()
    proc = run_cli("capture", "lo", "-c", "1", expression, timeout=120)
    elapsed = time.monotonic() - started
    column = expression.index(" and and") + len(" and ") + 1
    assert_one_line_error(proc, "bad filter expression", f"at column {column}:", "syntax error")
    assert elapsed < 10, f"{elapsed:.1f} s to report a bad filter"


# --- issue 10 row 4: -w - into a pipe whose reader has gone -------------------------------------
def test_dash_w_into_a_closed_pipe_stops_with_stats():
    proc = start_cli("capture", "lo", "-w", "-", f"udp port {PORT}")
    try:
        wait_listening(proc)
        send_udp("127.0.0.1", PORT, b"p" * 1000, count=200)
        head = os.read(proc.stdout.fileno(), 100)  # what `head -c 100` does, then it goes away
        assert head[:4] == struct.pack("<I", 0xA1B2C3D4)
        proc.stdout.close()
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            send_udp("127.0.0.1", PORT, b"p" * 1000, count=50)
            time.sleep(0.2)
        assert proc.poll() is not None, "the capture kept writing into a closed pipe"
        err = proc.stderr.read().decode()
        assert proc.returncode == 0, err
        assert "packets captured" in err and "Traceback" not in err
    finally:
        stop(proc)


# --- issue 10 row 5: SIGHUP stops cleanly, SIGUSR1 prints the stats ---------------------------
def test_sighup_stops_cleanly_with_a_valid_file(tmp_path):
    out = tmp_path / "hup.pcap"
    proc = start_cli("capture", "lo", "-w", str(out), f"udp port {PORT}")
    try:
        wait_listening(proc)
        send_udp("127.0.0.1", PORT, b"h" * 300, count=500)
        time.sleep(0.5)
        proc.send_signal(signal.SIGHUP)
        _, err = proc.communicate(timeout=30)
        err = err.decode()
        assert proc.returncode == 0, err
        assert "500 packets captured" in err
        read = tcpdump_read(out)
        assert read.returncode == 0 and "truncated" not in read.stderr, read.stderr
        assert len(read.stdout.splitlines()) == 500
    finally:
        stop(proc)


def test_sigusr1_prints_the_stats_and_the_capture_goes_on():
    proc = start_cli("capture", "lo", f"udp port {PORT}")
    try:
        wait_listening(proc)
        send_udp("127.0.0.1", PORT, b"u", count=3)
        time.sleep(0.5)
        proc.send_signal(signal.SIGUSR1)
        wait_output(proc, "packets dropped by interface", timeout=10)
        time.sleep(0.3)
        assert proc.poll() is None, "SIGUSR1 ended the capture"
        send_udp("127.0.0.1", PORT, b"v", count=2)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert len(out.decode().splitlines()) == 5
        assert "5 packets captured" in err.decode()
    finally:
        stop(proc)


# --- issue 10 row 6: write errors ----------------------------------------------------------------
def test_writing_to_dev_full_is_an_error(tmp_path):
    src = tmp_path / "in.pcap"
    write_pcap(src, 1000)
    proc = run_cli("read", str(src), "-w", "/dev/full")
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("pcap4py: cannot write /dev/full: No space left on device"), proc.stderr
    assert "0 packets written" in last and "Traceback" not in proc.stderr


def test_live_capture_to_dev_full_is_an_error():
    proc = start_cli("capture", "lo", "-w", "/dev/full", f"udp port {PORT}")
    try:
        wait_listening(proc)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            send_udp("127.0.0.1", PORT, b"f" * 1000, count=50)
        _, err = proc.communicate(timeout=30)
        err = err.decode()
        assert proc.returncode == 1, err
        assert "pcap4py: cannot write /dev/full: No space left on device" in err
    finally:
        stop(proc)


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    sh("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt))
    try:
        yield mnt
    finally:
        sh("umount", str(mnt), check=False)


def test_full_filesystem_leaves_a_valid_file_and_says_how_much(tmp_path, small_fs):
    src = tmp_path / "in.pcap"
    write_pcap(src, 3000)  # 648 kB: more than the 256 kB file system holds
    out = small_fs / "out.pcap"
    proc = run_cli("read", str(src), "-w", str(out))
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"pcap4py: cannot write {out}: No space left on device"), proc.stderr
    written = int(last.rsplit("(", 1)[1].split()[0])
    assert 0 < written < 3000
    read = tcpdump_read(out)
    assert read.returncode == 0 and "truncated" not in read.stderr, read.stderr
    assert len(read.stdout.splitlines()) == written
    assert out.stat().st_size == 24 + written * (16 + 200)


# --- issue 10 rows 7, 8: bad numbers and an empty file name -------------------------------------
@pytest.mark.parametrize("args", [("-B", "99999999999"), ("--duration", "nan"), ("--duration", "inf"),
                                  ("--wait-timeout", "nan"), ("--wait-timeout", "inf"), ("-w", ""),
                                  ("-Z", "")])
def test_bad_option_values_are_usage_errors(args):
    proc = run_cli("capture", "lo", "-c", "1", *args, "icmp")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("pcap4py: Invalid value for") and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert args[0] in proc.stderr


def test_empty_write_path_on_read_is_a_usage_error(tmp_path):
    src = tmp_path / "in.pcap"
    write_pcap(src, 1)
    proc = run_cli("read", str(src), "-w", "")
    assert proc.returncode == 2 and "Invalid value for '-w'" in proc.stderr, proc.stderr
    assert proc.stdout == ""


def test_empty_user_with_a_container_is_a_usage_error():
    proc = run_cli("capture", "--container", "web", "-Z", "", "icmp")
    assert proc.returncode == 2 and "Invalid value for '-Z'" in proc.stderr, proc.stderr


# --- issue 10 row 13: an unknown --wait-iface -----------------------------------------------------
def test_unknown_wait_iface_is_reported_before_any_waiting():
    proc = run_cli("capture", "lo", "--wait-ping", "--wait-iface", "nope0", "--wait-timeout", "5")
    assert_one_line_error(proc, "no such interface: 'nope0'")
    assert "waiting" not in proc.stderr


# --- issue 10 row 14: no JVM perf data file left behind ------------------------------------------
def test_sigkill_leaves_no_hsperfdata_file():
    proc = start_cli("capture", "lo", "icmp")
    try:
        wait_listening(proc)
        assert not (HSPERF / str(proc.pid)).exists()  # the JVM keeps no perf data file at all
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert not (HSPERF / str(proc.pid)).exists()
    finally:
        stop(proc)


# --- issue 16 row 5: a broken JVM, a bad JVM option ------------------------------------------------
def test_broken_java_home_names_the_jvm(tmp_path):
    libjvm = tmp_path / "jdk" / "lib" / "server" / "libjvm.so"
    libjvm.parent.mkdir(parents=True)
    libjvm.write_bytes(b"\x7fELF not really a JVM\n")
    proc = run_cli("capture", "lo", "-c", "1", env={"JAVA_HOME": str(tmp_path / "jdk")})
    assert_one_line_error(proc, str(libjvm))
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_bad_jvm_option_names_the_option():
    proc = run_cli("capture", "lo", "-c", "1", env={"PCAP4PY_JVM_OPTIONS": "--bogus-option"})
    assert_one_line_error(proc, "--bogus-option")


@pytest.mark.parametrize("option, complaint", [
    ("-Xmx2m", "Initial heap size set to a larger value than the maximum heap size"),
    ("-Xss1k", "The Java thread stack size specified is too small"),
])
def test_an_option_the_jvm_dies_of_is_one_pcap4py_line(tmp_path, option, complaint):
    """Refused during its initialisation, the JVM ends the process itself (its lines on stdout):
    the options are tried first, and the refusal is one line."""
    path = tmp_path / "v.pcap"
    write_pcap(path, 6)
    proc = run_cli("read", str(path), env={"PCAP4PY_JVM_OPTIONS": option})
    assert_one_line_error(proc, complaint)
    assert f"(options from PCAP4PY_JVM_OPTIONS: {option})" in proc.stderr
    assert proc.stdout == ""


def test_jvm_start_errors_are_pcap4py_errors(tmp_path):
    code = ("import pcap4py\ntry:\n    pcap4py.interfaces()\nexcept pcap4py.JvmStartError as e:\n"
            "    print(isinstance(e, pcap4py.Pcap4pyError), e.__cause__ is not None, e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PCAP4PY_JVM_OPTIONS": "--bogus-option"})
    assert proc.stdout.startswith("True True "), proc.stdout + proc.stderr
    assert "--bogus-option" in proc.stdout


# --- issue 16 row 6: Ctrl-C while starting ----------------------------------------------------------
@pytest.fixture(scope="module")
def interpreter_start() -> float:
    """Seconds the bare interpreter takes to reach its first line (site and its .pth files included):
    a Ctrl-C before that is the interpreter's own business, not pcap4py's."""
    def once() -> float:
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=30)
        return time.monotonic() - started

    return max(once() for _ in range(3))


@pytest.mark.parametrize("delay", [0.0, 0.03, 0.06, 0.1, 0.15, 0.25, 0.4])
def test_sigint_during_start_up_exits_130_quietly(delay, interpreter_start):
    proc = subprocess.Popen(pcap4py_cmd("capture", "lo", "-c", "1", "icmp"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(interpreter_start + delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        err = err.decode()
        if "init_import_site" in err:  # on a busy machine the signal can still land in site's imports
            assert "pcap4py" not in err, err
            return
        if proc.returncode == -signal.SIGINT and not err:
            return  # ... or before the interpreter has a SIGINT handler at all: killed, nothing run
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        if "listening on" in err:  # the capture had begun: a clean stop
            assert proc.returncode == 0, err
        else:
            assert proc.returncode == 130, err
    finally:
        stop(proc)


def test_pipeline_into_head_ends():
    """The shell pipeline of the report itself: `capture -w - | head -c 100` ends once head has its bytes."""
    line = " ".join(pcap4py_cmd("capture", "lo", "-w", "-", "udp", "port", str(PORT))) + " | head -c 100 | wc -c"
    proc = subprocess.Popen(["bash", "-c", line], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        wait_listening(proc)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            send_udp("127.0.0.1", PORT, b"q" * 1000, count=20)
            time.sleep(0.1)
        out, err = proc.communicate(timeout=30)
        assert out.decode().strip() == "100", err
        assert "packets captured" in err.decode() and "Traceback" not in err.decode()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole pipeline, not just bash
        proc.wait(timeout=30)


@pytest.mark.parametrize("suffix", ["pcap", "pcapng"])
def test_an_interface_that_vanishes_keeps_its_last_exchange(veth, tmp_path, suffix):
    # The kernel hands libpcap its ring's partly filled block only when the read timeout (100 ms)
    # retires it, and libpcap reports the vanished interface at once: tcpdump loses the exchange.
    out = tmp_path / f"last.{suffix}"
    proc = start_cli("capture", veth.host_if, "-w", str(out), "icmp")
    try:
        wait_listening(proc)
        veth.ns.ping(veth.host_ip)
        sh("ip", "link", "del", veth.host_if)
        _, err = proc.communicate(timeout=30)
    finally:
        stop(proc)
    assert proc.returncode == 1 and err.decode().strip().splitlines()[-1] == \
        f"pcap4py: reading from {veth.host_if} failed: The interface disappeared", err
    lines = tcpdump_read(out).stdout.splitlines()
    assert [line.split(": ", 1)[1].split(",")[0] for line in lines] == ["ICMP echo request", "ICMP echo reply"], lines
