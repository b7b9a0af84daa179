"""Offline reading of pcap files the tests write, checked against tcpdump's view of the same files."""

from __future__ import annotations

import re
import struct

import pytest

import pcap4py

from tests.fixtures.cli import run_cli
from tests.fixtures.pcapfiles import BASE_TS, FRAMERS, eth_frames, frames, tcpdump_view, write_pcap


@pytest.mark.parametrize("linktype", sorted(FRAMERS))
def test_every_link_type_reads_like_tcpdump(tmp_path, linktype):
    path = tmp_path / f"dlt{linktype}.pcap"
    stamps = write_pcap(path, linktype, [FRAMERS[linktype](ip, et) for ip, et in frames()])
    with pcap4py.open_offline(str(path)) as handle:
        got = list(handle)
    lines, _ = tcpdump_view(path)
    assert len(got) == len(lines) == 6
    assert [p.ts_ns for p in got] == stamps
    dlt = {101: 12}.get(linktype, linktype)  # libpcap reports LINKTYPE_RAW as this OS's DLT_RAW
    assert [p.linktype for p in got] == [dlt] * 6
    for pkt, line in zip(got, lines):
        assert f"{pkt.ts_ns // 10**9}.{pkt.ts_ns // 1000 % 10**6:06d}" == line.split()[0]
        assert f"{pkt.src}.{pkt.sport} > {pkt.dst}.{pkt.dport}:" in line
    assert [p.proto for p in got] == ["UDP", "TCP", "UDP"] * 2
    assert got[1].tcp_flag_string == "S" and "Flags [S]" in lines[1]
    assert got[2].src == "fd31:9::1" and got[0].payload == b"q" * 10


def test_filter_on_a_file(tmp_path):
    path = tmp_path / "f.pcap"
    write_pcap(path, 1, eth_frames())
    with pcap4py.open_offline(str(path), filter="tcp") as handle:
        assert [(p.proto, p.sport) for p in handle] == [("TCP", 2000), ("TCP", 2001)]


def test_truncated_last_record_yields_the_complete_ones_then_an_error(tmp_path):
    path = tmp_path / "cut.pcap"
    write_pcap(path, 1, eth_frames(), truncate_last=5)
    lines, err = tcpdump_view(path)
    assert len(lines) == 5 and "truncated" in err
    got = []
    with pytest.raises(pcap4py.CaptureFileError, match="truncated"):
        with pcap4py.open_offline(str(path)) as handle:
            for p in handle:
                got.append(p)
    assert len(got) == 5


def test_read_cli_prints_tcpdump_like_lines(tmp_path):
    path = tmp_path / "cli.pcap"
    write_pcap(path, 1, eth_frames())
    proc = run_cli("read", str(path), "udp")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 4
    assert re.search(r"IP 198\.18\.0\.1\.1000 > 198\.18\.0\.2\.9999: UDP, length 10$", lines[0])
    assert re.search(r"IP6 fd31:9::1\.3000 > fd31:9::2\.9997: UDP, length 3$", lines[1])
    assert "4 packets captured" in proc.stderr


def test_read_cli_rewrites_a_filtered_file(tmp_path):
    src, dst = tmp_path / "in.pcap", tmp_path / "out.pcap"
    write_pcap(src, 1, eth_frames())
    proc = run_cli("read", str(src), "-w", str(dst), "-f", "ip6")
    assert proc.returncode == 0, proc.stderr
    lines, _ = tcpdump_view(dst)
    assert len(lines) == 2 and all(" IP6 " in line for line in lines)


def test_read_cli_truncated_file_exits_nonzero(tmp_path):
    path = tmp_path / "cut.pcap"
    write_pcap(path, 1, eth_frames(), truncate_last=5)
    proc = run_cli("read", str(path))
    assert proc.returncode != 0
    assert len(proc.stdout.splitlines()) == 5
    assert proc.stderr.startswith("pcap4py: ") and "truncated" in proc.stderr


