"""Every bad input gives one clear line naming the problem and a non-zero exit."""

from __future__ import annotations

import os
import shutil

import pytest

import pcap4py

from tests.fixtures.cli import pcap4py_cmd, run_cli


def assert_one_line_error(proc, *needles, code=None):
    assert proc.returncode != 0
    if code is not None:
        assert proc.returncode == code
    first = proc.stderr.strip().splitlines()[0]
    assert first.startswith("pcap4py: "), proc.stderr
    for needle in needles:
        assert needle in first, proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_interface():
    assert_one_line_error(run_cli("capture", "nope0", "-c", "1"), "no such interface: 'nope0'", "lo")


def test_bad_filter_names_the_position():
    proc = run_cli("capture", "lo", "-c", "1", "tcp", "port", "80", "and", "and", "udp")
    assert_one_line_error(proc, "bad filter expression", "column 17", "syntax error")
    assert proc.stderr.splitlines()[1:3] == ["tcp port 80 and and udp", " " * 16 + "^"]


def test_bad_filter_from_python_carries_expression_and_position():
    with pytest.raises(pcap4py.FilterError) as info:
        pcap4py.compile_filter("udp port 99999")
    assert (info.value.expression, info.value.position) == ("udp port 99999", 9)
    assert "99999" in info.value.reason


def test_missing_file():
    assert_one_line_error(run_cli("read", "/nonexistent/x.pcap"), "/nonexistent/x.pcap: no such file")


def test_not_a_capture_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, I am not a pcap file\n")
    assert_one_line_error(run_cli("read", str(path)), "is not a pcap or pcapng capture file")


def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.pcap"
    path.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\0" * 20)
    os.chown(path, 65534, 65534)  # nobody's file, mode 000: root needs CAP_DAC_OVERRIDE to read it
    path.chmod(0)
    os.chmod(tmp_path, 0o755)
    proc = _run_without_caps(["dac_override", "dac_read_search"], "read", str(path))
    assert_one_line_error(proc, "permission denied")


def test_missing_jars(tmp_path):
    proc = run_cli("capture", "lo", "-c", "1", env={"PCAP4PY_JARS": str(tmp_path)})
    assert_one_line_error(proc, "Pcap4J jars are missing", str(tmp_path))


def test_no_permission_names_the_capability():
    proc = _as_nobody("capture", "lo", "-c", "1")
    assert_one_line_error(proc, "no permission to capture on lo", "CAP_NET_RAW", code=2)


def test_usage_errors_exit_nonzero():
    assert run_cli("capture").returncode == 2
    assert run_cli("capture", "lo", "-Q", "sideways").returncode == 2
    proc = run_cli("capture", "lo", "-f", "icmp", "udp")
    assert proc.returncode == 2 and "either with -f or as trailing words" in proc.stderr


def _as_nobody(*args):
    """Run the CLI as nobody with no capability but reading files (so it can load pcap4py itself)."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop to nobody")
    import subprocess

    cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
           "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", *pcap4py_cmd(*args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd="/")


def _run_without_caps(caps, *args):
    """Run the CLI as this user with ``caps`` removed from the bounding set."""
    import subprocess

    drop = ",".join(f"-{c}" for c in caps)
    cmd = ["setpriv", f"--bounding-set={drop}", *pcap4py_cmd(*args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd="/")


def test_container_with_interface_or_direction_is_a_usage_error():
    proc = run_cli("capture", "--container", "web", "-Q", "in")
    assert proc.returncode == 2 and "use --via and --capture" in proc.stderr
