"""Section 4, memory: peak RSS of a live capture at two packet counts; it must not grow.

Peak RSS is the process's VmHWM (/proc/<pid>/status), sampled while it runs: ru_maxrss of a child
would start at the parent's own size, which the kernel carries across fork and exec. Each figure is
one capture on the live section's veth, fed `count` small frames at top speed.
"""

from __future__ import annotations

from . import lab
from .config import Config
from .live import LIMIT_S, capturers, run_one
from .report import Row, Section

FLAT_MB = 5.0  # "flat": at most this much higher at the large count than at the small one
WHO = ("tcpdump -w", "pcap4py capture -w", "pcap4py iterator")


def measure(cfg: Config) -> Section:
    sec = Section("memory")
    replay_file = lab.ensure_replay_file(cfg.out, cfg.live_file_frames)
    lo, hi = cfg.memory_counts
    specs = capturers(cfg.out, LIMIT_S)
    rss: dict[tuple[str, int], float | None] = {}
    with lab.Lab():
        for count in (lo, hi):
            for label in WHO:
                res = run_one(label, specs[label], replay_file, count, LIMIT_S)
                sec.raw[f"{label} @{count}"] = res
                rss[label, count] = res.get("maxrss_mb") if not res.get("error") and res.get("maxrss_mb") else None

    def growth(label: str) -> float | None:
        a, b = rss[label, lo], rss[label, hi]
        return None if a is None or b is None else round(b - a, 1)

    k = f"{hi // 1000}k" if hi < 1_000_000 else f"{hi // 1_000_000}M"
    k_lo = f"{lo // 1000}k"
    td = rss["tcpdump -w", hi]
    for label, short in (("pcap4py capture -w", "capture -w"), ("pcap4py iterator", "iterator")):
        peak, grow = rss[label, hi], growth(label)
        sec.rows += [
            Row("memory", f"{short}: peak RSS @{k}", "MB", peak, "tcpdump -w", td, higher_is_better=False,
                target="<=150 MB", met=None if peak is None else peak <= 150,
                note=sec.raw[f"{label} @{hi}"].get("error") or ""),
            Row("memory", f"{short}: RSS growth {k_lo}->{k}", "MB", grow, "tcpdump -w", growth("tcpdump -w"),
                higher_is_better=False, compare=False, target=f"flat (<={FLAT_MB:g} MB)",
                met=None if grow is None else grow <= FLAT_MB),
        ]
    for label in WHO:
        for count in (lo, hi):
            res = sec.raw[f"{label} @{count}"]
            if res.get("dropped"):
                sec.notes.append(f"{label} @{count}: dropped {res['dropped']:,} of {count:,} (RSS is still its peak)")
    return sec
