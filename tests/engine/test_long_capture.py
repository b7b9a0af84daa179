"""A long capture whose sources come and go: more of them over its life than a record's one-byte
source index can number (a day-long ``--follow``).

The indexes of sources that left are given out again; the pcapng writer gives each newcomer an
interface block and number of its own, and the line formatter names it.  Real handles on lo and
real containers; files read back by tshark.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import replace

import pytest

import pcap4py
from pcap4py.engine import capture as capture_module
from pcap4py.engine.capture import Capture
from pcap4py.engine.listener import Listener
from pcap4py.engine.handle import open_live
from pcap4py.sinks.lines import LineSink
from pcap4py.sinks.pcapng import PcapngSink
from tests.sinks.test_pcapng import tshark

PORT = 38000 + os.getpid() % 500


def _send(payload: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(payload, ("127.0.0.1", PORT))


def _wait(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def _come_and_go(cap: Capture, sink, sources: int) -> list[int]:
    """``sources`` handles on lo, one after another, each joining, getting one datagram, leaving;
    returns the source index each got."""
    consumer = threading.Thread(target=sink.consume, args=(cap,))
    consumer.start()
    indexes = []
    try:
        for k in range(sources):
            first = cap.reserve_sources(1)
            handle = open_live("lo", filter=f"udp port {PORT}", immediate=True, index=first)
            handle.source = replace(handle.source, label=f"src{k}")
            indexes.append(first)
            cap.add([handle])
            _wait(lambda: handle in cap.handles, "the handle to join")
            _send(b"k=%d" % k)
            _wait(lambda: cap.seen == k + 1, f"packet {k}")
            cap.remove(handle)
            _wait(lambda: handle not in cap.handles, "the handle to leave")
    finally:
        cap.stop()
        consumer.join(30)
        sink.end(cap)
        sink.close()
        cap.close()
    return indexes


def test_more_sources_over_a_life_than_one_byte_numbers_to_pcapng(tmp_path):
    path = tmp_path / "many.pcapng"
    cap = Capture([], growing=True)
    indexes = _come_and_go(cap, PcapngSink(str(path), cap), 300)
    assert max(indexes) < 2  # each source gets the index of one that left
    rows = tshark(path, "frame.interface_id", "frame.interface_name", "udp.payload")
    assert len(rows) == 300
    for k, (interface_id, name, payload) in enumerate(rows):
        assert (interface_id, name, bytes.fromhex(payload.replace(":", ""))) == (str(k), f"src{k}", b"k=%d" % k)


def test_a_reused_source_index_is_named_afresh_in_lines(tmp_path):
    path = tmp_path / "lines.jsonl"
    cap = Capture([], growing=True)
    with open(path, "wb") as out:
        sink = LineSink(out.fileno(), "jsonl", [], with_interface=True, by_label=True)
        cap.listen(Listener(added=sink.add_sources))  # as open_sink does
        indexes = _come_and_go(cap, sink, 30)
    assert max(indexes) < 2  # each source gets the index of one that left
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["interface"] for r in records] == [f"src{k}" for k in range(30)]


@pytest.mark.docker
def test_follow_captures_containers_past_the_source_limit(dockerlab, monkeypatch):
    """At most 4 sources at a time (256 in real life): five containers with two interfaces each,
    one after another, all captured (before, the third one was refused: 'at most 4 sources')."""
    monkeypatch.setattr(capture_module, "MAX_SOURCES", 4)
    label = f"p4t.long={dockerlab.tag}"
    lines: list[str] = []
    names = []
    with pcap4py.open_containers(labels=[label], follow=True, filter="icmp", report=lines.append) as cap:
        seen: list = []
        consumer = threading.Thread(target=lambda: seen.extend(p.source.label for p in cap))
        consumer.start()
        try:
            for k in range(5):
                # sh waits for the capture to join it, pings itself once, and exits
                c = dockerlab.run(f"long{k}", "sh", "-c", "sleep 1.5; ping -c 1 -W 1 127.0.0.1; sleep 0.3",
                                  labels={"p4t.long": dockerlab.tag})
                names.append(c.name)
                _wait(lambda: any(f"- container {c.name} stopped" in l for l in lines),
                      f"{c.name} to stop", timeout=20)
        finally:
            cap.stop()
            consumer.join(30)
    assert not [l for l in lines if "warning" in l], lines
    for name in names:
        assert seen.count(f"{name}/lo") == 2, (name, seen, lines)  # the echo request and its reply
