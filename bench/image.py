"""Section image: the bundled image's start and a sidecar's memory, beside Docker's own floor.

On the test dockerd (tests/fixtures/dockerlab.py, started for the bench and stopped after it
unless a test session shares it) with pcap4py's image built from this checkout on the local
Debian base (tests/fixtures/imagelab.py) and busybox imported from a local root filesystem:

- start to first packet: a busybox "talker" pings its gateway (docker0) every 0.02 s, bounded;
  `docker run` of the image as `eth0 false icmp` in the talker's network namespace, with every
  capability dropped but NET_RAW and `PCAP4PY_COUNT=1`; the clock runs from the SDK's create
  call to the first packet line arriving on the container's log stream.  Beside it, in the same
  loop, `docker run --rm busybox true`: what any container's start costs on this engine.
- a sidecar's peak RSS: the image as `capture eth0 icmp` in a talker's namespace (20 pings a
  second), VmHWM read from /proc after 3 s, as the image ships it (``PCAP4PY_FOOTPRINT=small``,
  a 2 MiB ring) and again with the roomy settings (``auto``, 4 MiB) for what they save; beside
  them the host's tcpdump doing the same in the same namespace (`nsenter -n`), read the same way.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Any, Optional

from .config import Config
from .proc import vm_hwm_kb
from .report import Row, Section

PING_INTERVAL = "0.02"  # the wait for the next echo is ~0.01 s of each figure
PING_BOUND = ("-c", "6000", "-w", "120")
SIDECAR_PING = ("-i", "0.05", "-c", "1200", "-w", "60")
SIDECAR_SETTLE_S = 3.0
LOG_TIMEOUT_S = 60.0


def measure(cfg: Config) -> Section:
    sec = Section("image")
    try:
        from tests.fixtures import dockerlab, imagelab
    except ImportError as e:  # pytest missing: the fixtures cannot be imported
        sec.notes.append(f"not measured: the test fixtures cannot be imported: {e}")
        return sec
    with dockerlab.running_engine() as engine:
        image = imagelab.build_image(imagelab.local_base())
        lab = dockerlab.DockerLab(engine, dockerlab.import_busybox(engine))
        try:
            _first_packet(cfg, sec, lab, image)
            _sidecar(sec, lab, image)
        finally:
            lab.close()  # the talkers and every container run here
    return sec


def _talker(lab: Any, name: str, ping: tuple[str, ...]) -> Any:
    """A busybox container pinging its gateway (docker0), bounded in count and time."""
    box = lab.run(name)
    box.sdk.exec_run(["ping", *ping, box.gateway()], detach=True)
    time.sleep(0.5)
    return box


def _first_line_with(box: Any, needle: bytes) -> Optional[float]:
    """The monotonic time a log chunk holding ``needle`` arrives (None: the log ended without it)."""
    end = time.monotonic() + LOG_TIMEOUT_S
    for chunk in box.logs(stream=True, follow=True):
        if needle in chunk:
            return time.monotonic()
        if time.monotonic() > end:
            break
    return None


def _first_packet(cfg: Config, sec: Section, lab: Any, image: str) -> None:
    talker = _talker(lab, "talker", ("-i", PING_INTERVAL, *PING_BOUND))
    firsts: list[float] = []
    floors: list[float] = []
    for i in range(cfg.startup_runs):
        print(f"  image: start run {i + 1}/{cfg.startup_runs}", file=sys.stderr, flush=True)
        started = time.monotonic()
        lab.client.containers.run(lab.image, ["true"], remove=True)
        floors.append(time.monotonic() - started)
        started = time.monotonic()
        box = lab.client.containers.run(image, ["eth0", "false", "icmp"], detach=True,
                                        network_mode=f"container:{talker.id}", environment={"PCAP4PY_COUNT": "1"},
                                        cap_drop=["ALL"], cap_add=["NET_RAW"])
        try:
            seen = _first_line_with(box, b"ICMP")
            if seen is not None:
                firsts.append(seen - started)
            box.wait(timeout=30)
        finally:
            box.remove(force=True)
    sec.raw["start"] = {"first_packet_s": [round(x, 3) for x in firsts], "busybox_true_s": [round(x, 3) for x in floors]}
    ours = statistics.median(firsts) if firsts else None
    n = cfg.startup_runs
    sec.rows.append(Row("image", f"docker run to first packet (median of {n}, a ping every {PING_INTERVAL} s)", "s",
                        ours, "docker run --rm busybox true", statistics.median(floors) if floors else None,
                        higher_is_better=False, target="<=0.5 s", met=None if ours is None else ours <= 0.5,
                        note="" if len(firsts) == n else f"{n - len(firsts)} run(s) printed no packet"))


def _peak_mb(pid: int) -> Optional[float]:
    kb = vm_hwm_kb(pid)
    return None if kb is None else kb / 1024


def _sidecar_peak(lab: Any, image: str, talker: Any, env: dict[str, str]) -> Optional[float]:
    """The image as ``capture eth0 icmp`` in the talker's namespace: its VmHWM after the settle."""
    box = lab.client.containers.run(image, ["capture", "eth0", "icmp"], detach=True,
                                    network_mode=f"container:{talker.id}", environment=env)
    try:
        seen = _first_line_with(box, b"ICMP")
        time.sleep(SIDECAR_SETTLE_S)
        box.reload()
        return _peak_mb(box.attrs["State"]["Pid"]) if seen is not None else None
    finally:
        box.remove(force=True)


def _tcpdump_peak(talker: Any) -> Optional[float]:
    """The host's tcpdump doing the sidecar's job in the same namespace, read the same way."""
    tcpdump = subprocess.Popen(["nsenter", f"--net=/proc/{talker.pid}/ns/net", "tcpdump", "-n", "-i", "eth0", "icmp"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1 + SIDECAR_SETTLE_S)
        return _peak_mb(tcpdump.pid) if tcpdump.poll() is None else None
    finally:
        tcpdump.terminate()
        tcpdump.wait(timeout=10)


def _sidecar(sec: Section, lab: Any, image: str) -> None:
    talker = _talker(lab, "smalltalk", SIDECAR_PING)
    ours = _sidecar_peak(lab, image, talker, {})
    # the same with the image's small footprint turned off (C2, a 4 MiB young generation, the
    # 4 MiB ring of earlier images): what PCAP4PY_FOOTPRINT=small and the 2 MiB ring save
    roomy = _sidecar_peak(lab, image, talker, {"PCAP4PY_FOOTPRINT": "auto", "PCAP4PY_BUFFER_KIB": "4096"})
    theirs = _tcpdump_peak(talker)
    sec.raw["sidecar"] = {"peak_mb": ours, "footprint_auto_ring_4m_peak_mb": roomy, "tcpdump_peak_mb": theirs}
    peer = None if theirs is None else round(theirs, 1)
    sec.rows.append(Row("image", f"a sidecar's peak RSS (capture eth0 icmp, {SIDECAR_SETTLE_S:.0f} s in)", "MB",
                        None if ours is None else round(ours, 1), "tcpdump -i eth0 icmp (same netns)", peer,
                        higher_is_better=False, target="<=64 MB", met=None if ours is None else ours <= 64))
    sec.rows.append(Row("image", "the same, PCAP4PY_FOOTPRINT=auto and a 4 MiB ring (no target)", "MB",
                        None if roomy is None else round(roomy, 1), "tcpdump -i eth0 icmp (same netns)", peer,
                        higher_is_better=False))
