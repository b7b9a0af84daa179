"""Section 2, live: small frames replayed at top speed on a veth; captured and dropped per capturer.

Each capturer runs alone against its own replay of the same file: start it, wait until it holds a
packet socket (libpcap has opened the handle), replay from the namespace with tcpreplay --topspeed
(bounded by count and a timeout), let it drain, stop it with SIGINT and read its own counters.
offered = tcpreplay's successful packets; dropped = offered - captured (the capturer's own kernel
drop counter is kept beside it). All capturers use the same BPF filter.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

from . import gen, lab
from .config import Config
from .proc import Proc, packet_sockets, python, wait_capturing, worker
from .report import Row, Section

READY_TIMEOUT = 30.0  # JVM start and handle open
SETTLE = 1.0  # after the replay, before SIGINT: rings and socket buffers drain
DRAIN_MAX = 10.0
LIMIT_S = 120.0  # the longest one capture run may take


def _rmem(pid: int) -> int:
    """Bytes queued in the receive buffers of the packet sockets of `pid` (non-ring readers: scapy)."""
    return sum(int(cols[6]) for cols in packet_sockets(pid))


def _drain(proc: Proc) -> None:
    time.sleep(SETTLE)
    deadline = time.monotonic() + DRAIN_MAX
    while time.monotonic() < deadline and proc.alive() and _rmem(proc.pid) > 0:
        time.sleep(0.2)


# a capturer: (label, command builder (out_dir) -> (argv, stdout to /dev/null?), result parser)
Parser = Callable[[object, Path], dict]


def _parse_stats(done, _written: Path | None) -> dict:
    return lab.tcpdump_stats(done.stderr)


def _parse_worker(done, _written: Path | None) -> dict:
    res = done.json()
    stats = res.get("stats") or {}
    return {"captured": res.get("count"), "received": stats.get("received"),
            "kernel_dropped": stats.get("dropped")}


def capturers(out: Path, limit_s: float) -> dict[str, tuple[list[str], bool, Parser, Path | None]]:
    """label -> (argv, stdout_null, parser, file it writes or None)."""
    iface, bpf = lab.HOST_IF, lab.FILTER
    td_file, ours_file = out / "live-tcpdump.pcap", out / "live-pcap4py.pcap"
    ng_file = out / "live-pcap4py.pcapng"
    return {
        # peers
        "tcpdump -w": (["tcpdump", "-i", iface, "-Z", "root", "-w", str(td_file), bpf], True, _parse_stats, td_file),
        "tcpdump -n (text)": (["tcpdump", "-n", "-i", iface, bpf], True, _parse_stats, None),
        "scapy sniff": (worker("scapy-sniff", iface, bpf, str(limit_s)), False, _parse_worker, None),
        # pcap4py's slots
        "pcap4py capture -w": (python("-m", "pcap4py", "capture", "-i", iface, "-w", str(ours_file), "-f", bpf),
                               True, _parse_stats, ours_file),
        "pcap4py capture -w x.pcapng": (python("-m", "pcap4py", "capture", "-i", iface, "-w", str(ng_file), "-f", bpf),
                                        True, _parse_stats, ng_file),
        "pcap4py iterator": (worker("pcap4py-iter", iface, bpf, str(limit_s)), False, _parse_worker, None),
        "pcap4py --format jsonl": (python("-m", "pcap4py", "capture", "-i", iface, "--format", "jsonl", "-f", bpf),
                                   True, _parse_stats, None),
        "pcap4py -n (text)": (python("-m", "pcap4py", "capture", "-n", "-i", iface, "-f", bpf),
                              True, _parse_stats, None),
    }


def _no_more(ours: int | None, peer: int | None) -> bool | None:
    """Whether pcap4py dropped no more than its peer (None when either did not run)."""
    return None if ours is None or peer is None else ours <= peer


def run_one(label: str, spec, replay_file: Path, count: int, limit_s: float) -> dict:
    argv, stdout_null, parse, written = spec
    if written is not None and written.exists():
        written.unlink()
    print(f"  live: {label}, {count:,} frames ...", file=sys.stderr, flush=True)
    proc = Proc(argv, stdout_null=stdout_null)
    res: dict = {"cmd": " ".join(argv)}
    try:
        if not wait_capturing(proc, READY_TIMEOUT):
            done = proc.stop()
            res["error"] = "never started capturing: " + done.brief()
            return res
        res["replay"] = lab.replay(replay_file, count, limit_s)
        _drain(proc)
        done = proc.stop(timeout=30)
    finally:
        if proc.alive():
            proc.stop(timeout=10)
    res.update(parse(done, written))
    res.update(rc=done.rc, timed_out=done.timed_out, cpu_s=round(done.cpu, 2), maxrss_mb=round(done.maxrss_mb, 1))
    offered, captured = res["replay"].get("offered"), res.get("captured")
    if done.rc not in (0, -2, 130) or captured is None:
        res["error"] = f"rc={done.rc}: " + done.brief()
    if offered is not None and captured is not None:
        res["dropped"] = offered - captured
    if written is not None and written.exists():
        res["written"] = gen.count(written)
        written.unlink()  # up to 76 MB each; the figures are what we keep
    return res


def measure(cfg: Config) -> Section:
    sec = Section("live")
    replay_file = lab.ensure_replay_file(cfg.out, cfg.live_file_frames)
    limit_s = LIMIT_S
    with lab.Lab():
        sec.raw["generator alone"] = base = lab.replay(replay_file, cfg.live_frames, limit_s)
        sec.notes.append(f"generator alone (no capturer): {base.get('pps') or 0:,} pkt/s offered, "
                         f"{cfg.live_frames:,} 60-byte frames per run")
        for label, spec in capturers(cfg.out, limit_s).items():
            sec.raw[label] = run_one(label, spec, replay_file, cfg.live_frames, limit_s)
            time.sleep(0.5)
    r = sec.raw

    def dropped(label: str) -> float | None:
        return r[label].get("dropped")

    def rate(label: str) -> float | None:
        return (r[label].get("replay") or {}).get("pps")

    def err(label: str) -> str:
        e = r[label].get("error")
        return f"{label}: {e}" if e else ""

    td = dropped("tcpdump -w")
    w = dropped("pcap4py capture -w")
    it = dropped("pcap4py iterator")
    ng = dropped("pcap4py capture -w x.pcapng")
    sec.rows += [
        Row("live", "capture -w: dropped", "pkts", w, "tcpdump -w", td, higher_is_better=False, compare=False,
            target="0 where tcpdump drops 0", met=None if w is None or td is None else (w == 0 if td == 0 else w <= td),
            note=err("pcap4py capture -w")),
        Row("live", "capture -w: offered rate", "pkt/s", rate("pcap4py capture -w"), "tcpdump -w", rate("tcpdump -w")),
        Row("live", "capture -w x.pcapng: dropped", "pkts", ng, "tcpdump -w", td, higher_is_better=False, compare=False,
            target="0 where tcpdump drops 0", met=None if ng is None or td is None else (ng == 0 if td == 0 else ng <= td),
            note=err("pcap4py capture -w x.pcapng")),
        Row("live", "iterator: dropped", "pkts", it, "scapy sniff", dropped("scapy sniff"), higher_is_better=False, compare=False,
            target="0", met=None if it is None else it == 0, note=err("pcap4py iterator") or err("scapy sniff")),
        Row("live", "iterator: offered rate", "pkt/s", rate("pcap4py iterator"), "scapy sniff", rate("scapy sniff")),
        Row("live", "text: dropped", "pkts", dropped("pcap4py -n (text)"), "tcpdump -n (text)",
            dropped("tcpdump -n (text)"), higher_is_better=False, compare=False, target="<= tcpdump -n",
            met=_no_more(dropped("pcap4py -n (text)"), dropped("tcpdump -n (text)")), note=err("pcap4py -n (text)")),
        Row("live", "jsonl: dropped", "pkts", dropped("pcap4py --format jsonl"), "tcpdump -n (text)",
            dropped("tcpdump -n (text)"), higher_is_better=False, compare=False, note=err("pcap4py --format jsonl")),
        Row("live", "jsonl: offered rate", "pkt/s", rate("pcap4py --format jsonl"), "tcpdump -n (text)",
            rate("tcpdump -n (text)")),
    ]
    for label, res in r.items():
        rep = res.get("replay") if isinstance(res, dict) else None
        if rep and rep.get("backlog_drops"):
            sec.notes.append(f"{label}: the kernel's input backlog dropped {rep['backlog_drops']:,} frames "
                             "before any capturer (counted in 'dropped')")
        if isinstance(res, dict) and res.get("written") is not None and res["written"] != res.get("captured"):
            sec.notes.append(f"{label}: file holds {res['written']:,} packets, capturer reported {res.get('captured')}")
    return sec
