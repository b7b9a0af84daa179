"""Section remote: two remote sources merged (capture --host) beside a local capture of the same traffic.

A second Docker Engine in a network namespace (tests/fixtures/remotelab.py, on 198.18.124.0/30,
TLS) runs two busybox containers: ``rx`` listens on TCP port 9, ``tx`` sends it a bounded stream
(``dd | nc``; busybox's nc has no UDP).  While ``tx`` sends, in one run:

* pcap4py ``capture --host tcp://... --container tx --container rx -w merged.pcapng tcp port 9``: two
  capture sidecars on that host, their pcapng streams read back over the Engine API and merged;
* tcpdump ``-w`` in each container's namespace (``nsenter``), the local reference.

Both see the same packets twice (tx's eth0 out, rx's eth0 in).  Figures: packets captured, the
rate they arrived at (over the sender's run), drops (the kernel's counters, and packets the local
reference has that the merged capture lacks), side by side.  The local engine (the tests'
private dockerd) provides the image, loaded on the remote engine through the API first.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .config import Config
from .lab import tcpdump_stats
from .proc import Proc, _socket_inodes, python, run
from .report import Row, Section

OCTET = 124  # the bench's engine: apart from the tests' (120)
BLOCK = 1400  # bytes per write of dd
READY_TIMEOUT = 180.0  # the image load and both sidecars' start
SEND_LIMIT = 120.0


def _count(path: Path) -> int:
    done = run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number"], 300)
    return len(done.stdout.split())


def measure(cfg: Config) -> Section:
    sec = Section("remote")
    blocks = 20_000 if cfg.quick else 200_000
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.fixtures import dockerlab, imagelab, remotelab

    missing = remotelab.missing_tools()
    if missing:
        sec.notes.append(f"not run: {missing}")
        return sec
    with dockerlab.running_engine() as engine_local:
        image = imagelab.pcap4py_image.__wrapped__(engine_local)
        with remotelab.running_remote_engine(OCTET) as engine:
            sec.raw.update(_run(cfg, engine, image, blocks))
    _rows(sec, blocks)
    return sec


def _run(cfg: Config, engine, image: str, blocks: int) -> dict:
    client = engine.client()
    out = cfg.path("remote")
    out.mkdir(exist_ok=True)
    merged = out / "merged.pcapng"
    raw: dict = {"blocks": blocks, "block_bytes": BLOCK}
    procs: list[Proc] = []
    try:
        rx = client.containers.run(remotelab_image(), ["sh", "-c", "sleep 600 | nc -l -p 9 > /dev/null; sleep 600"], name="bench-rx", detach=True)
        tx = client.containers.run(remotelab_image(), ["sleep", "600"], name="bench-tx", detach=True)
        rx.reload()
        tx.reload()
        rx_ip = rx.attrs["NetworkSettings"]["IPAddress"]
        for c in (tx, rx):  # one segment per frame (no GSO): the packet rate is what is measured
            run(["nsenter", "-t", str(c.attrs["State"]["Pid"]), "-n", "ip", "link", "set", "dev", "eth0",
                 "gso_max_segs", "1"], 10)
        ours = Proc(python("-m", "pcap4py", "capture", "--host", engine.tcp_url, *engine.tls_args, "--image", image,
                           "--container", "bench-tx", "--container", "bench-rx", "-w", str(merged), "tcp port 9"))
        procs.append(ours)
        local = {}
        for c in (tx, rx):
            pid = c.attrs["State"]["Pid"]
            local[c.name] = Proc(["nsenter", "-t", str(pid), "-n", "tcpdump", "-i", "eth0", "-Z", "root",
                                  "-w", str(out / f"{c.name}.pcap"), "tcp", "port", "9"], stdout_null=True)
            procs.append(local[c.name])
        ready = _wait_joined(ours, 2, READY_TIMEOUT) and all(_wait_packet_socket(p, 30) for p in local.values())
        if not ready:
            raw["error"] = "the captures did not start: " + " | ".join(
                p.stop().brief(12) for p in [ours, *local.values()])
            return raw
        t0 = time.monotonic()
        res = tx.exec_run(["sh", "-c", f"dd if=/dev/zero bs={BLOCK} count={blocks} 2>/dev/null "
                                       f"| timeout {SEND_LIMIT:.0f} nc {rx_ip} 9"])
        raw["send_s"] = round(time.monotonic() - t0, 2)
        raw["send_exit"] = res.exit_code
        time.sleep(3.0)  # rings, sockets and the sidecars' streams drain
        done = ours.stop(timeout=60)
        raw["pcap4py"] = {**tcpdump_stats(done.stderr), "rc": done.rc, "cpu_s": round(done.cpu, 2),
                          "maxrss_mb": round(done.maxrss_mb, 1), "written": _count(merged) if merged.exists() else None,
                          "stderr": done.stderr[-600:]}
        raw["tcpdump"] = {}
        for name, proc in local.items():
            d = proc.stop(timeout=30)
            raw["tcpdump"][name] = {**tcpdump_stats(d.stderr), "rc": d.rc}
        return raw
    finally:
        for p in procs:
            if p.alive():
                p.stop(timeout=10)
        for name in ("bench-rx", "bench-tx"):
            try:
                client.containers.get(name).remove(force=True)
            except Exception:
                pass
        client.close()
        for f in out.glob("*"):
            f.unlink()


def remotelab_image() -> str:
    from tests.fixtures.dockerlab import IMAGE

    return IMAGE


def _wait_joined(proc: Proc, n: int, timeout: float) -> bool:
    """Whether pcap4py reported ``n`` containers joined (its stderr) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.alive():
        proc._err.seek(0)
        if proc._err.read().decode(errors="replace").count("+ container ") >= n:
            return True
        time.sleep(0.3)
    return False


