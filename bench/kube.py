"""Section kube: two Kubernetes pods exchange bounded traffic; ``capture --kube`` merges both pods'
streams while pcap4py and tcpdump capture the same traffic locally, on the CNI bridge, in one run.

The cluster is the tests' single node (bench/kubelab.py; skipped with a line when none can be
started).  ``sender`` sends ``kube_packets`` 60-byte UDP frames to ``receiver`` (which binds the
port and never reads: no ICMP comes back) at top speed from a Python loop in the pod, bounded by
count and time.  Every capturer uses the filter ``udp port 9999`` and starts before the traffic:

* ``capture --kube --pod sender --pod receiver -w F.pcapng``: an agent in each pod, streamed
  through the API server, merged; each frame is there twice (sent by one pod, received by the
  other), so it should hold 2 x sent.  Its rate is what it delivered: frames in the file over the
  time from the first frame sent to the file's last growth (the streams' lag included);
* ``pcap4py capture -i BRIDGE -w F`` and ``tcpdump -i BRIDGE -w F`` on the host: each frame once
  (a promiscuous bridge passes the frames it forwards up to its capturers), so sent; rated over
  the sender's time.

dropped = expected - captured (as the file holds it, and each capturer's own counters beside it).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from . import gen, lab
from .config import Config
from .kubelab import BenchCluster, Unavailable, cluster
from .proc import Proc, python, wait_capturing
from .report import Row, Section

NS = "p4bench"
PORT = 9999
FILTER = f"udp port {PORT}"
JOIN_TIMEOUT = 150.0  # both agents streaming (ephemeral containers started, attached)
SEND_LIMIT_S = 120.0
SETTLED_S = 3.0  # the merged file has not grown for this long: everything sent has arrived
DELIVERY_LIMIT_S = 180.0

SENDER = """
import socket, sys, time
ip, port, n, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((ip, port))
payload = b"p4" * 9  # 60-byte frames
sent = tries = 0
t0 = time.perf_counter()
while sent < n:
    tries += 1
    try:
        s.send(payload)
        sent += 1
    except OSError:
        pass  # ENOBUFS: the queue is full, try again
    if tries % 1000 == 0 and time.perf_counter() - t0 > limit:
        break
print(sent, round(time.perf_counter() - t0, 3))
"""
RECEIVER = f"import socket, time; s = socket.socket(2, 2); s.bind(('', {PORT})); time.sleep(3600)"


def _pods(image: str) -> str:
    def pod(name: str, command: list[str]) -> str:
        cmd = ", ".join(repr(c) for c in command)
        return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {NS}}}\nspec:\n"
                f"  terminationGracePeriodSeconds: 1\n  containers:\n"
                f"  - {{name: main, image: {image}, imagePullPolicy: Never, command: [{cmd}]}}\n")

    return "\n---\n".join([f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NS}}}\n",
                           pod("receiver", ["python3", "-c", RECEIVER]), pod("sender", ["sleep", "3600"])])


def measure(cfg: Config) -> Section:
    sec = Section("kube")
    try:
        with cluster() as c:
            _measure(sec, cfg, c)
    except Unavailable as e:
        sec.notes.append(f"skipped: no Kubernetes cluster can be started here: {e}")
        print(f"  kube: skipped: {e}", file=sys.stderr, flush=True)
    return sec


def _wait_joined(proc: Proc, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.alive():
        if proc.stderr_so_far().count("pcap4py: + pod ") >= count:
            return True
        time.sleep(0.2)
    return False


def _wait_settled(path: Path, since: float) -> float:
    """The moment ``path`` last grew, once it has not grown for :data:`SETTLED_S` (bounded)."""
    size, grew = -1, since
    deadline = time.monotonic() + DELIVERY_LIMIT_S
    while time.monotonic() < deadline:
        now = path.stat().st_size if path.exists() else 0
        if now != size:
            size, grew = now, time.monotonic()
        elif time.monotonic() - grew >= SETTLED_S:
            break
        time.sleep(0.1)
    return grew


def _per_interface(path: Path) -> dict[str, int]:
    """Frames of each interface of a pcapng file, read with pcap4py's stream parser (no JVM)."""
    from pcap4py.remote.stream import Frames, Interface, StreamParser

    parser, names, counts = StreamParser(), {}, {}
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            for event in parser.feed(chunk):
                if isinstance(event, Interface):
                    names[event.number] = event.name or str(event.number)
                elif isinstance(event, Frames):
                    name = names[event.number]
                    counts[name] = counts.get(name, 0) + event.count
    return counts


