"""Seeded bit flips and truncations of a varied pcap and a varied pcapng, read with every output
format, with and without a filter: no traceback, a clean exit or one ``pcap4py:`` line, never more
packets than tcpdump reads from the same file, and no native crash.

All command lines run in one driver process (tests/fixtures/cli_driver.py): a JVM start per run
would take ~0.7 s.
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from .fixtures.pcapfiles import BASE_TS, pcap_header, pcap_record, pcapng_file, varied_eth_frames

SEEDS = range(150)  # per base file
FORMATS = ("text", "hexdump", "json", "jsonl", "pcap4j")
FILTERS = (None, "not tcp")
ROOT = Path(__file__).resolve().parents[1]


def base_pcap() -> bytes:
    frames = varied_eth_frames() * 3
    return pcap_header() + b"".join(pcap_record(BASE_TS + i, i * 1000, f) for i, f in enumerate(frames))


def base_pcapng() -> bytes:
    frames = varied_eth_frames() * 3
    return pcapng_file(3, [(i % 3, (BASE_TS + i) * 10**9 + i, f) for i, f in enumerate(frames)])


def mutate(data: bytes, seed: int) -> bytes:
    """Flip a few bits (half of them in the first 64 bytes, where the headers are), cut the end,
    or both."""
    rng = random.Random(seed)
    out = bytearray(data)
    mode = rng.choice(("flip", "cut", "both"))
    if mode in ("flip", "both"):
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(64) if rng.random() < 0.5 else rng.randrange(len(out))
            out[pos] ^= 1 << rng.randrange(8)
    if mode in ("cut", "both"):
        del out[rng.randrange(len(out)):]
    return bytes(out)


def tcpdump_count(path: Path, expression: Optional[str]) -> int:
    """Packets tcpdump reads (and would write) from ``path``: counted in the pcap it writes to
    stdout, so link types it cannot print still count."""
    cmd = ["tcpdump", "-n", "-r", str(path), "-w", "-"] + ([expression] if expression else [])
    out = subprocess.run(cmd, capture_output=True, timeout=30).stdout
    count, pos = 0, 24
    while pos + 16 <= len(out):
        caplen = struct.unpack_from("<I", out, pos + 8)[0]
        pos += 16 + caplen
        count += 1
    return count


def test_mutated_files_never_crash_and_never_invent_packets(tmp_path):
    started = time.monotonic()
    variants = []
    for kind, base in (("pcap", base_pcap()), ("pcapng", base_pcapng())):
        for seed in SEEDS:
            path = tmp_path / f"{kind}-{seed}.{kind}"
            path.write_bytes(mutate(base, seed))
            variants.append(path)
    runs = [[*(["read", str(p), "--format", fmt]), *([flt] if flt else [])]
            for p in variants for fmt in FORMATS for flt in FILTERS]
    limits = {(str(p), flt): tcpdump_count(p, flt) for p in variants for flt in FILTERS}

    proc = subprocess.run([sys.executable, "-m", "tests.fixtures.cli_driver"], cwd=ROOT, timeout=300,
                          input="".join(json.dumps(r) + "\n" for r in runs), capture_output=True, text=True)
    assert proc.returncode >= 0, f"the driver died from signal {-proc.returncode}: {proc.stdout[-1500:]}"
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0 and len(results) == len(runs), proc.stderr[-2000:]

    errors, problems = 0, []
    for r in results:
        args, stderr = r["args"], r["stderr"]
        flt = args[4] if len(args) > 4 else None
        if r["traceback"] is not None or "Traceback" in stderr:
            problems.append((args, "traceback", r["traceback"] or stderr))
        if r["exit"] != 0:
            errors += 1
            if r["exit"] != 1 or len(stderr.splitlines()) != 1 or not stderr.startswith("pcap4py: "):
                problems.append((args, "not one pcap4py: line", r["exit"], stderr))
        if r["packets"] > limits[(args[1], flt)]:
            problems.append((args, "more packets than tcpdump", r["packets"], limits[(args[1], flt)]))
    assert not problems, f"{len(problems)} bad runs, first ones: {problems[:5]}"
    # the variants really are varied: some read cleanly, some fail, some read only part
    assert 0 < errors < len(results)
    assert any(0 < n for n in limits.values())
    assert time.monotonic() - started < 120