def _wait_packet_socket(proc: Proc, timeout: float) -> bool:
    """Whether ``proc`` (tcpdump entered into a container's namespace) holds a packet socket there:
    the bench's own /proc/net/packet is the host namespace's, so read the process's."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.alive():
        try:
            with open(f"/proc/{proc.pid}/net/packet") as f:
                inodes = {line.split()[-1] for line in f.readlines()[1:]}
        except OSError:
            inodes = set()
        if inodes & _socket_inodes(proc.pid):
            time.sleep(0.5)
            return True
        time.sleep(0.05)
    return False


def _rows(sec: Section, blocks: int) -> None:
    r = sec.raw
    ours = r.get("pcap4py") or {}
    peers = r.get("tcpdump") or {}
    send_s = r.get("send_s")
    if r.get("error") or not ours:
        sec.notes.append(f"remote: {r.get('error', 'not measured')}")
        return
    ref = sum(p.get("captured") or 0 for p in peers.values())
    ref_drop = sum(p.get("kernel_dropped") or 0 for p in peers.values())
    offered = sum(p.get("received") or 0 for p in peers.values())  # the same packets reach both
    got = ours.get("captured")
    our_drop = ours.get("kernel_dropped")  # the sidecars' counters (their statistics blocks)

    def rate(n):
        return None if n is None or not send_s else round(n / send_s)

    sec.rows += [
        Row("remote", "2 sidecars merged: packets", "pkts", got, "tcpdump -w in both netns", ref,
            target="= tcpdump's", met=None if got is None else got >= ref, compare=False),
        Row("remote", "2 sidecars merged: rate", "pkt/s", rate(got), "tcpdump -w in both netns", rate(ref)),
        Row("remote", "2 sidecars: dropped by kernel", "pkts", our_drop, "tcpdump -w in both netns", ref_drop,
            higher_is_better=False, compare=False, target="<= tcpdump's",
            met=None if our_drop is None else our_drop <= ref_drop),
        Row("remote", "offered (received by filter)", "pkts", ours.get("received"), "tcpdump -w in both netns",
            offered, compare=False),
    ]
    sec.notes.append(f"remote: tx sent {blocks:,} blocks of {BLOCK} B over TCP in {send_s} s; "
                     f"merged file holds {ours.get('written')} packets; pcap4py cpu {ours.get('cpu_s')} s, "
                     f"max RSS {ours.get('maxrss_mb')} MB")
