"""Frames above 256 KiB (issue 25 row 16): libpcap's largest frame depends on the link type
(pcap-common.c's max_snaplen_for_dlt: D-Bus 128 MiB, EBHSCR 8 MiB, USBPcap 1 MiB, every other
262144 bytes), and pcap4py reads, prints and writes such frames whole, in pcap and pcapng files
alike, while a frame above its link type's limit is refused with one line naming both.

The files are built here with ``struct``; tshark (with each frame's MD5) and tcpdump check every
file pcap4py writes, byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import subprocess

import pytest

import pcap4py

from tests.fixtures.cli import run_cli
from tests.fixtures.pcapfiles import (BASE_TS, eth_frames, pcap_header, pcap_record, pcapng_epb, pcapng_idb,
                                 pcapng_shb)

DBUS, USBPCAP, EBHSCR, EN10MB = 231, 249, 279, 1
LIMITS = {DBUS: 128 << 20, USBPCAP: 1 << 20, EBHSCR: 8 << 20, EN10MB: 262144}
BIG = [(DBUS, 300_001), (USBPCAP, 1_000_000), (EBHSCR, 2_000_003)]


def frame_of(size: int, seed: int) -> bytes:
    """``size`` bytes that differ from frame to frame (so a shifted or mixed-up frame shows)."""
    block = hashlib.sha256(seed.to_bytes(4, "little")).digest() * 8
    return (block * (size // len(block) + 1))[:size]


def write_capture(path, linktype: int, frames: list[bytes], fmt: str) -> None:
    """A pcap (snapshot length: the link type's largest frame) or pcapng (snapshot length 0, the same)."""
    if fmt == "pcap":
        body = b"".join(pcap_record(BASE_TS + i, i, f) for i, f in enumerate(frames))
        path.write_bytes(pcap_header(linktype, LIMITS[linktype]) + body)
    else:
        body = b"".join(pcapng_epb(0, (BASE_TS + i) * 10**9 + i, f) for i, f in enumerate(frames))
        path.write_bytes(pcapng_shb() + pcapng_idb(linktype, "big0", snaplen=0) + body)


def tshark_frames(path) -> list[tuple[int, str]]:
    """(captured length, MD5 of the frame) per packet, as tshark reads ``path``."""
    proc = subprocess.run(["tshark", "-r", str(path), "-o", "frame.generate_md5_hash:TRUE",
                           "-T", "fields", "-e", "frame.cap_len", "-e", "frame.md5_hash"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [(int(n), md5) for n, md5 in (line.split("\t") for line in proc.stdout.splitlines())]


def expected(frames: list[bytes]) -> list[tuple[int, str]]:
    return [(len(f), hashlib.md5(f).hexdigest()) for f in frames]


def tcpdump_count(path) -> int:
    """How many packets tcpdump (libpcap) reads from ``path``, failing on any error it reports."""
    proc = subprocess.run(["tcpdump", "--count", "-r", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "tcpdump:" not in proc.stderr, proc.stderr
    return int(proc.stdout.split()[0])  # "N packets"


@pytest.fixture(params=[(lt, size, fmt) for lt, size in BIG for fmt in ("pcap", "pcapng")],
                ids=lambda p: f"{p[0]}-{p[1]}-{p[2]}")
def big_file(request, tmp_path):
    """A small frame, a big one, a small one, a big one (the big ones differ)."""
    linktype, size, fmt = request.param
    frames = [frame_of(100, 1), frame_of(size, 2), frame_of(60, 3), frame_of(size - 1, 4)]
    path = tmp_path / f"big.{fmt}"
    write_capture(path, linktype, frames, fmt)
    assert tshark_frames(path) == expected(frames)  # the input is what tshark reads
    return path, linktype, frames, fmt


def test_text_lines_of_big_frames(big_file):
    path, linktype, frames, _ = big_file
    proc = run_cli("read", str(path))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [f"link-type {linktype}, length {len(f)}" for f in frames]
    assert "4 packets captured" in proc.stderr


def test_hex_rows_of_a_big_frame_are_whole(big_file):
    path, _, frames, _ = big_file
    proc = run_cli("read", "-x", str(path), "-c", "2")
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("\t0x")]
    data = bytes.fromhex("".join("".join(r.split(":", 1)[1].split()) for r in rows))
    assert data == frames[0] + frames[1]


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_json_records_of_big_frames(big_file, fmt):
    path, _, frames, _ = big_file
    proc = run_cli("read", str(path), "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout) if fmt == "json" else [json.loads(x) for x in proc.stdout.splitlines()]
    assert [(r["caplen"], r["length"]) for r in records] == [(len(f), len(f)) for f in frames]


@pytest.mark.parametrize("out", ["out.pcapng", "out.pcap"])
def test_big_frames_written_byte_for_byte(big_file, tmp_path, out):
    path, linktype, frames, fmt = big_file
    target = tmp_path / out
    proc = run_cli("read", str(path), "-w", str(target))
    if fmt == "pcapng" and out.endswith(".pcap"):  # a pcapng file is never written as pcap (by design)
        assert proc.returncode != 0 and "write a .pcapng file instead" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    assert tshark_frames(target) == expected(frames)
    assert tcpdump_count(target) == len(frames)


def test_big_frames_through_libpcap_and_a_filter(big_file, tmp_path):
    """A filter sends a pcap file through libpcap's reader (pcap_next_ex), pcapng through Java's."""
    path, _, frames, _ = big_file
    text = run_cli("read", str(path), "greater", "1000")
    assert text.returncode == 0, text.stderr
    assert len(text.stdout.splitlines()) == 2
    target = tmp_path / "f.pcapng"
    proc = run_cli("read", str(path), "-w", str(target), "greater", "1000")
    assert proc.returncode == 0, proc.stderr
    assert tshark_frames(target) == expected([frames[1], frames[3]])


@pytest.mark.parametrize("filter", [None, "greater 0"])
def test_python_api_gives_big_frames_whole(big_file, filter):
    path, _, frames, _ = big_file
    with pcap4py.open_offline(str(path), filter=filter) as handle:
        assert [frame for _, _, frame in handle.raw()] == frames
    with pcap4py.open_offline(str(path), filter=filter) as handle:
        assert [p.data for p in handle.packets()] == frames


def test_rotation_keeps_big_frames(tmp_path):
    """-C 1 (1,000,000 bytes) with 2 MB frames: a file a frame, each whole. Rotation is capture's
    (no live link type has frames this big), so the sink is driven as capture drives it, on a file."""
    from pcap4py.engine.capture import Capture
    from pcap4py.sinks import Output
    from pcap4py.sinks.pump import pump
    from pcap4py.sinks.rotate import Rotation

    frames = [frame_of(2_000_003, i) if i % 2 else frame_of(64, i) for i in range(6)]
    for fmt in ("pcap", "pcapng"):
        src = tmp_path / f"src.{fmt}"
        write_capture(src, EBHSCR, frames, fmt)
        template = tmp_path / f"r{fmt}" / f"r.{fmt}"
        template.parent.mkdir()
        capture = Capture([pcap4py.open_offline(str(src))])
        try:
            pump(capture, Output(path=str(template), rotation=Rotation(size=1_000_000)), stream=io.StringIO())
        finally:
            capture.close()
        files = sorted(template.parent.iterdir(), key=lambda p: int(p.name[len(template.name):] or 0))
        assert len(files) == 3, files  # -C checks before each packet: a small frame joins the big one's file
        assert [f for p in files for f in tshark_frames(p)] == expected(frames)
        assert sum(tcpdump_count(p) for p in files) == len(frames)


def test_big_and_small_frames_mixed_keep_order_and_counts(tmp_path):
    """A pcapng of an Ethernet interface and a D-Bus one: 600 small frames around big ones."""
    small = eth_frames()
    packets, frames = [], []
    for i in range(600):
        iface, frame = (1, frame_of(300_001 + i, i)) if i % 50 == 7 else (0, small[i % len(small)])
        packets.append(pcapng_epb(iface, (BASE_TS * 10**9) + i * 1000, frame))
        frames.append(frame)
    path = tmp_path / "mixed.pcapng"
    path.write_bytes(pcapng_shb() + pcapng_idb(EN10MB, "eth0") + pcapng_idb(DBUS, "dbus0", snaplen=0)
                     + b"".join(packets))
    with pcap4py.open_offline(str(path)) as handle:
        assert [frame for _, _, frame in handle.raw()] == frames
    proc = run_cli("read", str(path), "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(x)["caplen"] for x in proc.stdout.splitlines()] == [len(f) for f in frames]
    text = run_cli("read", str(path))
    assert len(text.stdout.splitlines()) == 600 and "600 packets captured" in text.stderr
    target = tmp_path / "out.pcapng"
    assert run_cli("read", str(path), "-w", str(target)).returncode == 0
    assert tshark_frames(target) == expected(frames)


def test_a_link_types_largest_frame_grows_the_read_ahead_slots(tmp_path):
    """EBHSCR's largest frame, 8 MiB, and a 5 MB one: bigger than the 4 MiB a file's read-ahead
    slot holds, so Java hands the slot back, it grows, and shrinks back after."""
    frames = [frame_of(100, 1), frame_of(8 << 20, 2), frame_of(60, 3), frame_of(5_000_000, 4), frame_of(70, 5)]
    for fmt in ("pcap", "pcapng"):
        path = tmp_path / f"max.{fmt}"
        write_capture(path, EBHSCR, frames, fmt)
        text = run_cli("read", str(path))
        assert text.returncode == 0, text.stderr
        assert [line.split(" ", 1)[1] for line in text.stdout.splitlines()] == [
            f"link-type {EBHSCR}, length {len(f)}" for f in frames]
        target = tmp_path / f"out-{fmt}.pcapng"
        assert run_cli("read", str(path), "-w", str(target)).returncode == 0
        assert tshark_frames(target) == expected(frames)
        with pcap4py.open_offline(str(path)) as handle:
            assert [frame for _, _, frame in handle.raw()] == frames


# --- above the link type's largest frame: refused ----------------------------------------------
def _declared(path, linktype: int, caplen: int, fmt: str) -> None:
    """A good small frame, then a record declaring ``caplen`` bytes (only some of them present)."""
    good = eth_frames()[0]
    if fmt == "pcap":
        path.write_bytes(pcap_header(linktype, LIMITS[linktype]) + pcap_record(BASE_TS, 0, good)
                         + struct.pack("<IIII", BASE_TS + 1, 0, caplen, caplen) + b"\0" * 4096)
    else:
        epb = pcapng_epb(0, BASE_TS * 10**9, b"\0" * 4096)
        epb = epb[:20] + struct.pack("<II", caplen, caplen) + epb[28:]
        path.write_bytes(pcapng_shb() + pcapng_idb(linktype, "x0", snaplen=0)
                         + pcapng_epb(0, BASE_TS * 10**9, good) + epb)


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
@pytest.mark.parametrize("linktype,caplen,name", [(EN10MB, 300_001, "EN10MB"), (DBUS, (128 << 20) + 1, "DBUS"),
                                                  (USBPCAP, (1 << 20) + 1, "USBPCAP")])
def test_frame_above_its_link_types_limit_is_refused(tmp_path, fmt, linktype, caplen, name):
    path = tmp_path / f"over.{fmt}"
    _declared(path, linktype, caplen, fmt)
    proc = run_cli("read", str(path))
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("pcap4py:")]
    assert errors == [f"pcap4py: {path}: invalid packet capture length {caplen}, bigger than the maximum of "
                      f"{LIMITS[linktype]} for link type {name} ({linktype})"], proc.stderr
    assert len(proc.stdout.splitlines()) == 1  # the good packet before it
    with pytest.raises(pcap4py.CaptureFileError, match=f"maximum of {LIMITS[linktype]} for link type {name}"):
        with pcap4py.open_offline(str(path)) as handle:
            list(handle.raw())
