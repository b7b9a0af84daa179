"""A remote capture's stream: the pcapng parser (pieces of any size, both byte orders, fuzzed), and
the whole path without Kubernetes: the pod agent run in a namespace, its stdout read by a
StreamFeed into stream-fed live handles, merged by a Capture and written by the pcapng sink."""

from __future__ import annotations

import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from pcap4py.remote.stream import Frames, Interface, Statistics, StreamError, StreamParser

FRAME_A = bytes(range(60))
FRAME_B = b"\xff" * 6 + b"\x02" * 6 + b"\x08\x06" + bytes(28)


def _block(order: str, kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack(order + "II", kind, len(body) + 12) + body + struct.pack(order + "I", len(body) + 12)


def _option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def sample_stream(order: str = "<") -> bytes:
    """A section with two interfaces (ns and us resolution), three packets, a statistics block."""
    shb = _block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    shb = b"\x0a\x0d\x0d\x0a" + shb[4:]
    idb0 = _block(order, 1, struct.pack(order + "HHI", 1, 0, 262144) + _option(order, 2, b"eth0")
                  + _option(order, 3, b"pcap4py-agent mac=02:00:00:00:00:01 ips=198.18.9.2")
                  + _option(order, 9, b"\x09") + _option(order, 0, b""))
    idb1 = _block(order, 1, struct.pack(order + "HHI", 1, 0, 65535) + _option(order, 2, b"lo"))
    t = 1_700_000_000_123_456_789

    def epb(iface: int, ts: int, frame: bytes) -> bytes:
        return _block(order, 6, struct.pack(order + "IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame))
                      + frame)

    isb = _block(order, 5, struct.pack(order + "III", 0, 0, 0) + _option(order, 4, struct.pack(order + "Q", 7))
                 + _option(order, 5, struct.pack(order + "Q", 1)) + _option(order, 0, b""))
    return shb + idb0 + idb1 + epb(0, t, FRAME_A) + epb(1, t // 1000, FRAME_B) + epb(0, t + 5, FRAME_B) + isb


def _unpack(frames: Frames) -> list[tuple[int, bytes]]:
    out, at = [], 0
    while at < len(frames.data):
        ts, caplen, _ = struct.unpack_from("<QII", frames.data, at)
        out.append((ts, frames.data[at + 16:at + 16 + caplen]))
        at += 16 + caplen
    return out


def _parse_in_pieces(data: bytes, rng: random.Random) -> list:
    parser, events, at = StreamParser(), [], 0
    while at < len(data):
        n = rng.randint(1, 64)
        events += parser.feed(data[at:at + n])
        at += n
    parser.finish()
    return events


@pytest.mark.parametrize("order", ["<", ">"])
def test_pieces_of_any_size_give_the_same_packets(order):
    whole = StreamParser().feed(sample_stream(order))
    rng = random.Random(22)
    for _ in range(20):
        pieces = _parse_in_pieces(sample_stream(order), rng)
        assert [i for i in pieces if isinstance(i, Interface)] == [i for i in whole if isinstance(i, Interface)]
        assert sorted(p for f in pieces if isinstance(f, Frames) for p in _unpack(f)) == \
            sorted(p for f in whole if isinstance(f, Frames) for p in _unpack(f))
    ifaces = [i for i in whole if isinstance(i, Interface)]
    assert [(i.name, i.snaplen) for i in ifaces] == [("eth0", 262144), ("lo", 65535)]
    packets = {f.number: _unpack(f) for f in whole if isinstance(f, Frames)}
    t = 1_700_000_000_123_456_789
    assert packets[0] == [(t, FRAME_A), (t + 5, FRAME_B)]  # if_tsresol 9: ns as written
    assert packets[1] == [(t // 1000 * 1000, FRAME_B)]  # the default resolution: microseconds
    stats = [s for s in whole if isinstance(s, Statistics)]
    assert stats == [Statistics(0, 7, 1, None)]


def test_an_error_line_instead_of_pcapng_is_reported_as_that_line():
    parser = StreamParser()
    with pytest.raises(StreamError, match="not a pcapng stream: pcap4py: no permission to capture on eth0"):
        parser.feed(b"pcap4py: no permission to capture on eth0: CAP_NET_RAW is missing\n")


def test_a_stream_cut_inside_a_block_says_so():
    data = sample_stream()
    parser = StreamParser()
    parser.feed(data[:-7])
    with pytest.raises(StreamError, match="ends inside a block"):
        parser.finish()


def test_fuzzed_streams_raise_only_stream_errors():
    """Seeded, bounded: flipped bytes, cut and repeated pieces never raise anything but StreamError."""
    rng = random.Random(2222)
    base = sample_stream()
    for _ in range(3000):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            cut = rng.randrange(len(data))
            data = data[:cut] + data[rng.randrange(len(data)):]
        try:
            _parse_in_pieces(bytes(data), rng)
        except StreamError:
            pass


# --- the whole path, without Kubernetes ---------------------------------------------------------
def _tshark(path: str, *fields: str) -> list[list[str]]:
    args = ["tshark", "-r", path, "-T", "fields"] + [a for f in fields for a in ("-e", f)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def test_the_agent_stream_becomes_named_interfaces_with_directions(veth, tmp_path):
    """The agent in a namespace writes pcapng on stdout; fed through StreamFeed into stream
    handles, the merged file names each interface NS/POD/IFACE, keeps the pod's directions, and
    holds every packet the agent counted."""
    from pcap4py.engine.capture import Capture
    from pcap4py.engine.pov import PointOfView
    from pcap4py.remote.agent import parse_description
    from pcap4py.remote.handle import StreamFeed, StreamHandle, source_of
    from pcap4py.sinks.pcapng import PcapngSink

    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    agent = veth.ns.popen(sys.executable, "-m", "pcap4py.remote.agent", "--attach-timeout", "30",
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    agent.stdin.write(b"\n")
    agent.stdin.flush()
    cap = Capture([], growing=True)
    joined = threading.Event()
    ended = []

    def on_interfaces(ifaces):
        first = cap.reserve_sources(len(ifaces))
        described = [parse_description(i.description) for i in ifaces]
        view = PointOfView(frozenset(m for m, _ in described if m), frozenset(ip for _, a in described for ip in a))
        handles = [StreamHandle(source_of(i, first + n, label=f"ns/pod/{i.name}", description="test", view=view),
                                on_end=lambda h: (ended.append(h), cap.remove(h),
                                                  len(ended) == len(handles) and cap.stop("ended")))
                   for n, i in enumerate(ifaces)]
        cap.add(handles)
        joined.set()
        return handles

    def chunks():
        while True:
            data = os.read(agent.stdout.fileno(), 65536)
            if not data:
                return
            yield data

    failures = []
    feed = StreamFeed("pod", chunks(), on_interfaces, failures.append)
    threading.Thread(target=feed.run, daemon=True).start()
    out = str(tmp_path / "merged.pcapng")
    sink = PcapngSink(out, cap, nano=True)

    def traffic():
        assert joined.wait(30)
        # the agent's handles are open before it describes them, but on a loaded machine the pings
        # once went by unseen: first a datagram at a time until one is in the merged file (10 s)
        warm = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            warm.sendto(b"warm-up", (veth.peer_ip, 9))
            time.sleep(0.2)
            seen = subprocess.run(["tcpdump", "-n", "-r", out, "udp port 9"], capture_output=True, text=True,
                                  timeout=30).stdout
            if seen.strip():
                break
        warm.close()
        subprocess.run(["ping", "-n", "-q", "-c", "5", "-i", "0.2", "-W", "1", veth.peer_ip],
                       capture_output=True, timeout=10)
        time.sleep(0.5)
        agent.stdin.close()  # the lifeline ends: the agent writes its statistics and exits

    t = threading.Thread(target=traffic)
    t.start()
    try:
        sink.consume(cap)
        sink.end(cap)
    finally:
        sink.close()
        cap.close()
        t.join(30)
        agent.wait(30)
    assert not failures and agent.returncode == 0
    rows = _tshark(out, "frame.interface_name", "frame.packet_flags_direction", "icmp.type")
    echo = [(name, direction, kind) for name, direction, kind in rows if kind in ("0", "8")]
    iface = f"ns/pod/{veth.peer_if}"
    # requests arrive at the pod (inbound, 0x1), replies leave it (outbound, 0x2)
    assert echo.count((iface, "0x00000001", "8")) == 5
    assert echo.count((iface, "0x00000002", "0")) == 5
    assert {r[0] for r in rows} <= {iface, "ns/pod/lo"}
