"""Malformed and unusual capture files (issue 10 and 16.7): each is built here with ``struct`` and
read the way tcpdump reads it, or refused with one line naming what is wrong with the file."""

from __future__ import annotations

import os
import struct
import subprocess
from datetime import datetime, timezone

import pytest

import pcap4py

from tests.fixtures.cli import PYTHON, pcap4py_cmd, run_cli
from tests.fixtures.pcapfiles import (BASE_TS, KUZNETSOV_MAGIC, eth_frames, pcap_header, pcap_record,
                                 pcapng_epb, pcapng_file, pcapng_idb, pcapng_shb, tcpdump_view, write_pcap)

ANY_FILTER = "ip or not ip"  # matches everything, and sends the read through libpcap


def _read(path, **kw) -> list:
    with pcap4py.open_offline(str(path), **kw) as handle:
        return list(handle)


# --- row 1: a record header that makes the reader lose its place -------------------------------
@pytest.fixture
def desync_pcap(tmp_path):
    """One good packet, then a record claiming 1 MiB, then zeros a desynchronised reader would
    take for ~250 empty packets."""
    frame = eth_frames()[0]
    path = tmp_path / "desync.pcap"
    path.write_bytes(pcap_header() + pcap_record(BASE_TS, 1, frame)
                     + struct.pack("<IIII", BASE_TS + 1, 0, 1 << 20, 1 << 20) + b"\0" * 4096)
    lines, err = tcpdump_view(path)
    assert len(lines) == 1 and "bigger than" in err
    return path


@pytest.mark.parametrize("filter", [None, ANY_FILTER])
def test_bad_record_length_stops_the_read_after_the_good_packet(desync_pcap, filter):
    got = []
    with pytest.raises(pcap4py.CaptureFileError, match="1048576"):
        with pcap4py.open_offline(str(desync_pcap), filter=filter) as handle:
            got.extend(handle)
    assert [p.ts_ns for p in got] == [BASE_TS * 10**9 + 1000]


def test_bad_record_length_cli_prints_one_packet_then_the_error(desync_pcap):
    proc = run_cli("read", str(desync_pcap), ANY_FILTER)
    assert proc.returncode == 1 and len(proc.stdout.splitlines()) == 1
    assert proc.stderr.startswith("pcap4py: ") and "1048576" in proc.stderr


def test_bad_record_length_cli_writes_one_packet(desync_pcap, tmp_path):
    out = tmp_path / "out.pcap"
    proc = run_cli("read", str(desync_pcap), "-w", str(out), ANY_FILTER)
    assert proc.returncode == 1 and "1048576" in proc.stderr
    assert len(tcpdump_view(out)[0]) == 1


# --- row 2: a zero-length frame and Pcap4J's rendering --------------------------------------
@pytest.fixture
def caplen0_pcap(tmp_path):
    good = eth_frames()
    path = tmp_path / "caplen0.pcap"
    path.write_bytes(pcap_header() + pcap_record(BASE_TS, 1, good[0]) + pcap_record(BASE_TS + 1, 2, b"", origlen=60)
                     + pcap_record(BASE_TS + 2, 3, good[1]))
    assert len(tcpdump_view(path)[0]) == 3
    return path


@pytest.mark.parametrize("args", [[], [ANY_FILTER]])
def test_empty_frame_renders_with_pcap4j_and_the_file_goes_on(caplen0_pcap, args):
    proc = run_cli("read", str(caplen0_pcap), "--format", "pcap4j", *args)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception" not in proc.stdout
    assert proc.stdout.count("[Ethernet Header") == 2  # the packets either side are rendered
    assert "empty frame" in proc.stdout
    assert "3 packets captured" in proc.stderr


def test_empty_frame_has_no_pcap4j_packet_and_no_layers(caplen0_pcap):
    first, empty, last = _read(caplen0_pcap)
    assert empty.caplen == 0 and empty.length == 60
    assert empty.pcap4j is None and empty.layers == []
    assert first.layers[:2] == ["Ethernet", "IpV4"] and last.layers[-1] == "Tcp"


# --- row 9: reading a stream ------------------------------------------------------------------
@pytest.fixture
def small_pcap(tmp_path):
    path = tmp_path / "small.pcap"
    write_pcap(path, 1, eth_frames())
    return path


@pytest.mark.parametrize("name", ["-", "/dev/stdin"])
def test_read_from_stdin(small_pcap, name):
    # a pipe, not the file itself: a redirected file would be seekable and hide the problem
    proc = subprocess.run(pcap4py_cmd("read", name), input=small_pcap.read_bytes(), capture_output=True, timeout=60)
    proc.stdout, proc.stderr = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 6 and "6 packets captured" in proc.stderr


def test_read_from_a_process_substitution_with_a_filter(small_pcap):
    cmd = f"{PYTHON} -m pcap4py read <(cat {small_pcap}) udp"
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 4


def test_read_a_stream_from_python_keeps_the_timestamps(small_pcap):
    r, w = os.pipe()
    with open(small_pcap, "rb") as f:
        data = f.read()
    assert len(data) < 65536  # fits in the pipe: no writer thread needed
    os.write(w, data)
    os.close(w)
    try:
        got = _read(f"/proc/self/fd/{r}")
    finally:
        os.close(r)
    assert [p.ts_ns for p in got] == [p.ts_ns for p in _read(small_pcap)]


