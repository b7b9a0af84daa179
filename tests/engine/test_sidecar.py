"""A capture running inside another container's network namespace (the image as a sidecar,
``docker run --net=container:X ... capture eth0``) ends at once when X is killed.

X's death takes eth0 out of the namespace (Docker deletes the veth) while the capture still holds
the namespace, so only ``lo`` is left.  tcpdump there ends at once ("The interface disappeared");
so must pcap4py: one ``pcap4py:`` line, a non-zero exit, and a file every reader accepts.  The
sidecar here is ``python -m pcap4py`` entered into X's namespace with nsenter (the same namespace
a ``--net=container:X`` container joins, without building the image).
"""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.fixtures.cli import pcap4py_cmd, wait_listening

pytestmark = pytest.mark.docker

KILLS = 20
END_WITHIN = 5.0  # seconds from the kill to the capture's exit


def _sidecar(pid: int, path) -> subprocess.Popen:
    return subprocess.Popen(["nsenter", "-t", str(pid), "-n", *pcap4py_cmd("capture", "eth0", "-w", str(path))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_sidecar_capture_ends_at_once_when_its_target_is_killed(dockerlab, tmp_path):
    slow = []
    for i in range(KILLS):
        target = dockerlab.run(f"x{i}")
        path = tmp_path / f"s{i}.pcap"
        proc = _sidecar(target.pid, path)
        try:
            seen = wait_listening(proc)
            subprocess.run(["ping", "-c", "2", "-i", "0.2", "-W", "1", target.ip()], capture_output=True, timeout=10)
            target.sdk.kill()
            killed = time.monotonic()
            try:
                proc.wait(timeout=END_WITHIN + 5)
            except subprocess.TimeoutExpired:
                pass
            took = time.monotonic() - killed
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
        err = seen + proc.stderr.read().decode(errors="replace")
        target.sdk.remove(force=True)
        if took > END_WITHIN:
            slow.append(f"kill {i}: still running {took:.1f} s after the kill")
            continue
        assert proc.returncode == 1, err
        lines = [line for line in err.splitlines() if line.startswith("pcap4py:")]
        assert lines == ["pcap4py: reading from eth0 failed: The interface disappeared"], err
        assert "Traceback" not in err, err
        res = subprocess.run(["tcpdump", "-n", "-r", str(path)], capture_output=True, text=True, timeout=30)
        assert res.returncode == 0 and "truncated" not in res.stderr, res.stderr
        assert len(res.stdout.splitlines()) >= 2, (res.stdout, err)  # the pings before the kill
    assert not slow, slow
