"""The text printers (and the JSON facts they decode) never throw on truncated or hostile headers: seeded mutations of varied
frames (every link type, every protocol printed) are printed with every printing flag; each
packet gives exactly one line (plus its rows), whatever its bytes say.  Seeded and bounded."""

from __future__ import annotations

import json
import os
import random
import re

import pytest

from pcap4py.sinks.printing import PrintFlags
from tests.sinks.test_formats import LINKS, TRUNCATED, ethernet_frames, write_pcap

SEEDS = range(40)
FLAG_SETS = [PrintFlags(), PrintFlags(verbose=3, link=True), PrintFlags(quick=True, link=True),
             PrintFlags.from_counts(verbose=1, X=2, number=True, t=3), PrintFlags.from_counts(A=1, absolute_seq=True)]


def mutate(frame: bytes, rng: random.Random) -> tuple[bytes, int]:
    """Flipped bits and bytes (most in the headers), sometimes a shorter capture."""
    out = bytearray(frame)
    for _ in range(rng.randint(1, 6)):
        if not out:
            break
        pos = rng.randrange(min(len(out), 80))
        out[pos] = rng.randrange(256) if rng.random() < 0.5 else out[pos] ^ (1 << rng.randrange(8))
    caplen = len(out) if rng.random() < 0.6 else rng.randrange(len(out) + 1)
    return bytes(out), caplen


def printed(path: str, flags: PrintFlags, tmp_path, fmt: str = "text") -> str:
    from pcap4py.engine.capture import Capture
    from pcap4py.engine.offline import open_offline
    from pcap4py.sinks.lines import LineSink

    out = tmp_path / "out.txt"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        with Capture([open_offline(path)]) as cap:
            sink = LineSink(fd, fmt, cap.sources, flags=flags)
            for batches in cap.rounds():
                sink.write_batches(batches)
            sink.close()
    finally:
        os.close(fd)
    return out.read_text(errors="replace")


@pytest.mark.parametrize("dlt", [1, *LINKS])
def test_mutated_headers_print_one_line_each(dlt, tmp_path):
    base = [f for f, _ in TRUNCATED] + ethernet_frames() if dlt == 1 else LINKS[dlt]
    for seed in SEEDS:
        rng = random.Random(seed * 1000 + dlt)
        frames = [mutate(f, rng) for f in base]
        path = write_pcap(tmp_path / f"fuzz{dlt}-{seed}.pcap", dlt, frames)
        records = [json.loads(line) for line in printed(path, PrintFlags(), tmp_path, "jsonl").splitlines()]
        assert len(records) == len(frames) and all("dns" in r for r in records), seed  # the facts too
        for flags in FLAG_SETS:
            text = printed(path, flags, tmp_path)
            if flags.number:  # "    N  " starts each packet
                lines = [line for line in text.splitlines() if re.match(r" *\d+  ", line)]
            else:  # rows start with a tab, -v's second lines with four spaces
                lines = [line for line in text.splitlines() if line and not line.startswith(("\t", "    "))]
            # -A rows start anywhere: count the packets by their numbers or time stamps instead
            if flags.dump >= 5:
                continue
            assert len(lines) == len(frames), (seed, flags, text[:2000])
