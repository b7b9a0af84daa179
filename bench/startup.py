"""Section startup: whole-process wall time (spawn to exit) and peak RSS of short jobs, beside
tcpdump doing the same, and where pcap4py's start goes.

- `capture lo -c 1` beside `tcpdump -n -i lo -c 1` (its default 1 s buffer timeout) and
  `--immediate-mode`; `capture lo -c 1 --immediate` beside `tcpdump --immediate-mode`; a bounded
  `ping 127.0.0.1` keeps packets coming, every 0.02 s (the rows with targets: ~0.01 s of each
  figure is the wait for the next echo) and every 0.2 s (~0.1 s of it is; no target).
- `read` of a 100-packet file (wall and peak RSS) beside `tcpdump -n -r`.
- `read` of a 300,000-frame file, text and jsonl, beside `tcpdump -n -r` (start-up included).
- a start-up profile (bench/profile.py): Python imports, `import jpype`, JVM boot, class
  loading, first batch; medians of fresh processes.

Median of N runs, the programs interleaved.  Peak RSS comes from GNU time's `%M` around each
program (a process this short ends before the bench's own sampler sees it).  The modules are
compiled to bytecode and the class-data archive is built first (as an install and a user's first
run would leave them, see _prepare) and the rows say whether it was used.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile

from . import gen
from .config import Config
from .proc import Proc, python, run
from .report import Row, Section

TIMEOUT = 60.0
TIME = "/usr/bin/time"


def _timed(cmd: list[str], sink: list[dict], stdout_null: bool = False) -> tuple[float, float] | None:
    """One run's (wall s, peak RSS MB), or None if it failed; the run's record goes to `sink`."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        wrapped = [TIME, "-q", "-f", "%M %U %S", "-o", rss.name, *cmd] if os.path.exists(TIME) else cmd
        done = run(wrapped, TIMEOUT, stdout_null=stdout_null)
        text = rss.read().strip().splitlines()
    fields = text[-1].split() if text else []
    peak = int(fields[0]) / 1024 if len(fields) == 3 else done.maxrss_mb
    cpu = float(fields[1]) + float(fields[2]) if len(fields) == 3 else done.cpu
    ok = done.rc == 0 and not done.timed_out and (stdout_null or done.stdout.strip() != "")
    sink.append({"wall_s": round(done.wall, 3), "cpu_s": round(cpu, 3), "rss_mb": round(peak, 1), "rc": done.rc,
                 "ok": ok, **({} if ok else {"error": done.brief()})})
    return (done.wall, peak) if ok else None


def _median(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r["ok"]]
    return statistics.median(values) if values else None


def _note(runs: list[dict]) -> str:
    """Failures, else the median CPU time (user + system: what a loaded machine's wall hides)."""
    failed = [r.get("error") for r in runs if not r["ok"]]
    if failed:
        return f"{len(failed)} failed run(s): {failed[0]}"
    cpu = _median(runs, "cpu_s")
    return "" if cpu is None else f"median CPU {cpu:.2f} s"


def prepare(cfg: Config) -> dict:
    """What an installed pcap4py has before its first run, made once before any section: its
    modules compiled to bytecode (pip compiles them at install; an editable tree under
    PYTHONDONTWRITEBYTECODE=1 would otherwise compile them at every start), and this setup's
    class-data archive, in a cache folder of the bench's own (a shared ~/.cache may be pruned by
    other users' pcap4py meanwhile, and a missing archive is built in the background)."""
    import pcap4py

    package = os.path.dirname(pcap4py.__file__)
    done = run(python("-m", "compileall", "-q", package), 300.0, stdout_null=True)
    facts = {"bytecode": f"compileall {package}: rc {done.rc}"}
    os.environ["XDG_CACHE_HOME"] = str(cfg.path("cache"))
    os.environ.pop("PCAP4PY_CDS_DIR", None)
    done = run(python("-m", "pcap4py.engine.cds_build", "build"), 300.0)
    facts["archive"] = done.stdout.strip() or done.brief()
    return facts


# Pings a second for the live rows, and a ping's bound: the wait for the next echo is part of
# each figure (half the interval on average, for pcap4py and tcpdump alike); the dense rate
# leaves ~0.01 s of it, so the rows measure the start; the 5/s pass shows the same with the wait.
PING_INTERVALS = (0.02, 0.2)
PING_SECONDS = 180


def _live(cfg: Config, sec: Section) -> None:
    cmds = {
        "pcap4py capture lo -c 1": python("-m", "pcap4py", "capture", "lo", "-c", "1"),
        "pcap4py capture lo -c 1 --immediate": python("-m", "pcap4py", "capture", "lo", "-c", "1", "--immediate"),
        "tcpdump -n -i lo -c 1": ["tcpdump", "-n", "-i", "lo", "-c", "1"],
        "tcpdump --immediate-mode": ["tcpdump", "--immediate-mode", "-n", "-i", "lo", "-c", "1"],
    }
    sec.raw["capture"] = {"cmd": {k: " ".join(v) for k, v in cmds.items()}}
    for interval in PING_INTERVALS:
        runs = _live_runs(cfg, cmds, interval)
        sec.raw["capture"][f"ping every {interval} s"] = runs
        sec.rows += _live_rows(cfg, runs, interval)


def _live_runs(cfg: Config, cmds: dict[str, list[str]], interval: float) -> dict[str, list]:
    """Every command ``cfg.startup_runs`` times, interleaved, while ``ping -i interval`` runs."""
    runs: dict[str, list] = {name: [] for name in cmds}
    # bounded in count and time
    ping = Proc(["ping", "-q", "-i", str(interval), "-c", str(int(PING_SECONDS / interval)),
                 "-w", str(PING_SECONDS), "127.0.0.1"])
    try:
        for i in range(cfg.startup_runs):
            print(f"  startup: capture run {i + 1}/{cfg.startup_runs} (a ping every {interval} s)",
                  file=sys.stderr, flush=True)
            for name, cmd in cmds.items():
                _timed(cmd, runs[name])
    finally:
        ping.stop()
    return runs


