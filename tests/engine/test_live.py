"""Live capture through the Python API on a veth pair into a namespace the test made."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

import pcap4py
from pcap4py.engine.listener import Listener, SourceGone


def _capture_while(handle, action, count=None, duration=5.0) -> tuple[list, pcap4py.Stats]:
    """Start reading ``handle`` on a thread, run ``action``; return what was captured and the capture's stats."""
    got = []
    cap = pcap4py.Capture([handle], count=count, duration=duration)

    def reader():
        got.extend(cap)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.3)
    action()
    t.join(duration + 5)
    stats = cap.stats()
    cap.close()
    return got, stats


def test_udp_datagrams_are_captured_with_their_fields(veth):
    handle = pcap4py.open_live(veth.host_if, filter="udp port 5555", immediate=True)
    payloads = [f"hello-{i}".encode() for i in range(5)]

    def send():
        for p in payloads:
            veth.send_udp(veth.host_ip, 5555, p, src_port=40001)

    got, _ = _capture_while(handle, send, count=5)
    assert [p.payload for p in got] == payloads
    for p in got:
        assert (p.proto, p.src, p.dst, p.sport, p.dport) == ("UDP", veth.peer_ip, veth.host_ip, 40001, 5555)
        assert p.interface == veth.host_if
        assert p.length == p.caplen == 14 + 20 + 8 + len(p.payload)
        assert p.ip_version == 4 and p.linktype == 1
        assert abs(p.ts_ns / 1e9 - time.time()) < 60
    assert got == sorted(got, key=lambda p: p.ts_ns)


def test_filter_excludes_what_it_should(veth):
    # the UDP below also draws ICMP port-unreachable replies: the filter must leave those out too
    handle = pcap4py.open_live(veth.host_if, filter="icmp[icmptype] == icmp-echo or icmp[icmptype] == icmp-echoreply",
                               immediate=True)

    def traffic():
        veth.send_udp(veth.host_ip, 5555, b"not-icmp", count=3)
        veth.ns.ping(veth.host_ip, 2)

    got, _ = _capture_while(handle, traffic, duration=3)
    assert {p.proto for p in got} == {"ICMP"}
    kinds = sorted(p.icmp_type for p in got)
    assert kinds == [0, 0, 8, 8]  # two requests, two replies


@pytest.mark.parametrize("direction,icmp_type,source", [
    ("in", 8, "peer_ip"),   # received: the namespace's echo requests
    ("out", 0, "host_ip"),  # sent: our echo replies
], ids=["in-keeps-only-received", "out-keeps-only-sent"])
def test_direction_keeps_only_that_direction(veth, direction, icmp_type, source):
    handle = pcap4py.open_live(veth.host_if, filter="icmp", direction=direction, immediate=True)
    got, _ = _capture_while(handle, lambda: veth.ns.ping(veth.host_ip, 3), duration=3)
    assert len(got) == 3
    assert all(p.icmp_type == icmp_type and p.src == getattr(veth, source) for p in got)


def test_ipv6_echo_is_decoded(veth):
    handle = pcap4py.open_live(veth.host_if, filter="icmp6 and ip6[40] == 128", immediate=True)
    got, _ = _capture_while(handle, lambda: veth.ns.ping(veth.host_ip6, 2), count=2)
    assert [(p.proto, p.src, p.dst, p.ip_version) for p in got] == [("ICMPv6", veth.peer_ip6, veth.host_ip6, 6)] * 2
    assert [p.icmp_echo[1] for p in got] == [1, 2]


def test_handle_inside_a_namespace_sees_that_namespace(veth):
    """Opened via netns=, the handle captures the namespace's interface; this thread stays home."""
    before = pcap4py.netns.thread_netns_id()
    handle = pcap4py.open_live(veth.peer_if, filter="icmp", netns=veth.ns.name, immediate=True)
    assert pcap4py.netns.thread_netns_id() == before
    got, _ = _capture_while(handle, lambda: veth.ns.ping(veth.host_ip, 1), count=2)
    assert [p.interface for p in got] == [veth.peer_if] * 2
    assert sorted(p.icmp_type for p in got) == [0, 8]


