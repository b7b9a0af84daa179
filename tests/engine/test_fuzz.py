"""Seeded bit flips and truncations of a varied pcap and a varied pcapng, read with every output
format, with and without a filter: no traceback, a clean exit or one ``pcap4py:`` line, never more
packets than tcpdump reads from the same file (see reference_count), and no native crash.

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

from tests.fixtures.pcapfiles import (BASE_TS, pcap_header, pcap_record, pcapng_epb, pcapng_file, pcapng_idb,
                                      pcapng_shb, varied_eth_frames)

SEEDS = range(150)  # per base file
BIG_SEEDS = range(20)  # of the file of big frames
FORMATS = ("text", "hexdump", "json", "jsonl", "pcap4j")
FILTERS = (None, "not tcp")
ROOT = Path(__file__).resolve().parents[2]


def base_pcap() -> bytes:
    frames = varied_eth_frames() * 3
    return pcap_header() + b"".join(pcap_record(BASE_TS + i, i * 1000, f) for i, f in enumerate(frames))


def base_pcapng() -> bytes:
    frames = varied_eth_frames() * 3
    return pcapng_file(3, [(i % 3, (BASE_TS + i) * 10**9 + i, f) for i, f in enumerate(frames)])


def base_big_pcapng() -> bytes:
    """A D-Bus interface (snapshot length 0: its largest frame, 128 MiB) with frames above 256 KiB
    between small ones (issue 25 row 16): a flipped length must never make a reader lose its place."""
    frames = [bytes([i]) * (300_001 + i if i % 3 == 1 else 40 + i) for i in range(7)]
    return (pcapng_shb() + pcapng_idb(231, "dbus0", snaplen=0)
            + b"".join(pcapng_epb(0, (BASE_TS + i) * 10**9 + i, f) for i, f in enumerate(frames)))


def filters_for(path: Path) -> tuple:
    """The filters a variant is read with: D-Bus has no protocols to filter on, only lengths."""
    return (None, "greater 100") if ".big." in path.name else FILTERS


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
    """Packets tcpdump reads (and would write) from ``path``."""
    return tcpdump_read(path, expression)[0]


def tcpdump_read(path: Path, expression: Optional[str]) -> tuple[int, str]:
    """Packets tcpdump reads (and would write) from ``path``, counted in the pcap it writes to
    stdout, and its stderr."""
    cmd = ["tcpdump", "-n", "-r", str(path), "-w", "-"] + ([expression] if expression else [])
    proc = subprocess.run(cmd, capture_output=True, timeout=30)
    out, count, pos = proc.stdout, 0, 24
    while pos + 16 <= len(out):
        caplen = struct.unpack_from("<I", out, pos + 8)[0]
        pos += 16 + caplen
        count += 1
    return count, proc.stderr.decode(errors="replace")


# The words with which libpcap (sf-pcapng.c) stops at a sound block only because of its limits: one
# link type, one snapshot length and one byte order per file.  pcap4py's pcapng reader lifts them
# (issue 12), as tshark does, so tcpdump's count is no bound for such a file.
LIBPCAP_LIMITS = ("different from the type of the first interface",
                  "different from the snapshot length of the first interface",
                  "the file has sections with different byte orders")


def reference_count(path: Path, expression: Optional[str]) -> int:
    """The most packets pcap4py may deliver from ``path``: what tcpdump reads, except where libpcap
    stops at one of its limits.  Then tshark decides where the file's faults are: the packets tshark
    reads go into classic pcap files, one per link type, and tcpdump reads those, so libpcap's
    packet checks and its filter still apply.  (tshark's own count would not do with a filter, its
    display filters not being libpcap's; and the least of the tcpdump and tshark counts is
    tcpdump's, which stops at the limit.)"""
    count, stderr = tcpdump_read(path, expression)
    if not any(words in stderr for words in LIBPCAP_LIMITS):
        return count
    return sum(tcpdump_count(one, expression) for one in tshark_read_as_pcaps(path))


def tshark_read_as_pcaps(path: Path) -> list[Path]:
    """The packets tshark reads from ``path`` (up to a fault), one classic pcap per link type:
    tshark's own pcapng copy (one byte order, sound blocks) split here (tshark writes no pcap of
    several link types)."""
    copy = path.with_name(path.name + ".tshark.pcapng")
    subprocess.run(["tshark", "-n", "-r", str(path), "-F", "pcapng", "-w", str(copy)], capture_output=True, timeout=60)
    raw = copy.read_bytes() if copy.exists() else b""
    records: dict[int, list[bytes]] = {}
    links: list[int] = []
    pos = 0
    while pos + 12 <= len(raw):
        kind, length = struct.unpack_from("<II", raw, pos)
        if kind == 0x0A0D0D0A:
            links = []
        elif kind == 1:
            links.append(struct.unpack_from("<H", raw, pos + 8)[0])
        elif kind == 6:
            interface, _, _, caplen, origlen = struct.unpack_from("<5I", raw, pos + 8)
            records.setdefault(links[interface], []).append(
                pcap_record(BASE_TS, 0, raw[pos + 28:pos + 28 + caplen], origlen))
        pos += length
    pcaps = []
    for linktype, rows in records.items():
        one = path.with_name(f"{path.name}.{linktype}.pcap")
        one.write_bytes(pcap_header(linktype=linktype, snaplen=262144) + b"".join(rows))
        pcaps.append(one)
    return pcaps


def test_mutated_files_never_crash_and_never_invent_packets(tmp_path):
    started = time.monotonic()
    variants = []
    for kind, base, seeds in (("pcap", base_pcap(), SEEDS), ("pcapng", base_pcapng(), SEEDS),
                              ("big.pcapng", base_big_pcapng(), BIG_SEEDS)):
        for seed in seeds:
            path = tmp_path / f"{kind}-{seed}.{kind}"
            path.write_bytes(mutate(base, seed))
            variants.append(path)
    runs = [[*(["read", str(p), "--format", fmt]), *([flt] if flt else [])]
            for p in variants for fmt in FORMATS for flt in filters_for(p)]
    limits = {(str(p), flt): reference_count(p, flt) for p in variants for flt in filters_for(p)}

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
            problems.append((args, "more packets than the reference", r["packets"], limits[(args[1], flt)]))
    assert not problems, f"{len(problems)} bad runs, first ones: {problems[:5]}"
    # the variants really are varied: some read cleanly, some fail, some read only part
    assert 0 < errors < len(results)
    assert any(0 < n for n in limits.values())
    assert time.monotonic() - started < 120