def test_nanosecond_file_keeps_nanoseconds(tmp_path):
    path = tmp_path / "ns.pcap"
    frame = eth_frames()[0]
    header = struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1)
    path.write_bytes(header + struct.pack("<IIII", BASE_TS, 123456789, len(frame), len(frame)) + frame)
    with pcap4py.open_offline(str(path)) as handle:
        assert [p.ts_ns for p in handle] == [BASE_TS * 10**9 + 123456789]


def _records(path, **kw):
    with pcap4py.open_offline(str(path), **kw) as handle:
        return [(p.ts_ns, p.caplen, p.length, p.data, p.src, p.sport, p.proto) for p in handle]


@pytest.mark.parametrize("byte_order", ["<", ">"])
def test_java_file_reader_agrees_with_libpcap(tmp_path, byte_order):
    """Unfiltered reads of a classic pcap use pcap4py's Java reader; filtered ones go through
    libpcap. Both must give the same packets, in either byte order, with snapped lengths."""
    path = tmp_path / "order.pcap"
    body = b""
    for i, frame in enumerate(eth_frames() * 50):
        body += struct.pack(byte_order + "IIII", BASE_TS + i, i, min(len(frame), 40), len(frame)) + frame[:40]
    path.write_bytes(struct.pack(byte_order + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 40, 1) + body)
    java, libpcap = _records(path), _records(path, filter="len >= 0")
    assert len(java) == 300 and java == libpcap
    assert all(cap == 40 < length for _, cap, length, *_ in java if length > 40)
    assert len(tcpdump_view(path)[0]) == 300


def test_raw_iteration_gives_the_same_frames_as_packets(tmp_path):
    path = tmp_path / "raw.pcap"
    write_pcap(path, 1, eth_frames() * 1000)
    with pcap4py.open_offline(str(path)) as handle:
        raw = list(handle.raw())
    with pcap4py.open_offline(str(path)) as handle:
        packets = [(p.ts_ns, p.length, p.data) for p in handle]
    assert len(raw) == 6000 and raw == packets
    assert all(isinstance(frame, bytes) for _, _, frame in raw[:10])


def _read_ahead_threads() -> list[str]:
    from pcap4py.engine import jvm

    threads = jvm.jclass("java.lang.Thread").getAllStackTraces().keySet()
    return [str(t.getName()) for t in threads if str(t.getName()).startswith("pcap4py-read-")]


MANY = 6 * 5000  # ~7 batches of 4096


@pytest.fixture(scope="module")
def many_pcap(tmp_path_factory):
    """A file of MANY frames, written once for the module: (path, each record's timestamp in ns)."""
    path = tmp_path_factory.mktemp("offline") / "many.pcap"
    stamps = write_pcap(path, 1, eth_frames() * 5000)
    assert len(stamps) == MANY
    return path, stamps


def test_read_ahead_over_many_batches_matches_libpcap_and_tcpdump(many_pcap):
    """Whole-file reads go through a Java read-ahead thread and a ring of batch slots; packets
    must come out complete and in order across many refills of the ring."""
    path, stamps = many_pcap
    read_ahead, libpcap = _records(path), _records(path, filter="len >= 0")
    assert len(read_ahead) == MANY and read_ahead == libpcap
    assert [ts for ts, *_ in read_ahead] == stamps
    assert len(tcpdump_view(path)[0]) == MANY


def test_read_ahead_truncated_file_yields_every_complete_record_then_fails(tmp_path):
    path = tmp_path / "cut-many.pcap"
    write_pcap(path, 1, eth_frames() * 2000, truncate_last=5)
    got = 0
    with pytest.raises(pcap4py.CaptureFileError, match="truncated"):
        with pcap4py.open_offline(str(path)) as handle:
            for _ in handle.raw():
                got += 1
    assert got == 6 * 2000 - 1 == len(tcpdump_view(path)[0])


def test_leaving_a_read_early_stops_the_read_ahead_thread(many_pcap):
    path, _ = many_pcap
    with pcap4py.open_offline(str(path)) as handle:
        for n, _ in enumerate(handle, 1):
            if n == 5000:
                break
        assert _read_ahead_threads() == [f"pcap4py-read-{path}"]
    assert _read_ahead_threads() == []
