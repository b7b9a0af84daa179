"""The sizes of one run: the full run of issue #6, or --quick for a smoke test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .report import OUT


@dataclass
class Config:
    quick: bool = False
    offline_frames: int = 1_000_000  # the offline mix (issue #6: >= 1,000,000)
    slice_frames: int = 50_000  # scapy and the full Pcap4J parse read this prefix of it
    live_frames: int = 1_000_000  # small frames replayed per capturer
    live_file_frames: int = 100_000  # the replay file; tcpreplay loops it live_frames / this times
    memory_counts: tuple[int, int] = (100_000, 1_000_000)  # RSS must not grow from the first to the second
    startup_runs: int = 7
    kube_packets: int = 100_000  # frames from one pod to another, captured merged and locally
    out: Path = OUT

    @classmethod
    def make(cls, quick: bool) -> "Config":
        if not quick:
            return cls()
        return cls(quick=True, offline_frames=100_000, slice_frames=5_000, live_frames=100_000,
                   live_file_frames=100_000, memory_counts=(10_000, 100_000), startup_runs=3, kube_packets=20_000)

    def path(self, name: str) -> Path:
        self.out.mkdir(exist_ok=True)
        return self.out / name
