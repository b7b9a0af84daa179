"""File rotation (-C, -G, -W, -z, with -Z): real traffic on lo, files read back by tcpdump and tshark."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.fixtures.cli import run_cli, start_cli, wait_listening

PORT = 39000 + os.getpid() % 500
FILTER = f"udp port {PORT}"
PAYLOAD = 100
RECORD = 16 + 14 + 20 + 8 + PAYLOAD  # pcap record header + Ethernet/IPv4/UDP on lo


def _send(n: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(n):
            s.sendto(b"x" * PAYLOAD, ("127.0.0.1", PORT))


def _capture(*args: str, packets: int = 0, linger: float = 1.0, timeout: float = 30):
    """Run a capture, send ``packets``, wait ``linger`` s, stop it with SIGINT; returns (rc, stderr)."""
    proc = start_cli("capture", "lo", *args, FILTER)
    try:
        wait_listening(proc)
        _send(packets)
        time.sleep(linger)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    return proc.returncode, err.decode()


def _count(path: Path) -> int:
    """Packets in a file as tcpdump reads it (pcapng: tshark), failing on a damaged file."""
    cmd = ["tshark", "-r", str(path)] if path.name.find(".pcapng") >= 0 else ["tcpdump", "-n", "-r", str(path)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return len(res.stdout.splitlines())


def _natural(path: Path):
    digits = re.sub(r"\D", "", path.name)
    return int(digits) if digits else -1


def test_size_rotation_ends_each_file_with_the_packet_past_the_limit(tmp_path):
    _capture("-C", "2k", "-w", str(tmp_path / "f"), packets=100)
    files = sorted(tmp_path.iterdir(), key=_natural)
    assert [p.name for p in files] == ["f"] + [f"f{i}" for i in range(1, len(files))]
    assert len(files) >= 5
    for p in files[:-1]:  # tcpdump's rule: rotate once a file is past the limit, before a packet
        size = p.stat().st_size
        assert 2048 < size <= 2048 + RECORD, (p, size)
    assert sum(_count(p) for p in files) == 100


def test_size_ring_keeps_the_newest_files_with_padded_names(tmp_path):
    _capture("-C", "1k", "-W", "3", "-w", str(tmp_path / "r"), packets=60)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["r0", "r1", "r2"]
    # 7 records fill a file (24 + 6 * 158 <= 1024 < 24 + 7 * 158): 60 packets make 9 files (8 full
    # and one of 4), numbered 0..8; the ring keeps the last three: 6 -> r0, 7 -> r1, 8 -> r2
    per_file = (1024 - 24) // RECORD + 1
    files, last = divmod(60, per_file)
    assert {n: _count(tmp_path / n) for n in names} == {
        f"r{files % 3}": last, f"r{(files - 1) % 3}": per_file, f"r{(files - 2) % 3}": per_file}
    assert max(tmp_path.iterdir(), key=lambda p: p.stat().st_mtime_ns).name == f"r{files % 3}"


def test_ring_pads_to_the_width_of_the_last_number(tmp_path):
    _capture("-C", "1k", "-W", "11", "-w", str(tmp_path / "p"), packets=20)  # 7 + 7 + 6 packets
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p00", "p01", "p02"]


def test_time_rotation_on_an_idle_link_at_clock_multiples(tmp_path):
    proc = start_cli("capture", "lo", "-G", "2", "-w", str(tmp_path / "g-%s.pcap"), FILTER)
    try:
        wait_listening(proc)
        time.sleep(5.2)  # no traffic at all
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    files = sorted(tmp_path.iterdir())
    assert len(files) >= 2
    stamps = [int(p.name[2:-5]) for p in files]
    assert all(s % 2 == 0 for s in stamps[1:]), stamps  # after the first: at multiples of 2 s
    assert all(b - a == 2 for a, b in zip(stamps[1:], stamps[2:])), stamps
    for p in files:
        assert _count(p) == 0  # tshark/tcpdump open each (a valid, empty file)


def test_time_rotation_with_W_stops_after_N_files(tmp_path):
    start = time.monotonic()
    res = run_cli("capture", "lo", "-G", "1", "-W", "2", "-w", str(tmp_path / "s-%H%M%S.pcap"), FILTER, timeout=30)
    assert res.returncode == 0, res.stderr
    assert time.monotonic() - start < 15
    assert len(list(tmp_path.iterdir())) == 2


def test_post_rotate_command_runs_on_every_file_including_the_last(tmp_path):
    log = tmp_path / "log"
    script = tmp_path / "post.sh"
    script.write_text(f'#!/bin/sh\necho "$1" >> {log}\n')
    script.chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    _capture("-C", "2k", "-z", str(script), "-w", str(out / "z"), packets=40)
    deadline = time.monotonic() + 10
    files = sorted(str(p) for p in out.iterdir())
    while time.monotonic() < deadline and (not log.exists() or len(log.read_text().split()) < len(files)):
        time.sleep(0.1)
    assert len(files) >= 3
    assert sorted(log.read_text().split()) == files


def test_pcapng_rotation_repeats_the_section_in_every_file(tmp_path):
    _capture("-C", "2k", "-w", str(tmp_path / "n.pcapng"), packets=50)
    files = sorted(tmp_path.iterdir(), key=_natural)
    assert len(files) >= 3
    total = 0
    for p in files:
        res = subprocess.run(["tshark", "-r", str(p), "-T", "fields", "-e", "frame.interface_name"],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        names = res.stdout.split()
        assert names and set(names) == {"lo"}
        total += len(names)
    for p in files[:-1]:
        assert p.stat().st_size > 2048
    assert total == 50
    # each file ends with its statistics block (type 5)
    for p in files:
        data = p.read_bytes()
        last_len = struct.unpack("<I", data[-4:])[0]
        assert struct.unpack("<I", data[-last_len:-last_len + 4])[0] == 5, p


def test_pcapng_time_rotation_files_open_alone(tmp_path):
    _capture("-G", "1", "-w", str(tmp_path / "t-%H%M%S.pcapng"), packets=10, linger=2.5)
    files = sorted(tmp_path.iterdir())
    assert len(files) >= 2
    assert sum(_count(p) for p in files) == 10


@pytest.mark.parametrize("name", ["x.pcap", "x.pcapng"])
def test_rotation_into_a_removed_directory_says_why_and_keeps_the_counters(tmp_path, name):
    folder = tmp_path / "d"
    folder.mkdir()
    proc = start_cli("capture", "lo", "-C", "1k", "-w", str(folder / name), FILTER)
    try:
        wait_listening(proc)
        _send(3)
        time.sleep(0.5)
        shutil.rmtree(folder)
        deadline = time.monotonic() + 15
        while proc.poll() is None and time.monotonic() < deadline:  # until a rotation fails
            _send(3)
            time.sleep(0.1)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = err.decode()
    assert proc.returncode == 1, err
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(rf"pcap4py: cannot write {re.escape(str(folder / name))}\d+: No such file or directory",
                        last), err
    assert "packets captured" in err and "Traceback" not in err


@pytest.fixture
def searchable_dir():
    """A directory under /tmp that every user may look into (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="p4t-rotate-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to nobody")
