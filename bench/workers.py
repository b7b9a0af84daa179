"""The Python-side measurements, each run alone in its own process: ``python -m bench.workers NAME ...``.

Each worker prints one JSON line: at least ``count`` (packets it handled) and ``loop_s`` (seconds
spent in its loop, after imports and, for pcap4py, after the JVM has started: start-up is measured
on its own in the start-up section). The harness also times the whole process.

The ``pcap4py-*`` workers are pcap4py's slots; the others are the peers.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
import threading
import time


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


# ---------------------------------------------------------------------------------------- peers, offline

def dpkt_raw(path: str) -> None:
    """dpkt: iterate the raw records (timestamp, bytes)."""
    import dpkt

    n = nbytes = 0
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            n += 1
            nbytes += len(buf)
    emit(count=n, bytes=nbytes, loop_s=time.perf_counter() - t0)


def dpkt_decode(path: str) -> None:
    """dpkt: decode Ethernet and IPv4/IPv6, then the summary fields (protocol, addresses, ports)."""
    import dpkt

    ip4, ip6 = dpkt.ip.IP, dpkt.ip6.IP6
    l4 = (dpkt.tcp.TCP, dpkt.udp.UDP)
    ntoa, ntop, AF6 = socket.inet_ntoa, socket.inet_ntop, socket.AF_INET6
    n = with_ports = 0
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            n += 1
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if isinstance(ip, ip4):
                src, dst = ntoa(ip.src), ntoa(ip.dst)
            elif isinstance(ip, ip6):
                src, dst = ntop(AF6, ip.src), ntop(AF6, ip.dst)
            else:
                continue
            seg = ip.data
            if isinstance(seg, l4):
                sport, dport = seg.sport, seg.dport  # noqa: F841
                with_ports += 1
    emit(count=n, with_ports=with_ports, loop_s=time.perf_counter() - t0)


def scapy_read(path: str) -> None:
    """scapy: PcapReader (dissects every packet on read)."""
    from scapy.all import IP, PcapReader  # noqa: F401  (import outside the timed loop)

    n = 0
    t0 = time.perf_counter()
    with PcapReader(path) as r:
        for pkt in r:
            n += 1
            _ = pkt.lastlayer().name
    emit(count=n, loop_s=time.perf_counter() - t0)


def pcapy_raw(path: str) -> None:
    """pcapy-ng: open_offline + next() (raw header and bytes, libpcap in C)."""
    import pcapy  # type: ignore[import-not-found]

    r = pcapy.open_offline(path)
    n = nbytes = 0
    t0 = time.perf_counter()
    while True:
        try:
            hdr, data = r.next()
        except pcapy.PcapError:
            break
        if hdr is None:
            break
        n += 1
        nbytes += len(data)
    emit(count=n, bytes=nbytes, loop_s=time.perf_counter() - t0)


# ------------------------------------------------------------------------------------------- peers, live

class _Stopper:
    """SIGINT/SIGTERM -> an event the worker's main thread waits on."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.callbacks: list = []
        signal.signal(signal.SIGINT, self._on)
        signal.signal(signal.SIGTERM, self._on)

    def _on(self, *_: object) -> None:
        self.event.set()
        for cb in self.callbacks:
            cb()


def scapy_sniff(iface: str, bpf: str, limit_s: str) -> None:
    """scapy: AsyncSniffer with a counting callback, until SIGINT (or `limit_s`)."""
    from scapy.all import AsyncSniffer, conf

    conf.verb = 0
    count = 0

    def cb(_pkt) -> None:
        nonlocal count
        count += 1

    stop = _Stopper()
    sn = AsyncSniffer(iface=iface, filter=bpf, prn=cb, store=False)
    sn.start()
    t0 = time.perf_counter()
    stop.event.wait(float(limit_s))
    sn.stop(join=True)
    emit(count=count, loop_s=time.perf_counter() - t0)


# ------------------------------------------------------------------------------------- pcap4py's slots
# Each slot uses only pcap4py's public API, the way a user's script would.

def _pcap4py_jvm() -> float:
    """Starts the JVM outside the timed loop; returns how long it took."""
    from pcap4py.engine import jvm

    t0 = time.perf_counter()
    jvm.start()
    return time.perf_counter() - t0