def test_capture_into_a_pipe_read_from_the_pipe():
    """``capture lo -w - | read -``: the writer's stream is a pcap the reader takes from stdin."""
    shell = (f"{PYTHON} -m pcap4py capture lo -c 3 -w - udp port 59999 2>/dev/null"
             f" | {PYTHON} -m pcap4py read -")
    reader = subprocess.Popen(["bash", "-c", shell], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        import socket
        import time

        deadline = time.monotonic() + 30
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            while reader.poll() is None and time.monotonic() < deadline:
                s.sendto(b"through a pipe", ("127.0.0.1", 59999))
                time.sleep(0.2)
        out, err = reader.communicate(timeout=30)
    finally:
        if reader.poll() is None:
            reader.kill()
    assert reader.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 3 and all("127.0.0.1" in line and ".59999: UDP, length 14" in line for line in lines)


# --- row 10: 32-bit seconds with the top bit set --------------------------------------------------
def test_seconds_with_the_top_bit_set_are_unsigned_on_both_paths(tmp_path):
    path = tmp_path / "topbit.pcap"
    sec = 0x80000001  # 2038-01-19, past the signed 32-bit range
    path.write_bytes(pcap_header() + pcap_record(sec, 5, eth_frames()[0]))
    expected = [sec * 10**9 + 5000]
    assert [p.ts_ns for p in _read(path)] == expected
    assert [p.ts_ns for p in _read(path, filter=ANY_FILTER)] == expected
    assert _read(path)[0].time.year == 2038


# --- row 11: pcapng time stamps past 2^63 ns ---------------------------------------------------
def test_pcapng_time_stamps_past_2_63_ns_keep_their_date(tmp_path):
    path = tmp_path / "late.pcapng"
    stamps = [2**63 - 1, 2**63 + 5, 2**64 - 1000]
    frame = eth_frames()[0]
    path.write_bytes(pcapng_file(1, [(0, ts, frame) for ts in stamps]))
    assert len(tcpdump_view(path)[0]) == 3
    got = _read(path)
    assert [p.ts_ns for p in got] == stamps
    assert [p.time.year for p in got] == [2262, 2262, 2554]
    assert not any(p.ts_out_of_range for p in got)
    with pcap4py.open_offline(str(path)) as handle:
        assert [ts for ts, _, _ in handle.raw()] == stamps


def test_pcapng_time_past_2_64_ns_is_flagged_not_wrapped(tmp_path):
    """A microsecond interface can name a time no 64-bit count of nanoseconds holds."""
    path = tmp_path / "beyond.pcapng"
    frame = eth_frames()[0]
    fine = BASE_TS * 10**6
    path.write_bytes(pcapng_shb() + pcapng_idb(1, "eth0", nanoseconds=False)
                     + pcapng_epb(0, fine, frame) + pcapng_epb(0, 2**64 - 1, frame))
    ok, beyond = _read(path)
    assert ok.ts_ns == fine * 1000 and not ok.ts_out_of_range
    assert beyond.ts_out_of_range and beyond.ts_ns == pcap4py.Packet.TS_OUT_OF_RANGE
    proc = run_cli("read", str(path), "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    assert '"ts_out_of_range": true' in proc.stdout.splitlines()[1]
    proc = run_cli("read", str(path), "--format", "pcap4j")
    assert proc.returncode == 0 and proc.stdout.count("(time out of range)") == 1, proc.stderr


# --- row 12: a corrupt link type is the file's fault, not the filter's ------------------------------
@pytest.mark.parametrize("args", [["udp"], []])
def test_unknown_link_type_names_the_file_not_the_filter(tmp_path, args):
    """tcpdump refuses the file, filter or not (libpcap has no code for the type); so does pcap4py."""
    path = tmp_path / "badlink.pcap"
    path.write_bytes(pcap_header(linktype=262145) + pcap_record(BASE_TS, 0, eth_frames()[0]))
    assert tcpdump_view(path)[0] == []
    with pytest.raises(pcap4py.CaptureFileError, match="link type 262145"):
        pcap4py.open_offline(str(path), filter=args[0] if args else None)
    proc = run_cli("read", str(path), *args)
    first = proc.stderr.splitlines()[0]
    assert proc.returncode == 1 and first.startswith("pcap4py: ") and proc.stdout == ""
    assert "link type 262145" in first and str(path) in first and "bad filter" not in first


# --- issue 16 row 7: Kuznetsov's modified pcap ----------------------------------------------------
def test_kuznetsov_modified_pcap_reads_like_tcpdump(tmp_path):
    path = tmp_path / "kuznetsov.pcap"
    body = b""
    for i, frame in enumerate(eth_frames()):
        # the standard 16-byte header, then ifindex, protocol, packet type and padding
        body += struct.pack("<IIIIiHBB", BASE_TS + i, 10 + i, len(frame), len(frame), 2, 0x0800, 0, 0) + frame
    path.write_bytes(pcap_header(magic=KUZNETSOV_MAGIC) + body)
    lines, _ = tcpdump_view(path)
    assert len(lines) == 6
    for kw in ({}, {"filter": "udp"}):
        got = _read(path, **kw)
        want = [line for line in lines if "UDP" in line] if kw else lines
        assert [f"{p.ts_ns // 10**9}.{p.ts_ns // 1000 % 10**6:06d}" for p in got] == [w.split()[0] for w in want]
        assert all(f"{p.src}.{p.sport} > {p.dst}.{p.dport}:" in w for p, w in zip(got, want))
    assert datetime.fromtimestamp(BASE_TS, tz=timezone.utc).year == _read(path)[0].time.year
