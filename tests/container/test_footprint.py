"""Memory of a capture over many interfaces: it grows by a few MB per captured interface (not by a
32 MiB kernel ring and an 8 MiB batch each, ~40 MB), and what a leaving source held is given back.

Real containers on the test session's dockerd, labelled for this test only; the capture runs as a
user would run it (``capture --label L --follow -w F``) and its resident memory is read from
/proc while it runs.
"""

from __future__ import annotations

import time

import pytest

from tests.container.test_container_capture import CaptureProcess
from tests.container.test_multi import label_of, labelled, wait_err

pytestmark = pytest.mark.docker

CONTAINERS = 5  # eth0 and lo each: 10 interfaces
PER_INTERFACE_MB = 8  # what each interface may add (a 4 MiB ring, a small batch, Java's buffers)


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for {pid}")


def _traffic(boxes) -> None:
    """A bounded burst on every interface: each container pings the next and itself."""
    for i, box in enumerate(boxes):
        peer = boxes[(i + 1) % len(boxes)]
        box.exec("ping", "-c", "20", "-i", "0.01", "-W", "1", peer.ip())
        box.exec("ping", "-c", "20", "-i", "0.01", "-W", "1", "127.0.0.1")


def test_memory_grows_little_per_interface_and_is_given_back(dockerlab, tmp_path, capsys):
    first = labelled(dockerlab, "fp0")
    proc = CaptureProcess("--label", label_of(dockerlab), "--follow", "-w", str(tmp_path / "f.pcapng"), handles=2)
    try:
        boxes = [first]
        _traffic(boxes)
        time.sleep(1)
        one = _rss_mb(proc.proc.pid)
        for n in range(1, CONTAINERS):
            boxes.append(labelled(dockerlab, f"fp{n}"))
            wait_err(proc, f"+ container {boxes[-1].name} (")
        _traffic(boxes)
        time.sleep(1)
        many = _rss_mb(proc.proc.pid)
        for box in boxes[1:]:
            box.sdk.kill()
        for box in boxes[1:]:
            wait_err(proc, f"- container {box.name} stopped")
        time.sleep(1)
        after = _rss_mb(proc.proc.pid)
        peak = _rss_mb(proc.proc.pid, "VmHWM")
    finally:
        _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    added = 2 * (CONTAINERS - 1)
    with capsys.disabled():
        print(f"\n[footprint] RSS with 2 interfaces {one:.0f} MB, with {2 * CONTAINERS} {many:.0f} MB "
              f"({(many - one) / added:.1f} MB per added interface), after {added} left {after:.0f} MB, "
              f"peak {peak:.0f} MB")
    assert many - one <= added * PER_INTERFACE_MB
    assert after <= many - (CONTAINERS - 1) * 3  # their rings (4 + 1 MiB a container) are unmapped