def pcap4py_raw(path: str) -> None:
    """SLOT pcap4py: iterate the raw records of a file in Python: Handle.raw() -> (ts_ns, length, bytes)."""
    import pcap4py

    jvm_s = _pcap4py_jvm()
    n = nbytes = 0
    t0 = time.perf_counter()
    with pcap4py.open_offline(path) as h:
        for _ts, _length, data in h.raw():
            n += 1
            nbytes += len(data)
    emit(count=n, bytes=nbytes, loop_s=time.perf_counter() - t0, jvm_s=jvm_s)


def pcap4py_summary(path: str) -> None:
    """SLOT pcap4py: iterate with the summary fields (protocol, addresses, ports)."""
    import pcap4py

    jvm_s = _pcap4py_jvm()
    n = with_ports = 0
    t0 = time.perf_counter()
    with pcap4py.open_offline(path) as h:
        for pkt in h:
            n += 1
            proto, src, dst, sport, dport = pkt.proto, pkt.src, pkt.dst, pkt.sport, pkt.dport  # noqa: F841
            if sport is not None:
                with_ports += 1
    emit(count=n, with_ports=with_ports, loop_s=time.perf_counter() - t0, jvm_s=jvm_s)


def pcap4py_full(path: str) -> None:
    """SLOT pcap4py: the full Pcap4J parse on request (pkt.pcap4j) for every packet."""
    import pcap4py

    jvm_s = _pcap4py_jvm()
    n = 0
    t0 = time.perf_counter()
    with pcap4py.open_offline(path) as h:
        for pkt in h:
            n += 1
            _ = pkt.layers  # parses the frame with Pcap4J (pkt.pcap4j) and names its layers
    emit(count=n, loop_s=time.perf_counter() - t0, jvm_s=jvm_s)


def pcap4py_views(path: str) -> None:
    """SLOT pcap4py: zero-copy batch views (Handle.views()), touching each record's length."""
    import pcap4py

    jvm_s = _pcap4py_jvm()
    n = nbytes = 0
    t0 = time.perf_counter()
    with pcap4py.open_offline(path) as h:
        for view in h.views():
            for length in view.length:  # one Python step per record, as the pcapy-ng loop takes
                n += 1
                nbytes += length
    emit(count=n, bytes=nbytes, loop_s=time.perf_counter() - t0, jvm_s=jvm_s)


def pcap4py_iter(iface: str, bpf: str, limit_s: str) -> None:
    """SLOT pcap4py: the live Python iterator doing a trivial per-packet job, until SIGINT."""
    import pcap4py

    jvm_s = _pcap4py_jvm()
    stop = _Stopper()
    handle = pcap4py.open_live(iface, filter=bpf)
    cap = pcap4py.Capture([handle], duration=float(limit_s))
    stop.callbacks.append(cap.stop)
    n = nbytes = 0
    t0 = time.perf_counter()
    for pkt in cap:
        n += 1
        nbytes += len(pkt.data)  # the trivial job
    loop_s = time.perf_counter() - t0
    stats = cap.stats()
    emit(count=n, bytes=nbytes, loop_s=loop_s, jvm_s=jvm_s, stats=_plain(stats))


def _plain(obj: object) -> object:
    """Stats objects (dataclasses, dicts, lists of them) as JSON-able data."""
    import dataclasses

    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)  # type: ignore[arg-type]
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (int, float, str, bool)) or obj is None:
        return obj
    return repr(obj)


WORKERS = {
    "dpkt-raw": dpkt_raw,
    "dpkt-decode": dpkt_decode,
    "scapy-read": scapy_read,
    "pcapy-raw": pcapy_raw,
    "scapy-sniff": scapy_sniff,
    "pcap4py-raw": pcap4py_raw,
    "pcap4py-summary": pcap4py_summary,
    "pcap4py-full": pcap4py_full,
    "pcap4py-views": pcap4py_views,
    "pcap4py-iter": pcap4py_iter,
}


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in WORKERS:
        sys.exit(f"usage: python -m bench.workers {{{','.join(WORKERS)}}} ARGS...")
    WORKERS[argv[0]](*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