def _measure(sec: Section, cfg: Config, c: BenchCluster) -> None:
    n = cfg.kube_packets
    c.kubectl("apply", "-f", "-", input=_pods(c.image))
    c.kubectl("-n", NS, "wait", "--for=condition=Ready", "pod/sender", "pod/receiver", "--timeout=120s", timeout=150)
    receiver_ip = c.kubectl("-n", NS, "get", "pod", "receiver", "-o", "jsonpath={.status.podIP}").stdout.strip()
    files = {k: cfg.path(f"kube-{k}") for k in ("merged.pcapng", "local.pcap", "tcpdump.pcap")}
    for f in files.values():
        f.unlink(missing_ok=True)
    kube = Proc(python("-m", "pcap4py", "capture", "--kube", "--namespace", NS, "--pod", "sender", "--pod", "receiver",
                       "--image", c.image, "--image-pull-policy", "Never", "-w", str(files["merged.pcapng"]), FILTER),
                env=c.env())
    local = Proc(python("-m", "pcap4py", "capture", "-i", c.cni_bridge, "-w", str(files["local.pcap"]), "-f", FILTER),
                 stdout_null=True)
    tcpdump = Proc(["tcpdump", "-i", c.cni_bridge, "-Z", "root", "-w", str(files["tcpdump.pcap"]), FILTER],
                   stdout_null=True)
    procs = {"capture --kube (2 pods, merged)": kube, "pcap4py capture -i bridge": local, "tcpdump -i bridge": tcpdump}
    try:
        print(f"  kube: {n:,} frames sender -> receiver ...", file=sys.stderr, flush=True)
        ready = {"kube": _wait_joined(kube, 2, JOIN_TIMEOUT), "local": wait_capturing(local, 30),
                 "tcpdump": wait_capturing(tcpdump, 30)}
        if not all(ready.values()):
            sec.notes.append(f"a capturer never started: {ready}; kube: {kube.stderr_so_far()[-300:]}")
            return
        started = time.monotonic()
        out = c.kubectl("-n", NS, "exec", "sender", "--", "python3", "-c", SENDER, receiver_ip, str(PORT), str(n),
                        str(SEND_LIMIT_S), timeout=SEND_LIMIT_S + 60).stdout.split()
        sent, send_s = int(out[0]), float(out[1])
        delivered = _wait_settled(files["merged.pcapng"], started) - started
        done = {label: p.stop(timeout=60) for label, p in procs.items()}
    finally:
        for p in procs.values():
            if p.alive():
                p.stop(timeout=10)
    _rows(sec, n, sent, send_s, delivered, done, files)


def _rows(sec: Section, n: int, sent: int, send_s: float, delivered: float, done: dict, files: dict) -> None:
    per_pod = _per_interface(files["merged.pcapng"])
    merged = sum(per_pod.values())
    local, tcpdump = gen.count(files["local.pcap"]), gen.count(files["tcpdump.pcap"])
    for f in files.values():
        f.unlink(missing_ok=True)  # the figures are what we keep
    sec.raw.update(sent=sent, send_s=send_s, offered_pps=round(sent / send_s) if send_s else None,
                   delivered_s=round(delivered, 2), per_interface=per_pod,
                   counters={label: {**lab.tcpdump_stats(d.stderr), "rc": d.rc, "cpu_s": round(d.cpu, 2),
                                     "maxrss_mb": round(d.maxrss_mb, 1)} for label, d in done.items()},
                   written={"merged": merged, "local": local, "tcpdump": tcpdump})
    kube_pps = round(merged / delivered) if delivered > 0 else None
    local_pps, td_pps = (round(x / send_s) if send_s else None for x in (local, tcpdump))
    sec.notes.append(f"sender: {sent:,} of {n:,} 60-byte UDP frames in {send_s:.2f} s "
                     f"({sec.raw['offered_pps'] or 0:,} pkt/s), pod to pod across the CNI bridge; "
                     f"capture --kube delivered the last {delivered - send_s:.1f} s after the sender ended")
    sec.notes.append("capture --kube per interface: " + ", ".join(f"{k} {v:,}" for k, v in sorted(per_pod.items())))
    sec.rows += [
        Row("kube", "capture --kube, 2 pods merged: pkt/s delivered", "pkt/s", kube_pps, "tcpdump -i bridge",
            td_pps, note="each frame twice (both pods' eth0)"),
        Row("kube", "capture --kube: dropped (of 2 x sent)", "pkts", 2 * sent - merged, "tcpdump -i bridge",
            sent - tcpdump, higher_is_better=False, compare=False),
        Row("kube", "capture -i bridge: pkt/s", "pkt/s", local_pps, "tcpdump -i bridge", td_pps),
        Row("kube", "capture -i bridge: dropped", "pkts", sent - local, "tcpdump -i bridge", sent - tcpdump,
            higher_is_better=False, compare=False),
    ]
