"""pcapng out and in: interface names, directions, comments and statistics, checked with tshark and tcpdump.

Written files are read back by real tshark (``frame.interface_name``, ``frame.interface_description``,
``frame.packet_flags_direction``, ``frame.comment``) and tcpdump; the mixed-link-type file that
libpcap refuses is built here with ``struct``.
"""

from __future__ import annotations

import json
import signal
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pcap4py.engine.capture import Capture
from pcap4py.engine.handle import open_live
from pcap4py.sinks.pcapng import PcapngSink
from tests.fixtures.cli import capture_then_signal, pcap4py_cmd, run_cli, start_cli, wait_listening, wait_output
from tests.fixtures.dockerlab import INDEX_HTML

INBOUND, OUTBOUND = "0x00000001", "0x00000002"  # tshark's rendering of epb_flags bits 0-1


def tshark(path, *fields: str, display_filter: str = "") -> list[list[str]]:
    args = ["tshark", "-n", "-r", str(path), "-T", "fields"] + [x for f in fields for x in ("-e", f)]
    if display_filter:
        args += ["-Y", display_filter]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [line.split("\t") for line in proc.stdout.splitlines()]


def tcpdump_count(path) -> int:
    proc = subprocess.run(["tcpdump", "-n", "-r", str(path)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return len(proc.stdout.splitlines())


def blocks(path) -> list[tuple[int, bytes]]:
    """(type, body) of each block of a little-endian pcapng file."""
    raw = Path(path).read_bytes()
    out, p = [], 0
    while p < len(raw):
        kind, length = struct.unpack_from("<II", raw, p)
        assert length >= 12 and p + length <= len(raw), f"bad block at {p}"
        assert struct.unpack_from("<I", raw, p + length - 4)[0] == length
        out.append((kind, raw[p + 8:p + length - 4]))
        p += length
    return out


def isb_counters(body: bytes) -> dict[int, int]:
    """Option code -> value of an interface statistics block's 8-byte counters."""
    opts, p = {}, 12
    while p + 4 <= len(body):
        code, size = struct.unpack_from("<HH", body, p)
        if code == 0:
            break
        if size == 8:
            opts[code] = struct.unpack_from("<Q", body, p + 4)[0]
        p += 4 + (size + 3) // 4 * 4
    return opts


def stats_line(err: str, what: str) -> int:
    return int(next(l for l in err.splitlines() if l.endswith(what)).split()[0])


# --------------------------------------------------------------------------- live, veth lab


def test_two_interfaces_in_one_file_named_and_in_time_order(veth, tmp_path):
    path = tmp_path / "two.pcapng"
    cap = Capture([open_live(veth.host_if, filter="icmp", index=0), open_live("lo", filter="icmp", index=1)])
    sink = PcapngSink(str(path), cap)

    def write() -> None:
        for batches in cap.rounds():
            sink.write_round(batches)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(3):  # alternate, so a file in arrival order is interleaved
            veth.ns.ping(veth.host_ip, 1)
            subprocess.run(["ping", "-n", "-q", "-c", "1", "-W", "1", "127.0.0.1"], capture_output=True, timeout=10)
        time.sleep(0.5)
    finally:
        cap.stop()
        writer.join(10)
        sink.write_statistics(cap)
        sink.close()
        cap.close()
    rows = tshark(path, "frame.interface_name", "frame.time_epoch", "ip.src")
    names = [r[0] for r in rows]
    assert names.count(veth.host_if) == 6 and names.count("lo") == 6, names
    # interleaved in the file as on the wire: not all of one interface, then the other
    assert names[:2] == [veth.host_if] * 2 and names[2:4] == ["lo"] * 2, names
    times = [float(r[1]) for r in rows]
    assert times == sorted(times)
    assert tcpdump_count(path) == 12
    assert [kind for kind, _ in blocks(path)].count(5) == 2  # one statistics block per interface


# --------------------------------------------------------------------------- the CLI, signals, pipes


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stop_signal_leaves_a_valid_file_with_statistics(veth, tmp_path, signum):
    path = tmp_path / "sig.pcapng"
    rc, err = capture_then_signal(veth, path, signum)
    assert rc == 0, err
    captured = stats_line(err, "packets captured")
    assert captured == 20
    assert len(tshark(path, "frame.number")) == captured
    assert tcpdump_count(path) == captured
    stats = [isb_counters(body) for kind, body in blocks(path) if kind == 5]
    assert len(stats) == 1
    assert stats[0][8] == captured  # isb_usrdeliv
    assert stats[0][4] == stats_line(err, "packets received by filter")  # isb_ifrecv
    assert stats[0][5] == stats_line(err, "packets dropped by kernel")  # isb_ifdrop


def test_pcapng_to_stdout_piped_into_tshark(veth):
    cap = subprocess.Popen(pcap4py_cmd("capture", veth.host_if, "-w", "-", "--pcapng", "-c", "5", "udp"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reader = subprocess.Popen(["tshark", "-n", "-r", "-", "-T", "fields", "-e", "frame.interface_name",
                               "-e", "udp.dstport"], stdin=cap.stdout, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    cap.stdout.close()  # tshark holds the pipe now
    try:
        wait_listening(cap)
        veth.send_udp(veth.host_ip, 5556, b"into-a-pipe", count=5)
        out, err = reader.communicate(timeout=30)
        cap.wait(timeout=30)
    finally:
        for p in (cap, reader):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert cap.returncode == 0
    assert reader.returncode == 0, err
    assert out.splitlines() == [f"{veth.host_if}\t5556"] * 5


@pytest.mark.parametrize("args, message", [
    (["capture", "lo", "-c", "2", "--comments", "-w", "F.pcap"], "--comments needs pcapng output"),
    (["capture", "lo", "-c", "2", "--comments"], "--comments needs pcapng output"),
    (["read", "IN", "--comments", "--format", "json"], "--comments needs pcapng output"),
    (["capture", "lo", "-c", "2", "--pcapng"], "--pcapng needs -w"),
])
def test_pcapng_options_without_pcapng_output_are_usage_errors(tmp_path, args, message):
    from tests.fixtures.pcapfiles import write_pcap

    write_pcap(tmp_path / "IN", 1, [b"\x00" * 60])
    args = [str(tmp_path / a) if a in ("F.pcap", "IN") else a for a in args]
    res = run_cli(*args)
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith(f"pcap4py: {message}") and len(res.stderr.splitlines()) == 1, res.stderr
    assert not (tmp_path / "F.pcap").exists()


def test_snaplen_and_nano_resolution_in_the_interface_block(veth, tmp_path):
    path = tmp_path / "nano.pcapng"
    proc = start_cli("capture", veth.host_if, "-w", str(path), "--nano", "-s", "96", "-c", "2", "udp")
    wait_listening(proc)
    veth.send_udp(veth.host_ip, 5557, b"x" * 200, count=2)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    idb = next(body for kind, body in blocks(path) if kind == 1)
    linktype, _, snaplen = struct.unpack_from("<HHI", idb)
    assert (linktype, snaplen) == (1, 96)
    assert b"\x09\x00\x01\x00\x09" in idb  # if_tsresol = 9
    assert b"udp" in idb  # if_filter
    rows = tshark(path, "frame.len", "frame.cap_len", "frame.time_epoch")
    assert [r[:2] for r in rows] == [["242", "96"]] * 2
    assert all(len(r[2].split(".")[1]) == 9 for r in rows)


def test_any_device_directions_from_the_kernel_packet_type(veth, tmp_path):
    path = tmp_path / "any.pcapng"
    proc = start_cli("capture", "any", "-w", str(path), "-c", "4", f"icmp and host {veth.peer_ip}")
    wait_listening(proc)
    veth.ns.ping(veth.host_ip, 2)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    rows = tshark(path, "frame.interface_name", "frame.encap_type", "icmp.type", "frame.packet_flags_direction")
    assert {(r[0], r[1]) for r in rows} == {("any", "25")}  # Linux cooked v1
    assert sorted((r[2], r[3]) for r in rows) == [("0", OUTBOUND)] * 2 + [("8", INBOUND)] * 2


# --------------------------------------------------------------------------- containers


def test_container_capture_names_directions_and_comments(dockerlab, tmp_path):
    web = dockerlab.httpd("web")
    client = dockerlab.run("client")
    path = tmp_path / "web.pcapng"
    proc = start_cli("capture", "--container", web.name, "-w", str(path), "--comments", text=True)
    err = wait_output(proc, "listening on", timeout=30)
    deadline = time.monotonic() + 30
    while err.count("listening on") < 2 and time.monotonic() < deadline:
        err += wait_output(proc, "listening on", timeout=30)
    web_ip, client_ip = web.ip(), client.ip()
    out = client.fetch(f"http://{web_ip}/")
    assert out.encode() == INDEX_HTML, out
    code, out = client.exec("ping", "-c", "2", "-i", "0.2", "-W", "1", web_ip)
    assert code == 0, out
    code, out = web.exec("ping", "-c", "1", "-W", "1", "127.0.0.1")
    assert code == 0, out
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=30)
    err += rest
    assert proc.returncode == 0, err

    rows = tshark(path, "frame.interface_name", "frame.interface_description", "frame.packet_flags_direction",
                  "frame.comment", "ip.src", "ip.dst", "icmp.type", "tcp.srcport")
    eth0, lo = f"{web.name}/eth0", f"{web.name}/lo"
    assert {r[0] for r in rows} == {eth0, lo}
    assert all(web.name in r[1] and web.id[:12] in r[1] and "netns" in r[1] for r in rows)
    assert all(r[3] == r[0] for r in rows)  # --comments: container and interface
    on_eth0 = [r for r in rows if r[0] == eth0]
    requests = [r for r in on_eth0 if r[6] == "8"]
    replies = [r for r in on_eth0 if r[6] == "0"]
    assert len(requests) == 2 and {r[2] for r in requests} == {INBOUND}
    assert len(replies) == 2 and {r[2] for r in replies} == {OUTBOUND}
    http_out = [r for r in on_eth0 if r[7] == "80"]
    http_in = [r for r in on_eth0 if r[5] == web_ip and r[7] not in ("", "80")]
    assert http_out and {r[2] for r in http_out} == {OUTBOUND}
    assert http_in and {r[2] for r in http_in} == {INBOUND}
    assert all(r[4] == client_ip for r in http_in)
    # loopback traffic is sent (and received) by the container itself: outbound
    assert {r[2] for r in rows if r[0] == lo and r[6] in ("0", "8")} == {OUTBOUND}
    assert len(rows) == stats_line(err, "packets captured") == tcpdump_count(path)
    assert [kind for kind, _ in blocks(path)].count(5) == 2


def test_multi_interface_pcap_warns_once(dockerlab, tmp_path):
    web = dockerlab.httpd("web")
    res = run_cli("capture", "--container", web.name, "-w", str(tmp_path / "web.pcap"), "--duration", "1")
    assert res.returncode == 0, res.stderr
    warnings = [l for l in res.stderr.splitlines() if "warning" in l]
    assert len(warnings) == 1 and warnings[0].startswith("pcap4py: warning:")
    assert "interface" in warnings[0] and "direction" in warnings[0] and ".pcapng" in warnings[0]
    single = run_cli("capture", "lo", "-w", str(tmp_path / "lo.pcap"), "--duration", "0.5")
    assert single.returncode == 0 and "warning" not in single.stderr


# --------------------------------------------------------------------------- reading what libpcap refuses


def _option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + bytes(-len(value) % 4)


def _block(order: str, kind: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    return struct.pack(order + "II", kind, len(body) + 12) + body + struct.pack(order + "I", len(body) + 12)


def _shb(order: str) -> bytes:
    return _block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1)
                  + _option(order, 4, b"p4t-builder") + _option(order, 0, b""))


def _idb(order: str, linktype: int, name: bytes, tsresol: int = 6) -> bytes:
    return _block(order, 1, struct.pack(order + "HHI", linktype, 0, 262144) + _option(order, 2, name)
                  + _option(order, 9, bytes([tsresol])) + _option(order, 0, b""))


def _epb(order: str, iface: int, ts: int, frame: bytes) -> bytes:
    return _block(order, 6, struct.pack(order + "IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame))
                  + frame)


def _ipv4(proto: int, src: str, dst: str, l4: bytes) -> bytes:
    import socket

    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0,
                       socket.inet_aton(src), socket.inet_aton(dst)) + l4


def _udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


ICMP_ECHO = struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"ping"
ETH = bytes.fromhex("020000000002" "020000000001" "0800")
SLL = struct.pack("!HHH8sH", 4, 1, 6, bytes.fromhex("0200000000010000"), 0x0800)  # outgoing, cooked v1


def mixed_file(path: Path) -> list[str]:
    """Two sections (little- then big-endian): eth0 (Ethernet) + any (Linux cooked) at µs, then tun0
    (raw IP) at ns.  Returns the interface of each packet in file order."""
    t = 1_700_000_000_000_000  # µs
    first = (_shb("<") + _idb("<", 1, b"eth0") + _idb("<", 113, b"any")
             + _epb("<", 0, t, ETH + _ipv4(17, "198.18.0.1", "198.18.0.2", _udp(1000, 53, b"q1")))
             + _epb("<", 1, t + 1, SLL + _ipv4(1, "198.18.0.1", "198.18.0.2", ICMP_ECHO))
             + _epb("<", 1, t + 2, SLL + _ipv4(17, "198.18.0.1", "198.18.0.3", _udp(1001, 53, b"q2")))
             + _block("<", 5, struct.pack("<III", 0, 0, 0)))  # a statistics block, skipped
    second = (_shb(">") + _idb(">", 101, b"tun0", tsresol=9)
              + _epb(">", 0, (t + 3) * 1000, _ipv4(17, "198.18.0.4", "198.18.0.5", _udp(1002, 53, b"q3")))
              + _epb(">", 0, (t + 4) * 1000, _ipv4(1, "198.18.0.4", "198.18.0.5", ICMP_ECHO)))
    path.write_bytes(first + second)
    return ["eth0", "any", "any", "tun0", "tun0"]


def test_mixed_link_types_and_sections_are_read_with_interface_names(tmp_path):
    path = tmp_path / "mixed.pcapng"
    order = mixed_file(path)
    refused = subprocess.run(["tcpdump", "-n", "-r", str(path)], capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0 and "different from the type of the first interface" in refused.stderr

    res = run_cli("read", str(path), "--format", "jsonl")
    assert res.returncode == 0, res.stderr
    got = [json.loads(line) for line in res.stdout.splitlines()]
    assert [p["interface"] for p in got] == order
    # tshark 4.0 reads every packet and its link type, but names a later section's interface by its
    # number within the section (tun0 shows as eth0): compare names in the first section only
    seen = tshark(path, "frame.interface_name", "frame.encap_type")
    assert [r[0] for r in seen[:3]] == order[:3] and [r[1] for r in seen] == ["1", "25", "25", "7", "7"]
    assert [p["protocol"] for p in got] == ["UDP", "ICMP", "UDP", "UDP", "ICMP"]
    assert [p["ts_ns"] for p in got] == [(1_700_000_000_000_000 + i) * 1000 for i in range(5)]
    text = run_cli("read", str(path)).stdout.splitlines()
    assert len(text) == 5 and all(name in line for name, line in zip(order, text))

    filtered = run_cli("read", str(path), "--format", "jsonl", "udp")
    assert filtered.returncode == 0, filtered.stderr
    udp = [json.loads(line) for line in filtered.stdout.splitlines()]
    assert [p["interface"] for p in udp] == ["eth0", "any", "tun0"]
    assert len(udp) == len(tshark(path, "frame.number", display_filter="udp"))
    assert "3 packets captured" in filtered.stderr


def test_pcapng_read_and_written_again_keeps_the_interfaces(tmp_path):
    path, copy = tmp_path / "mixed.pcapng", tmp_path / "copy.pcapng"
    order = mixed_file(path)
    res = run_cli("read", str(path), "-w", str(copy), "icmp or udp port 53")
    assert res.returncode == 0, res.stderr
    rows = tshark(copy, "frame.interface_name", "frame.time_epoch")
    assert [r[0] for r in rows] == order  # one section now: tshark names every interface right
    assert [r[1] for r in rows] == [r[1] for r in tshark(path, "frame.interface_name", "frame.time_epoch")]


def test_truncated_pcapng_is_one_error_line(tmp_path):
    path = tmp_path / "cut.pcapng"
    mixed_file(path)
    path.write_bytes(path.read_bytes()[:-10])
    res = run_cli("read", str(path))
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("pcap4py: ") and "truncated pcapng file" in lines[-1]
    assert len(res.stdout.splitlines()) == 4  # the packets before the cut
