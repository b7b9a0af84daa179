"""The live sections' fake LAN: a veth pair, one end in a namespace of the bench's own.

    host ns:  p4bh0  198.18.251.1/24   <-- veth -->   p4bn0  198.18.251.2/24  (namespace p4bench)

Capturers listen on p4bh0; tcpreplay sends from p4bn0 frames addressed to a MAC and IP that nobody
owns (bench.gen.LIVE_*), so the host's kernel drops them right after the capture taps. IPv6 is off
on both ends so no router solicitation or DAD frame joins the count. Nothing touches eth0.
Removal runs on exit, Ctrl-C and SIGTERM (bench.__main__ turns SIGTERM into KeyboardInterrupt).
"""

from __future__ import annotations

import atexit
import re
import subprocess
import time
from pathlib import Path

from . import gen

NS = "p4bench"
HOST_IF = "p4bh0"
NS_IF = "p4bn0"
HOST_ADDR = f"{gen.LIVE_NET}.1/24"
NS_ADDR = f"{gen.LIVE_SRC_IP}/24"
FILTER = f"udp dst port {gen.LIVE_DPORT}"


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=30)


def in_ns(*args: str) -> list[str]:
    return ["ip", "netns", "exec", NS, *args]


class Lab:
    """Context manager: builds the veth pair and namespace, and always removes them."""

    def __enter__(self) -> "Lab":
        self.remove()  # leftovers of a run that was killed hard
        atexit.register(self.remove)
        sh("ip", "netns", "add", NS)
        sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF, "netns", NS)
        Path(f"/proc/sys/net/ipv6/conf/{HOST_IF}/disable_ipv6").write_text("1")
        sh(*in_ns("sysctl", "-qw", f"net.ipv6.conf.{NS_IF}.disable_ipv6=1"))
        sh(*in_ns("ip", "link", "set", NS_IF, "address", gen.LIVE_SRC_MAC.hex(":")))
        sh("ip", "addr", "add", HOST_ADDR, "dev", HOST_IF)
        sh(*in_ns("ip", "addr", "add", NS_ADDR, "dev", NS_IF))
        sh("ip", "link", "set", HOST_IF, "up")
        sh(*in_ns("ip", "link", "set", NS_IF, "up"))
        sh(*in_ns("ip", "link", "set", "lo", "up"))
        time.sleep(0.2)
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    @staticmethod
    def remove() -> None:
        sh("ip", "link", "del", HOST_IF, check=False)  # takes its peer with it
        sh("ip", "netns", "del", NS, check=False)


def backlog_drops() -> int:
    """The kernel's input-backlog drops (all CPUs): frames lost before any capturer could see them."""
    with open("/proc/net/softnet_stat") as f:
        return sum(int(line.split()[1], 16) for line in f if line.strip())


def replay(path: Path, count: int, timeout: float) -> dict:
    """Sends `count` frames of `path` (looped as needed) with tcpreplay --topspeed from the
    namespace end, bounded by `timeout`; offered = its 'Successful packets'."""
    before = backlog_drops()
    loops = -(-count // gen.count(path))
    cmd = in_ns("timeout", str(int(timeout)), "tcpreplay", "--topspeed", "--preload-pcap",
                f"--loop={loops}", f"--limit={count}", "-i", NS_IF, str(path))
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 10)
    wall = time.perf_counter() - t0
    out = p.stdout + p.stderr

    def num(pattern: str, cast=int):
        m = re.search(pattern, out)
        return cast(m.group(1)) if m else None

    offered = num(r"Successful packets:\s+(\d+)")
    seconds = num(r"sent in ([\d.]+) seconds", float)
    return {
        "rc": p.returncode,
        "offered": offered,
        "failed": num(r"Failed packets:\s+(\d+)"),
        "seconds": seconds,
        "pps": round(offered / seconds) if offered and seconds else None,
        "wall_s": round(wall, 2),
        "backlog_drops": backlog_drops() - before,
        "error": None if offered else out.strip()[-300:],
    }


def tcpdump_stats(stderr: str) -> dict:
    """tcpdump's (and pcap4py capture's) exit counters."""
    def num(what: str) -> int | None:
        m = re.search(rf"(\d+) packets? {what}", stderr)
        return int(m.group(1)) if m else None

    return {"captured": num("captured"), "received": num("received by filter"),
            "kernel_dropped": num("dropped by kernel")}


def ensure_replay_file(out: Path, frames: int) -> Path:
    path = out / f"live-small-{frames}.pcap"
    gen.ensure(path, frames, small=True)
    return path
