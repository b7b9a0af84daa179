"""Output formats formatted in Java: the same lines and records as the Python reference
(tests/fixtures/reference_formats.py, what pcap4py printed before), one JSON definition for the CLI and
``Packet.to_dict()``, the streamed ``--json`` array, directions, and the zero-copy batch views.

Capture files are generated here with ``struct``: TCP, UDP, ICMP/ICMPv6, ARP, IPv6, VLAN tags,
truncated frames, Ethernet, Linux cooked v1/v2, raw IP and BSD loopback links.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import time
from collections import Counter

import pytest

from tests.fixtures import reference_formats as ref
from tests.fixtures.cli import run_cli, start_cli, wait_output

MAC_A = bytes.fromhex("02420a000002")  # the "container" in the direction tests
MAC_B = bytes.fromhex("0242c6120001")
V4 = [socket.inet_aton(a) for a in ("198.18.0.2", "198.18.0.1", "198.19.255.254")]
V6 = [socket.inet_pton(socket.AF_INET6, a) for a in
      ("2001:db8::2", "fe80::1", "::ffff:198.18.0.9", "2001:db8:0:0:1:0:0:1", "::1", "::198.18.0.7",
       "2001:db8:1:2:3:4:5:6")]


# --- frames ----------------------------------------------------------------------------------------
def ipv4(proto: int, body: bytes, src: bytes = V4[0], dst: bytes = V4[1], frag: int = 0,
         total: int | None = None) -> bytes:
    length = 20 + len(body) if total is None else total
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, length, 7, frag, 64, proto, 0, src, dst) + body


def ipv6(next_header: int, body: bytes, src: bytes = V6[0], dst: bytes = V6[1]) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(body), next_header, 64, src, dst) + body


def tcp(sport: int, dport: int, flags: int, payload: bytes = b"", seq: int = 4_000_000_000) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 12345, 5 << 4, flags, 65535, 0, 0) + payload


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def icmp(type_: int, code: int = 0, rest: bytes = b"\x12\x34\x00\x07", data: bytes = b"ping") -> bytes:
    return struct.pack("!BBH", type_, code, 0) + rest + data


def arp(op: int, sender: bytes, target: bytes, ptype: int = 0x0800) -> bytes:
    return struct.pack("!HHBBH6s4s6s4s", 1, ptype, 6, 4, op, MAC_A, sender, b"\0" * 6, target)


def eth(ethertype: int, body: bytes, src: bytes = MAC_A, dst: bytes = MAC_B, vlan: int | None = None) -> bytes:
    tag = struct.pack("!HH", 0x8100, vlan) if vlan is not None else b""
    return dst + src + tag + struct.pack("!H", ethertype) + body


def ethernet_frames() -> list[bytes]:
    junk = bytes(range(256))
    return [
        eth(0x0800, ipv4(6, tcp(40000, 80, 0x02))),
        eth(0x0800, ipv4(6, tcp(80, 40000, 0x18, b"HTTP/1.1 200 OK\r\n" + junk[:40]))),
        eth(0x0800, ipv4(6, tcp(1, 2, 0x00))),
        eth(0x0800, ipv4(6, tcp(1, 2, 0xff, b"x"))),
        eth(0x0800, ipv4(17, udp(5353, 53, b"\x00\x01query" * 5)), src=MAC_B, dst=MAC_A),
        eth(0x0800, ipv4(1, icmp(8))), eth(0x0800, ipv4(1, icmp(0), src=V4[1], dst=V4[0])),
        eth(0x0800, ipv4(1, icmp(3, 3, b"\0\0\0\0", ipv4(17, udp(1, 2))))), eth(0x0800, ipv4(1, icmp(13))),
        eth(0x0800, ipv4(47, b"\x00\x00\x08\x00" + b"g" * 20)),
        eth(0x0800, ipv4(17, b"later-fragment", frag=0x0010)),
        eth(0x0800, ipv4(255, b"reserved")),
        eth(0x0806, arp(1, V4[0], V4[1])), eth(0x0806, arp(2, V4[1], V4[0]), src=MAC_B),
        eth(0x0806, arp(1, b"\0\0\0\0", V4[2])), eth(0x0806, arp(3, V4[0], V4[1])),
        eth(0x0806, arp(1, V4[0], V4[1], ptype=0x86dd)),
        eth(0x86DD, ipv6(6, tcp(443, 50000, 0x11, b"bye"))),
        eth(0x86DD, ipv6(17, udp(546, 547, b"dhcp6"), src=V6[2], dst=V6[3])),
        eth(0x86DD, ipv6(58, icmp(128), src=V6[4], dst=V6[5])), eth(0x86DD, ipv6(58, icmp(135), src=V6[6])),
        eth(0x86DD, ipv6(58, icmp(200))),
        eth(0x86DD, ipv6(0, bytes([17, 0]) + b"\0" * 6 + udp(7, 9, b"hop-by-hop"))),
        eth(0x0800, ipv4(17, udp(1000, 2000, b"tagged")), vlan=42),
        eth(0x88CC, b"lldp" * 10), eth(0x88B5, b"local experimental"),
        eth(0x0800, ipv4(17, udp(1, 2, b"\x00\x7f\x80\xff" * 70))),
        eth(0x0800, ipv4(17, udp(1, 2), src=V4[0], dst=V4[0]), src=b"\0" * 6, dst=b"\0" * 6),
    ]


TRUNCATED = [  # (frame, how many bytes are captured)
    (eth(0x0800, ipv4(6, tcp(1234, 80, 0x10, b"cut" * 100))), 60),
    (eth(0x0800, ipv4(6, tcp(1234, 80, 0x10))), 40),  # inside the TCP header
    (eth(0x0800, ipv4(17, udp(1, 2, b"abc"))), 20),  # inside the IPv4 header
    (eth(0x86DD, ipv6(17, udp(1, 2, b"abc"))), 30),
    (eth(0x0800, ipv4(17, udp(1, 2))), 10),  # shorter than an Ethernet header
]

LINKS = {  # DLT -> frames of that link type
    113: [struct.pack("!HHH8sH", 4, 1, 6, MAC_A + b"\0\0", 0x0800) + ipv4(17, udp(5, 6, b"sll")),
          struct.pack("!HHH8sH", 0, 1, 6, MAC_B + b"\0\0", 0x0806) + arp(2, V4[1], V4[0])],
    276: [struct.pack("!HHIHBB8s", 0x86DD, 0, 2, 1, 0, 6, MAC_A + b"\0\0") + ipv6(58, icmp(129)),
          struct.pack("!HHIHBB8s", 0x0800, 0, 2, 1, 4, 6, MAC_A + b"\0\0") + ipv4(6, tcp(9, 10, 0x04))],
    101: [ipv4(6, tcp(22, 60000, 0x18, b"ssh")), ipv6(17, udp(123, 123, b"ntp"))],
    0: [struct.pack("=I", 2) + ipv4(1, icmp(8)), struct.pack("=I", 24) + ipv6(58, icmp(128)),
        struct.pack("=I", 99) + b"\x00" * 8],
}


def write_pcap(path, dlt: int, frames: list[tuple[bytes, int]], t0: float = 1_764_000_000.25) -> str:
    """A classic microsecond pcap of ``(frame, caplen)``; time stamps step over seconds and days."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, dlt))
        for i, (frame, caplen) in enumerate(frames):
            ts = t0 + i * 3607.000123 + (i % 7) * 0.000001
            sec, usec = int(ts), int(round((ts - int(ts)) * 1e6)) % 1_000_000
            f.write(struct.pack("<IIII", sec, usec, caplen, len(frame)) + frame[:caplen])
    return str(path)


