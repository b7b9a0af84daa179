"""Reading pcapng files past the numbers a record holds: hundreds of sections and interfaces.

Files are built here with ``struct``; tcpdump and tshark read them as the reference.
"""

from __future__ import annotations

import json
import subprocess

from tests.fixtures.cli import run_cli
from tests.fixtures.pcapfiles import ipv4_udp, ethernet, pcapng_epb, pcapng_idb, pcapng_shb
from tests.sinks.test_pcapng import tshark

T0 = 1_700_000_000_000_000_000  # ns
A, B = bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2])


def _frame(k: int) -> bytes:
    return ethernet(ipv4_udp(A, B, 40000, 5000 + k % 1000, b"k=%d" % k), 0x0800)


def _tcpdump_lines(path) -> list[str]:
    res = subprocess.run(["tcpdump", "-n", "-r", str(path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def test_three_hundred_cat_joined_files_are_read_whole(tmp_path):
    path = tmp_path / "joined.pcapng"
    path.write_bytes(b"".join(pcapng_shb() + pcapng_idb(1, "eth0") + pcapng_epb(0, T0 + k, _frame(k))
                              for k in range(300)))
    assert len(_tcpdump_lines(path)) == 300
    res = run_cli("read", str(path), "--format", "jsonl")
    assert res.returncode == 0, res.stderr
    got = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(got) == 300 and {p["interface"] for p in got} == {"eth0"}
    assert [p["ts_ns"] for p in got] == [T0 + k for k in range(300)]
    out = tmp_path / "again.pcapng"
    res = run_cli("read", str(path), "-w", str(out))
    assert res.returncode == 0, res.stderr
    assert tshark(out, "frame.interface_name") == [["eth0"]] * 300


def test_one_section_of_three_hundred_interfaces_is_read_whole(tmp_path):
    path = tmp_path / "wide.pcapng"
    path.write_bytes(pcapng_shb() + b"".join(pcapng_idb(1, f"if{i}") for i in range(300))
                     + b"".join(pcapng_epb(k, T0 + k, _frame(k)) for k in range(300)))
    assert len(_tcpdump_lines(path)) == 300
    res = run_cli("read", str(path), "--format", "jsonl")
    assert res.returncode == 0, res.stderr
    got = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(got) == 300
    # 256 sources fit a record: those interfaces keep their names; later ones are named after the
    # first interface of their link type, their packets all read
    assert [p["interface"] for p in got[:256]] == [f"if{i}" for i in range(256)]
    assert {p["interface"] for p in got[256:]} == {"if0"}
    assert [p["dst_port"] for p in got] == [5000 + k for k in range(300)]