def _live_rows(cfg: Config, runs: dict[str, list], interval: float) -> list[Row]:
    """The rows of one ping rate: the targets are the dense rate's (the start, not the wait)."""
    plain, fast = _median(runs["pcap4py capture lo -c 1"], "wall_s"), _median(runs["pcap4py capture lo -c 1 --immediate"], "wall_s")
    n, dense = cfg.startup_runs, interval == PING_INTERVALS[0]
    where = f"median of {n}, a ping every {interval} s"
    return [
        Row("startup", f"capture lo -c 1 ({where})", "s", plain, "tcpdump -n -i lo -c 1",
            _median(runs["tcpdump -n -i lo -c 1"], "wall_s"), higher_is_better=False,
            target="<=1.0 s" if dense else "", met=None if plain is None or not dense else plain <= 1.0,
            note=_note(runs["pcap4py capture lo -c 1"])),
        Row("startup", f"capture lo -c 1 --immediate ({where})", "s", fast, "tcpdump --immediate-mode",
            _median(runs["tcpdump --immediate-mode"], "wall_s"), higher_is_better=False,
            target="<=0.30 s" if dense else "", met=None if fast is None or not dense else fast <= 0.30,
            note=_note(runs["pcap4py capture lo -c 1 --immediate"])),
    ]


def _small_read(cfg: Config, sec: Section) -> None:
    small = cfg.path("small-100.pcap")
    sec.raw["small input"] = gen.ensure(small, 100)
    ours_runs: list[dict] = []
    peer_runs: list[dict] = []
    for i in range(cfg.startup_runs):
        print(f"  startup: read 100 packets, run {i + 1}/{cfg.startup_runs}", file=sys.stderr, flush=True)
        _timed(["tcpdump", "-n", "-r", str(small)], peer_runs)
        _timed(python("-m", "pcap4py", "read", str(small)), ours_runs)
    sec.raw["read 100"] = {"pcap4py": ours_runs, "tcpdump": peer_runs}
    wall, rss = _median(ours_runs, "wall_s"), _median(ours_runs, "rss_mb")
    n = cfg.startup_runs
    sec.rows += [
        Row("startup", f"read of 100 packets, wall (median of {n})", "s", wall, "tcpdump -n -r",
            _median(peer_runs, "wall_s"), higher_is_better=False, target="<=0.25 s",
            met=None if wall is None else wall <= 0.25, note=_note(ours_runs)),
        Row("startup", f"read of 100 packets, peak RSS (median of {n})", "MB", rss, "tcpdump -n -r",
            _median(peer_runs, "rss_mb"), higher_is_better=False, target="<=64 MB",
            met=None if rss is None else rss <= 64),
    ]


def _mid_read(cfg: Config, sec: Section) -> None:
    frames = min(300_000, cfg.offline_frames)
    mid = cfg.path(f"offline-{frames}.pcap")
    sec.raw["mid input"] = gen.ensure(mid, frames)
    runs: dict[str, list] = {"text": [], "jsonl": [], "tcpdump": []}
    for i in range(max(3, cfg.startup_runs // 2)):
        print(f"  startup: read {frames:,} frames, run {i + 1}", file=sys.stderr, flush=True)
        _timed(["tcpdump", "-n", "-r", str(mid)], runs["tcpdump"], stdout_null=True)
        _timed(python("-m", "pcap4py", "read", str(mid)), runs["text"], stdout_null=True)
        _timed(python("-m", "pcap4py", "read", str(mid), "--format", "jsonl"), runs["jsonl"], stdout_null=True)
    sec.raw[f"read {frames}"] = runs
    peer = _median(runs["tcpdump"], "wall_s")

    def rate(wall: float | None) -> float | None:
        return None if not wall else frames / wall

    for fmt, factor in (("text", 1.5), ("jsonl", 1.0)):
        ours = rate(_median(runs[fmt], "wall_s"))
        sec.rows.append(Row("startup", f"read {frames:,} frames, {fmt}, whole process", "pkt/s", ours,
                            "tcpdump -n -r", rate(peer), target=f">={factor}x",
                            met=None if ours is None or peer is None else ours >= factor * rate(peer),
                            note=_note(runs[fmt])))


def _profile(cfg: Config, sec: Section) -> None:
    small = cfg.path("small-100.pcap")
    gen.ensure(small, 100)
    samples = []
    for _ in range(cfg.startup_runs):
        done = run(python("-m", "bench.profile", str(small)), TIMEOUT)
        if done.rc == 0 and done.json():
            samples.append(done.json())
    sec.raw["profile"] = samples
    if not samples:
        sec.notes.append("start-up profile failed")
        return
    phases = list(samples[0]["phases_s"])
    parts = [f"{p} {statistics.median(s['phases_s'][p] for s in samples):.3f} s "
             f"(peak {statistics.median(s['hwm_mb'][p] for s in samples):.0f} MB)" for p in phases]
    used = sum(1 for s in samples if s["archive"])
    sec.notes.append(f"start-up profile, median of {len(samples)} (archive mapped in {used}): " + "; ".join(parts))


def measure(cfg: Config) -> Section:
    sec = Section("startup")
    sec.raw.update(prepare(cfg))  # done already by the bench's start: quick, and says what was used
    _profile(cfg, sec)
    _small_read(cfg, sec)
    _live(cfg, sec)
    _mid_read(cfg, sec)
    return sec
