"""python -m bench [--quick] [--only offline|live|startup|memory|image|kube|remote]: issue #6's benchmark suite.

Runs each section, prints one side-by-side table (pcap4py beside the peer, ratio, target met?)
and writes the same as JSON to bench/out/. Needs root (the live sections build a veth pair into a
network namespace) and tcpdump, tcpreplay, ping, dpkt and scapy.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback

from .config import Config
from .report import Section, machine, table, write_json

SECTIONS = ("offline", "formats", "live", "startup", "memory", "image", "kube", "remote")


def _run_section(name: str, cfg: Config) -> Section:
    from importlib import import_module

    mod = import_module(f".{name}", __package__)
    t0 = time.perf_counter()
    print(f"[{name}]", file=sys.stderr, flush=True)
    try:
        sec = mod.measure(cfg)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # one broken section must not lose the others' figures
        traceback.print_exc()
        sec = Section(name, notes=[f"section failed: {type(exc).__name__}: {exc}"])
    sec.raw["section_s"] = round(time.perf_counter() - t0, 1)
    return sec


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small run (100k frames) to smoke-test the suite")
    ap.add_argument("--only", action="append", choices=SECTIONS, help="run only this section (repeatable)")
    args = ap.parse_args(argv)
    if os.geteuid() != 0 and set(args.only or SECTIONS) & {"live", "startup", "memory", "image", "kube", "remote"}:
        print("bench: the live, startup, memory, image, kube and remote sections need root (netns, veth, capture, a cluster, an engine)",
              file=sys.stderr)
        return 2
    # SIGTERM unwinds like Ctrl-C, so every section's finally (veth and namespace removal) runs
    signal.signal(signal.SIGTERM, _interrupt)
    cfg = Config.make(args.quick)
    from .startup import prepare

    meta = {**machine(), "quick": cfg.quick, "config": {k: str(v) for k, v in vars(cfg).items()},
            "prepared": prepare(cfg)}
    try:
        sections = [_run_section(name, cfg) for name in SECTIONS if not args.only or name in args.only]
    except KeyboardInterrupt:
        print("\nbench: interrupted (the veth pair and namespace are removed)", file=sys.stderr)
        return 130
    print()
    print(table(sections))
    path = write_json(sections, meta)
    print(f"\nJSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
