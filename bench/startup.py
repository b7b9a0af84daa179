"""Section 3, start-up: wall time from spawn to exit of a one-packet capture on lo, while ping runs.

`python -m pcap4py capture lo -c 1` (interpreter, click, JVM, handle, first packet, exit) beside
`tcpdump -n -i lo -c 1`; both print the packet as text. A bounded `ping -i 0.2 127.0.0.1` keeps
packets coming, so about 0.1 s of each figure is the wait for the next echo. Median of N runs,
the two programs interleaved.
"""

from __future__ import annotations

import statistics
import sys

from .config import Config
from .proc import Proc, python, run
from .report import Row, Section

TIMEOUT = 30.0


def _time(cmd: list[str], sink: list[dict]) -> list[float]:
    """One run's wall time (an empty list if it failed); the run's record goes to `sink`."""
    done = run(cmd, TIMEOUT)
    ok = done.rc == 0 and not done.timed_out and done.stdout.strip() != ""
    sink.append({"wall_s": round(done.wall, 3), "rc": done.rc, "ok": ok,
                 **({} if ok else {"error": done.brief()})})
    return [done.wall] if ok else []


def measure(cfg: Config) -> Section:
    sec = Section("startup")
    ours_cmd = python("-m", "pcap4py", "capture", "lo", "-c", "1")  # pcap4py's slot
    peer_cmd = ["tcpdump", "-n", "-i", "lo", "-c", "1"]
    # tcpdump's default 1 s buffer timeout holds the first packet back (TPACKET_V3 block retire):
    # the immediate-mode run is the C lower bound
    fast_cmd = ["tcpdump", "--immediate-mode", "-n", "-i", "lo", "-c", "1"]
    # bounded: at most 5 pings a second, for at most 2 minutes
    ping = Proc(["ping", "-q", "-i", "0.2", "-c", "600", "-w", "120", "127.0.0.1"])
    runs: dict[str, list] = {"pcap4py": [], "tcpdump": [], "tcpdump --immediate-mode": []}
    ours: list[float] = []
    theirs: list[float] = []
    fast: list[float] = []
    try:
        for i in range(cfg.startup_runs):
            print(f"  startup: run {i + 1}/{cfg.startup_runs}", file=sys.stderr, flush=True)
            theirs += _time(peer_cmd, runs["tcpdump"])
            fast += _time(fast_cmd, runs["tcpdump --immediate-mode"])
            ours += _time(ours_cmd, runs["pcap4py"])
    finally:
        ping.stop()
    sec.raw.update(runs=runs, cmd={"pcap4py": " ".join(ours_cmd), "tcpdump": " ".join(peer_cmd),
                                   "tcpdump --immediate-mode": " ".join(fast_cmd)})
    med_ours = statistics.median(ours) if ours else None
    med_theirs = statistics.median(theirs) if theirs else None
    failed = [r.get("error") for r in runs["pcap4py"] if not r["ok"]]
    sec.rows.append(Row("startup", f"capture lo -c 1 (median of {cfg.startup_runs})", "s", med_ours,
                        "tcpdump -n -i lo -c 1", med_theirs, higher_is_better=False, target="<=1.0 s",
                        met=None if med_ours is None else med_ours <= 1.0,
                        note=f"{len(failed)} failed run(s): {failed[0]}" if failed else ""))
    sec.rows.append(Row("startup", f"capture lo -c 1 (median of {cfg.startup_runs})", "s", med_ours,
                        "tcpdump --immediate-mode", statistics.median(fast) if fast else None,
                        higher_is_better=False))
    return sec