def test_a_first_open_inside_a_namespace_leaves_no_thread_there(veth):
    """In a fresh process whose first capture is opened inside a namespace, libpcap is loaded on a
    Java thread started from home while the handle's classes are made, and waited for before the
    open: the handle captures the namespace's pings, and no thread (JNA's, the loader's) lives in
    that namespace afterwards."""
    code = ("import json, os, sys, threading, pcap4py\n"
            "h = pcap4py.open_live(sys.argv[1], filter='icmp', netns=sys.argv[2], immediate=True)\n"
            "cap = pcap4py.Capture([h], count=2, duration=10)\n"
            "got = []\n"
            "t = threading.Thread(target=lambda: got.extend(cap)); t.start()\n"
            "print('open', flush=True)\n"
            "t.join(15)\n"
            "there = os.stat(f'/run/netns/{sys.argv[2]}').st_ino\n"
            "tasks = {t: os.stat(f'/proc/self/task/{t}/ns/net').st_ino for t in os.listdir('/proc/self/task')}\n"
            "print(json.dumps({'types': sorted(p.icmp_type for p in got),\n"
            "                  'there': [t for t, ino in tasks.items() if ino == there],\n"
            "                  'libpcap': 'libpcap' in open('/proc/self/maps').read()}))\n"
            "cap.close()\n")
    proc = subprocess.Popen([sys.executable, "-c", code, veth.peer_if, veth.ns.name], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "open", proc.stderr.read()
        veth.ns.ping(veth.host_ip, 1)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    said = json.loads(out.strip().splitlines()[-1])
    assert said == {"types": [0, 8], "there": [], "libpcap": True}


def test_no_java_thread_takes_the_stop_signals():
    """After a live open in a fresh process, every thread but Python's blocks SIGINT and SIGTERM
    (the JVM's, JNA's, and the thread that loaded libpcap beside Python's work), so that a Ctrl-C
    or a kill always reaches Python's handlers."""
    code = ("import json, os, signal, pcap4py\n"
            "h = pcap4py.open_live('lo', immediate=True)\n"
            "def blocked(task):\n"
            "    line = next(l for l in open(f'/proc/self/task/{task}/status') if l.startswith('SigBlk'))\n"
            "    mask = int(line.split()[1], 16)\n"
            "    return all(mask & (1 << (s - 1)) for s in (signal.SIGINT, signal.SIGTERM))\n"
            "tasks = {t: open(f'/proc/self/task/{t}/comm').read().strip() for t in os.listdir('/proc/self/task')}\n"
            "main = str(os.getpid())\n"
            "print(json.dumps({'main': blocked(main), 'open': sorted(n for t, n in tasks.items()\n"
            "                  if t != main and not blocked(t)), 'threads': len(tasks)}))\n"
            "h.close()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout.strip().splitlines()[-1])
    assert said["main"] is False and said["threads"] > 5
    assert said["open"] == [], said


def test_pcap4j_parse_gives_real_layers(veth):
    handle = pcap4py.open_live(veth.host_if, filter="udp port 5555", immediate=True)
    got, _ = _capture_while(handle, lambda: veth.send_udp(veth.host_ip, 5555, b"layers"), count=1)
    assert got[0].layers[:3] == ["Ethernet", "IpV4", "Udp"]
    assert "Destination port: 5555" in str(got[0].pcap4j.toString())


def test_stats_count_received_and_dropped(veth):
    handle = pcap4py.open_live(veth.host_if, filter="icmp", immediate=True)
    got, stats = _capture_while(handle, lambda: veth.ns.ping(veth.host_ip, 2), count=4)
    assert len(got) == 4
    assert stats.captured == 4 and stats.received >= 4 and stats.dropped == 0


def test_interfaces_lists_loopback():
    names = {i.name: i for i in pcap4py.interfaces()}
    assert names["lo"].loopback and "127.0.0.1" in names["lo"].addresses


def test_interfaces_inside_a_namespace(veth):
    names = {i.name for i in pcap4py.interfaces(netns=veth.ns.name)}
    assert veth.peer_if in names and veth.host_if not in names


def test_unknown_interface_is_named():
    with pytest.raises(pcap4py.InterfaceNotFound, match="no such interface: 'nope0'"):
        pcap4py.open_live("nope0")


# --- a source that vanishes (the engine's side of issue 15: it knows no containers) -----------


def _read_until_the_veth_goes(veth, judge) -> tuple[pcap4py.Capture, list, float]:
    """Capture the veth and lo, send 3 datagrams over each, delete the veth; what was read, how long."""
    from tests.fixtures.netlab import send_udp, sh

    cap = pcap4py.Capture([pcap4py.open_live(veth.host_if, filter="udp port 5556", immediate=True),
                           pcap4py.open_live("lo", filter="udp port 5557", immediate=True, index=1)],
                          duration=20)
    cap.listen(Listener(read_failed=lambda handle, error: None if (reason := judge(handle, error)) is None
                        else SourceGone(reason)))
    veth.send_udp(veth.host_ip, 5556, b"over-veth", count=3)
    send_udp("127.0.0.1", 5557, b"over-lo", count=3)
    vanish = threading.Timer(0.5, sh, args=("ip", "link", "del", veth.host_if))
    vanish.start()
    got, started = [], time.monotonic()
    try:
        for p in cap:
            got.append(p)
    except BaseException:
        cap.close()
        raise
    finally:
        vanish.join()
    return cap, got, time.monotonic() - started


def test_a_read_error_blamed_on_a_vanished_source_ends_the_capture_cleanly(veth):
    judged = []
    cap, got, took = _read_until_the_veth_goes(
        veth, lambda handle, error: judged.append((handle.name, str(error))) or "the lab went away")
    try:
        assert cap.stop_reason == "the lab went away" and took < 10
        assert [(name, msg.startswith(f"reading from {veth.host_if} failed: ")) for name, msg in judged] == \
            [(veth.host_if, True)]
        assert sorted(p.payload for p in got) == [b"over-lo"] * 3 + [b"over-veth"] * 3
        assert cap.stats().captured == 6
    finally:
        cap.close()


def test_a_read_error_its_judge_does_not_blame_on_the_source_is_raised(veth):
    with pytest.raises(pcap4py.CaptureError, match=f"reading from {veth.host_if} failed"):
        _read_until_the_veth_goes(veth, lambda handle, error: None)


def test_closers_run_once_before_the_handles_close(veth):
    handle = pcap4py.open_live(veth.host_if)
    cap = pcap4py.Capture([handle])
    seen = []
    cap.listen(Listener(closing=lambda: seen.append(handle.captured)))  # raises once the handle is closed
    cap.close()
    cap.close()
    assert seen == [0] and cap.stop_reason is None
