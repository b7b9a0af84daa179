"""Section formats: the CLI's output formats on the offline file, each beside tcpdump's nearest.

`pcap4py read F [--format X] > /dev/null` against `tcpdump -n -r F` (text, jsonl) and
`tcpdump -n -X -r F` (hexdump), every program by its whole wall time (pcap4py's includes its JVM
start); the zero-copy batch views (`Handle.views()`, one Python step per record) against pcapy-ng,
both by their loop time; the peak RSS of `read F --json > /dev/null` (a streamed array) against
`read F -w /dev/null`.
"""

from __future__ import annotations

import sys

from . import gen
from .config import Config
from .offline import TIMEOUT, _rate, _tcpdump, pcapy_env
from .proc import python, run, worker
from .report import Row, Section


def _pcap4py_read(path: str, frames: int, *args: str) -> tuple[float | None, dict]:
    print(f"  formats: pcap4py read {' '.join(args) or '(text)'} ...", file=sys.stderr, flush=True)
    done = run(python("-m", "pcap4py", "read", path, *args), TIMEOUT, stdout_null="-w" not in args)
    rate, info = _rate(done, frames, python_loop=False)
    if rate is not None and f"{frames} packets captured" not in done.stderr:
        rate, info["error"] = None, "wrong count: " + done.brief(1)
    return rate, info


def measure(cfg: Config) -> Section:
    sec = Section("formats")
    n = cfg.offline_frames
    big = cfg.path(f"offline-{n}.pcap")
    sec.raw["input"] = gen.ensure(big, n)
    path = str(big)

    print("  formats: tcpdump -n -r, -n -X -r ...", file=sys.stderr, flush=True)
    td_n, sec.raw["tcpdump -n -r"] = _tcpdump(["-n"], big, n, stdout_null=True)
    td_x, sec.raw["tcpdump -n -X -r"] = _tcpdump(["-n", "-X"], big, n, stdout_null=True)
    td_v, sec.raw["tcpdump -n -v -r"] = _tcpdump(["-n", "-v"], big, n, stdout_null=True)
    text, sec.raw["read text"] = _pcap4py_read(path, n)
    text_v, sec.raw["read -v"] = _pcap4py_read(path, n, "-v")
    jsonl, sec.raw["read jsonl"] = _pcap4py_read(path, n, "--format", "jsonl")
    hexdump, sec.raw["read hexdump"] = _pcap4py_read(path, n, "--format", "hexdump")
    _, json_info = _pcap4py_read(path, n, "--json")
    _, w_info = _pcap4py_read(path, n, "-w", "/dev/null")
    sec.raw["read --json"], sec.raw["read -w"] = json_info, w_info

    env, status = pcapy_env(cfg)
    pcapy = _rate(run(worker("pcapy-raw", path), TIMEOUT, env=env), n, python_loop=True)[0] if env else None
    print("  formats: pcap4py views ...", file=sys.stderr, flush=True)
    views, views_info = _rate(run(worker("pcap4py-views", path), TIMEOUT), n, python_loop=True)
    sec.raw["pcap4py-views"] = views_info

    def ge(ours: float | None, theirs: float | None, factor: float) -> bool | None:
        return None if ours is None or theirs is None else ours >= factor * theirs

    def why(info: dict) -> str:
        return info.get("error", "")

    sec.rows += [
        Row("formats", "read text > /dev/null", "pkt/s", text, "tcpdump -n -r", td_n, target=">=1.5x",
            met=ge(text, td_n, 1.5), note=why(sec.raw["read text"])),
        Row("formats", "read -v > /dev/null", "pkt/s", text_v, "tcpdump -n -v -r", td_v, target=">=1.5x",
            met=ge(text_v, td_v, 1.5), note=why(sec.raw["read -v"])),
        Row("formats", "read --format jsonl", "pkt/s", jsonl, "tcpdump -n -r", td_n, target=">=1.0x",
            met=ge(jsonl, td_n, 1.0), note=why(sec.raw["read jsonl"])),
        Row("formats", "read --format hexdump", "pkt/s", hexdump, "tcpdump -n -X -r", td_x, target=">=1.0x",
            met=ge(hexdump, td_x, 1.0), note=why(sec.raw["read hexdump"])),
        Row("formats", "views(), each record's length", "pkt/s", views, "pcapy-ng", pcapy, target=">=3M/s",
            met=None if views is None else views >= 3_000_000, note=why(views_info) or ("" if env else status)),
        Row("formats", "read --json peak RSS", "MB", json_info.get("maxrss_mb"), "read -w /dev/null",
            w_info.get("maxrss_mb"), higher_is_better=False, note=why(json_info)),
    ]
    return sec
