"""Section 1, offline: packets/s reading a generated pcap of mixed frames.

Peers: tcpdump -r F -w /dev/null (C, no decode), tcpdump -n -r F (decode to text), dpkt raw and
decoding, scapy's PcapReader (on a slice), pcapy-ng when it installs. Python readers are rated by
their own loop time (imports and JVM start excluded: start-up has its own section); tcpdump by the
wall time of the whole process. Both are kept in the JSON.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import gen
from .config import Config
from .proc import Done, python, run, worker
from .report import Row, Section

TIMEOUT = 600.0  # any single reader; scapy on 50k frames is the slowest (~1 min)


def _rate(done: Done, frames: int, *, python_loop: bool) -> tuple[float | None, dict]:
    """(packets/s, details) of a finished reader; None when it failed or miscounted."""
    info = {"wall_s": round(done.wall, 3), "cpu_s": round(done.cpu, 3), "rc": done.rc,
            "maxrss_mb": round(done.maxrss_mb, 1)}
    if done.rc != 0 or done.timed_out:
        info["error"] = done.brief()
        return None, info
    if python_loop:
        res = done.json()
        info.update(res)
        if not res.get("loop_s"):
            info["error"] = "no result line: " + done.brief()
            return None, info
        count = res.get("count", 0)
        if count != frames:
            info["error"] = f"read {count} of {frames} frames"
            return None, info
        info["pps_wall"] = round(frames / done.wall)
        return frames / res["loop_s"], info
    return frames / done.wall, info


def _tcpdump(args: list[str], path: Path, frames: int, stdout_null: bool) -> tuple[float | None, dict]:
    done = run(["tcpdump", *args, "-r", str(path)] + (["-w", "/dev/null"] if not stdout_null else []),
               TIMEOUT, stdout_null=stdout_null)
    return _rate(done, frames, python_loop=False)


def pcapy_env(cfg: Config) -> tuple[dict | None, str]:
    """Installs pcapy-ng into bench/out/pydeps (not the environment); (env for workers, status)."""
    target = cfg.path("pydeps")
    env = {"PYTHONPATH": str(target)}
    probe = run(python("-c", "import pcapy"), 60, env=env)
    if probe.rc == 0:
        return env, "installed"
    inst = run(python("-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
                      "--target", str(target), "pcapy-ng"), 300)
    if inst.rc != 0:
        lines = [ln for ln in (inst.stderr + inst.stdout).splitlines() if ln.strip()]
        why = next((ln.strip() for ln in lines if "pcap.h" in ln), lines[-1].strip() if lines else "?")
        return None, f"not installable: {why[:160]}"
    probe = run(python("-c", "import pcapy"), 60, env=env)
    return (env, "installed") if probe.rc == 0 else (None, "not importable: " + probe.brief(1))


def measure(cfg: Config) -> Section:
    sec = Section("offline")
    big = cfg.path(f"offline-{cfg.offline_frames}.pcap")
    small = cfg.path(f"offline-{cfg.slice_frames}.pcap")  # a prefix of the big file (same seed)
    sec.raw["input"] = gen.ensure(big, cfg.offline_frames)
    sec.raw["slice"] = gen.ensure(small, cfg.slice_frames)
    n, m = cfg.offline_frames, cfg.slice_frames
    print(f"  offline: {n:,} frames in {big} ({big.stat().st_size / 1e6:,.0f} MB), slice {m:,}", file=sys.stderr)

    def py(name: str, path: Path, frames: int, env: dict | None = None) -> tuple[float | None, dict]:
        print(f"  offline: {name} ...", file=sys.stderr, flush=True)
        rate, info = _rate(run(worker(name, str(path)), TIMEOUT, env=env), frames, python_loop=True)
        sec.raw[name] = info
        return rate, info

    print("  offline: tcpdump ...", file=sys.stderr, flush=True)
    td_w, sec.raw["tcpdump -r -w /dev/null"] = _tcpdump([], big, n, stdout_null=False)
    td_n, sec.raw["tcpdump -n -r"] = _tcpdump(["-n"], big, n, stdout_null=True)
    dpkt_raw, _ = py("dpkt-raw", big, n)
    dpkt_dec, _ = py("dpkt-decode", big, n)
    scapy, _ = py("scapy-read", small, m)
    env, pcapy_status = pcapy_env(cfg)
    sec.raw["pcapy-ng"] = {"status": pcapy_status}
    pcapy = py("pcapy-raw", big, n, env)[0] if env else None

    # pcap4py's slots
    ours_raw, raw_info = py("pcap4py-raw", big, n)
    ours_sum, sum_info = py("pcap4py-summary", big, n)
    ours_full, full_info = py("pcap4py-full", small, m)

    def why(info: dict) -> str:
        return info.get("error", "")

    raw_target = None if ours_raw is None or dpkt_raw is None else (ours_raw >= 1_000_000 and ours_raw >= 8 * dpkt_raw)
    sec.rows += [
        Row("offline", "raw records", "pkt/s", ours_raw, "dpkt raw", dpkt_raw,
            target=">=1M/s and >=8x dpkt", met=raw_target, note=why(raw_info)),
        Row("offline", "raw records", "pkt/s", ours_raw, "tcpdump -r -w /dev/null", td_w),
        Row("offline", "raw records", "pkt/s", ours_raw, "pcapy-ng", pcapy,
            note="" if env else pcapy_status),
        Row("offline", "summary fields", "pkt/s", ours_sum, "dpkt decode", dpkt_dec, target=">=300k/s",
            met=None if ours_sum is None else ours_sum >= 300_000, note=why(sum_info)),
        Row("offline", "summary fields", "pkt/s", ours_sum, "tcpdump -n -r", td_n),
        Row("offline", f"full parse ({m // 1000}k slice)", "pkt/s", ours_full, "scapy PcapReader", scapy,
            note=why(full_info)),
    ]
    return sec