@pytest.fixture(scope="module")
def pcaps(tmp_path_factory) -> list[str]:
    d = tmp_path_factory.mktemp("formats")
    files = [write_pcap(d / "ethernet.pcap", 1, [(f, len(f)) for f in ethernet_frames()] + TRUNCATED)]
    files += [write_pcap(d / f"dlt{dlt}.pcap", dlt, [(f, len(f)) for f in frames]) for dlt, frames in LINKS.items()]
    return files


def packets(path: str, local=None) -> list:
    from pcap4py.engine.capture import Capture
    from pcap4py.engine.offline import open_offline

    with Capture([open_offline(path)], local=local) as cap:
        return [p for batch in cap.batches() for p in batch]


@pytest.fixture
def zone(request):
    """Sets TZ (in this process and in the CLI's environment) and restores it afterwards."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    ref._local_second.cache_clear()
    yield request.param
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()
    ref._local_second.cache_clear()


# --- the tests -------------------------------------------------------------------------------------
def test_every_link_type_is_in_the_files(pcaps):
    kinds = {(p.linktype, p.proto) for path in pcaps for p in packets(path)}
    assert {1, 113, 276, 12, 0} == {k[0] for k in kinds}  # libpcap reports LINKTYPE_RAW (101) as DLT_RAW (12)
    assert {"TCP", "UDP", "ICMP", "ICMPv6", "ARP", "GRE", "IPv4", "LLDP", None} <= {k[1] for k in kinds}


# tcpdump prints these with printers pcap4py does not have yet (see the README's table)
NOT_YET = ("GREv0", "dhcp6", "mtrace", "LLDP", "NTPv")


def tcpdump_lines(path: str, zone: str, *flags: str) -> list[str]:
    proc = subprocess.run(["tcpdump", "-n", *flags, "-r", path], capture_output=True, text=True,
                          env={**os.environ, "TZ": zone}, timeout=60)
    return proc.stdout.splitlines()


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata", "UTC-3"], indirect=True)
def test_text_lines_are_tcpdumps(pcaps, zone):
    """tcpdump itself is the reference: every line of its but those of protocols not printed yet
    (and the rows tcpdump dumps for an LLDP frame pcap4py takes as unknown)."""
    for path in pcaps:
        proc = run_cli("read", path, env={"TZ": zone})
        assert proc.returncode == 0, proc.stderr
        ours = Counter(proc.stdout.splitlines())
        theirs = [line for line in tcpdump_lines(path, zone) if not any(n in line for n in NOT_YET)]
        missing = [line for line in theirs if not ours[line]]
        assert not missing, (path, missing)


def test_jsonl_equals_to_dict_and_the_python_reference_field_by_field(pcaps):
    for path in pcaps:
        proc = run_cli("read", path, "--format", "jsonl")
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        pkts = packets(path)
        assert len(lines) == len(pkts)
        for line, pkt in zip(lines, pkts):
            record = json.loads(line)
            old = ref.to_dict(pkt)
            assert list(record)[:len(old)] == list(old)  # the first release's keys, in its order
            assert list(record)[len(old):] == FACTS  # then the decoded facts
            for key, value in old.items():
                assert record[key] == value, (path, key, line)
            assert pkt.to_dict() == record
            assert json.dumps(record) == line  # json.dumps's spacing


FACTS = ["tcp_window", "tcp_options", "icmp", "dns"]


def test_jsonl_has_the_facts_the_text_lines_print(tmp_path):
    """TCP window and options, the ICMP description, DNS questions and answers, as tcpdump words them."""
    syn = tcp(40000, 80, 0x02)
    syn = syn[:12] + bytes([(9 << 4), 0x02]) + syn[14:] + bytes.fromhex("020405b40402080a0000000100000000")
    query = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x03web\x03lab\x00" + struct.pack("!HH", 1, 1)
    answer = (struct.pack("!HHHHHH", 0x1234, 0x8580, 1, 1, 0, 0) + b"\x03web\x03lab\x00" + struct.pack("!HH", 1, 1)
              + b"\xc0\x0c" + struct.pack("!HHIH4s", 1, 1, 60, 4, V4[0]))
    frames = [eth(0x0800, ipv4(6, syn)), eth(0x0800, ipv4(1, icmp(8))),
              eth(0x0800, ipv4(17, udp(5000, 53, query))), eth(0x0800, ipv4(17, udp(53, 5000, answer), src=V4[1]))]
    path = write_pcap(tmp_path / "facts.pcap", 1, [(f, len(f)) for f in frames])
    records = [json.loads(line) for line in run_cli("read", path, "--format", "jsonl").stdout.splitlines()]
    assert records[0]["tcp_window"] == 65535
    assert records[0]["tcp_options"] == ["mss 1460", "sackOK", "TS val 1 ecr 0"]
    assert records[1]["icmp"] == "echo request, id 4660, seq 7" and records[1]["tcp_window"] is None
    assert records[2]["dns"] == {"id": 0x1234, "response": False, "rcode": None, "questions": ["A? web.lab."],
                                 "answers": []}
    assert records[3]["dns"] == {"id": 0x1234, "response": True, "rcode": "NoError", "questions": [],
                                 "answers": ["A 198.18.0.2"]}
    text = run_cli("read", path).stdout
    assert "4660+ A? web.lab. (25)" in text and "4660* 1/0/0 A 198.18.0.2 (41)" in text


def test_hexdump_is_the_text_line_and_the_frame_rows(pcaps):
    for path in pcaps:
        proc = run_cli("read", path, "--format", "hexdump")
        assert proc.returncode == 0, proc.stderr
        chunks: list[list[str]] = []  # each packet's text: its line and any rows tcpdump adds
        for line in run_cli("read", path).stdout.splitlines():
            if line.startswith("\t"):
                chunks[-1].append(line)
            else:
                chunks.append([line])
        want = [row for chunk, p in zip(chunks, packets(path)) for row in chunk + ref.frame_dump(p.data)]
        assert proc.stdout.splitlines() == want, path  # each text line followed by its frame in hex


def test_json_array_is_the_jsonl_records(pcaps):
    path = pcaps[0]
    array = json.loads(run_cli("read", path, "--json").stdout)
    lines = [json.loads(line) for line in run_cli("read", path, "--format", "jsonl").stdout.splitlines()]
    assert array == lines and len(array) == len(ethernet_frames()) + len(TRUNCATED)
    assert json.loads(run_cli("read", path, "--json", "-c", "1").stdout) == lines[:1]
    assert json.loads(run_cli("read", path, "--json", "port 9").stdout) == []


def _line_output(path: str, fmt: str, local, tmp_path) -> str:
    """What the Java line sink writes for ``path`` with ``local``'s point of view, with the
    interface column."""
    from pcap4py.engine.capture import Capture
    from pcap4py.engine.offline import open_offline
    from pcap4py.sinks.lines import LineSink

    out = tmp_path / f"out.{fmt}"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        with Capture([open_offline(path)], local=local) as cap:
            sink = LineSink(fd, fmt, cap.sources, with_interface=True, local=local)
            for batches in cap.rounds():
                sink.write_batches(batches)
            sink.close()
    finally:
        os.close(fd)
    return out.read_text()


def test_directions_from_the_container_view_match_python(pcaps, tmp_path):
    from pcap4py.container.capture import ContainerView

    view = ContainerView(macs=frozenset({MAC_A.hex(":")}), ips=frozenset({"198.18.0.2", "2001:db8::2"}))
    for path in pcaps:
        pkts = packets(path, local=view)
        assert {p.direction for p in pkts} >= ({"in", "out"} if "ethernet" in path else set())
        assert [p.direction for p in pkts] == [ref.direction_of(view, p) for p in pkts], path
        records = [json.loads(line) for line in _line_output(path, "jsonl", view, tmp_path).splitlines()]
        assert [r["direction"] for r in records] == [p.direction for p in pkts], path
        text = [line for line in _line_output(path, "text", view, tmp_path).splitlines()
                if not line.startswith("\t")]
        columns = {"in": "In ", "out": "Out", None: "?  "}  # tcpdump -i any's direction column
        assert [line.split()[2].ljust(3) for line in text] == [columns[p.direction] for p in pkts], path
        hexdump = _line_output(path, "hexdump", view, tmp_path)
        heads = [line for line in hexdump.splitlines() if line.startswith(("OUT: ", "IN:  "))]
        assert len(heads) == sum(1 for p in pkts if p.direction), path


def test_views_are_zero_copy_columns_of_each_batch(pcaps):
    from pcap4py.engine.offline import open_offline

    path = pcaps[0]
    with open_offline(path) as h:
        want = list(h.raw())
    got = []
    with open_offline(path) as h:
        for view in h.views():
            assert isinstance(view.data, memoryview) and view.frame(0).obj is view.data.obj  # no copy
            got += [(view.ts_ns[i], view.length[i], bytes(view.frame(i))) for i in range(len(view))]
            assert sum(view.caplen) == sum(len(view.frame(i)) for i in range(len(view)))
            assert set(view.source.tolist()) == {0}
    assert got == want


def _send_udp(port: int, count: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(count):
            s.sendto(b"json-%d" % i, ("127.0.0.1", port))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_streamed_json_is_valid_after_a_signal(sig):
    if os.geteuid() != 0:
        pytest.skip("live capture on lo needs root")
    port = 47000 + sig
    proc = start_cli("capture", "lo", "--immediate", "--json", "udp", "port", str(port))
    try:
        wait_output(proc, "listening on", timeout=30)
        time.sleep(0.3)
        _send_udp(port, 5)
        time.sleep(1.0)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert out.startswith(b"[\n"), out[:40]
    records = json.loads(out)
    assert [bytes.fromhex(r["payload"]) for r in records] == [b"json-%d" % i for i in range(5)]
    assert b"5 packets captured" in err


def test_output_of_many_rounds_is_whole_while_its_buffer_grows(tmp_path):
    """The formatter's output buffer starts small and doubles as rounds fill it (1 MiB at most):
    a file whose hex output is over twice its largest comes out whole, in order, in each format."""
    frames = [(f, len(f)) for f in ethernet_frames()] * 250
    path = write_pcap(tmp_path / "many.pcap", 1, frames)
    pkts = packets(path)
    text = run_cli("read", path).stdout.splitlines()
    hexdump = run_cli("read", path, "--format", "hexdump").stdout.splitlines()
    jsonl = run_cli("read", path, "--format", "jsonl").stdout.splitlines()
    chunks: list[list[str]] = []  # each packet's text: its line and any rows tcpdump adds
    for line in text:
        if line.startswith("\t"):
            chunks[-1].append(line)
        else:
            chunks.append([line])
    assert len(pkts) == len(frames) and len(chunks) == len(pkts) and len(jsonl) == len(pkts)
    assert sum(len(line) + 1 for line in hexdump) > 2 << 20
    assert hexdump == [row for chunk, p in zip(chunks, pkts) for row in chunk + ref.frame_dump(p.data)]
    assert [json.loads(line)["payload"] for line in jsonl] == [p.to_dict()["payload"] for p in pkts]