def test_rotation_after_Z_into_a_directory_nobody_cannot_write_is_refused_at_start(searchable_dir):
    target = searchable_dir / "rootonly"
    target.mkdir(mode=0o755)
    res = run_cli("capture", "lo", "-C", "1", "-Z", "nobody", "-w", str(target / "f"), FILTER)
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pcap4py: -Z nobody:") and str(target) in lines[0], res.stderr
    assert list(target.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to nobody")
def test_rotation_after_Z_keeps_working_in_a_writable_directory(searchable_dir):
    target = searchable_dir / "shared"
    target.mkdir()
    shutil.chown(target, "nobody", "nogroup")
    _capture("-C", "1k", "-W", "2", "-Z", "nobody", "-w", str(target / "f"), packets=30)
    assert sorted(p.name for p in target.iterdir()) == ["f0", "f1"]
    assert all(_count(p) > 0 for p in target.iterdir())


@pytest.mark.parametrize("args, message", [
    (["-W", "3", "-w", "F"], "-W needs -C or -G"),
    (["-z", "/bin/true", "-w", "F"], "-z needs -C or -G"),
    (["-C", "0", "-w", "F"], "Invalid value for '-C'"),
    (["-C", "junk", "-w", "F"], "Invalid value for '-C'"),
    (["-C", "5x", "-w", "F"], "Invalid value for '-C'"),
    (["-C", "9999999999999", "-w", "F"], "more than a file can hold"),
    (["-C", "99999999999g", "-w", "F"], "more than a file can hold"),
    (["-C", "\u00b2", "-w", "F"], "Invalid value for '-C'"),
    (["-G", "0", "-w", "F"], "Invalid value for '-G'"),
    (["-W", "0", "-C", "1", "-w", "F"], "Invalid value for '-W'"),
    (["-C", "1"], "give -w FILE"),
    (["-G", "1", "-w", "-"], "give -w FILE"),
])
def test_bad_rotation_options_are_usage_errors(tmp_path, args, message):
    args = [str(tmp_path / a) if a == "F" else a for a in args]
    res = run_cli("capture", "lo", *args, FILTER)
    assert res.returncode == 2 and message in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr  # one usage line, no traceback
    assert list(tmp_path.iterdir()) == []


def test_file_size_fuzzed_is_a_size_or_a_usage_error():
    """Seeded: any -C text converts to a size a Java long holds, or fails as a usage error."""
    import random

    import click

    from pcap4py.cli.options import FILE_SIZE

    rng = random.Random(25)
    alphabet = "0123456789kmgKMG \u00b2\u0663-+.e_x"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
        try:
            size = FILE_SIZE.convert(text, None, None)
        except click.BadParameter:
            continue
        assert 0 < size < 2**63, text
