"""Running ``python -m pcap4py`` as a user would, in a subprocess."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from typing import Optional

PYTHON = sys.executable


def pcap4py_cmd(*args: str) -> list[str]:
    return [PYTHON, "-m", "pcap4py", *args]


def run_cli(*args: str, timeout: float = 60, env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Run the CLI to completion (text output captured); ``env`` is merged over ``os.environ``."""
    return subprocess.run(pcap4py_cmd(*args), capture_output=True, timeout=timeout, text=True,
                          env={**os.environ, **(env or {})})


def start_cli(*args: str, netns: Optional[str] = None, env: Optional[dict] = None, **kw) -> subprocess.Popen:
    """Start the CLI in the background (stdout and stderr piped); ``netns`` runs it in that ``ip netns``."""
    cmd = pcap4py_cmd(*args)
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(cmd, env={**os.environ, **(env or {})}, **kw)


def wait_output(proc: subprocess.Popen, needle: str, stream: str = "stderr", timeout: float = 30) -> str:
    """Read the child's ``stream`` ("stdout" or "stderr") until ``needle`` appears; returns what it read.

    Reads the pipe's file descriptor directly, polled with a deadline, so that a
    silent child cannot block the test past ``timeout``.  Call it before any
    buffered read of that stream: what it reads is no longer in the pipe.
    """
    deadline = time.monotonic() + timeout
    want = needle.encode()
    seen = b""
    fd = getattr(proc, stream).fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk
            if want in seen:
                return seen.decode()
        elif proc.poll() is not None:
            break
    raise AssertionError(f"{needle!r} did not appear on the child's {stream} within {timeout}s "
                         f"(exit code {proc.poll()}): {seen.decode(errors='replace')!r}")


def wait_listening(proc: subprocess.Popen, timeout: float = 30) -> str:
    """Read the child's stderr until it says 'listening on' (the handles are open); returns what it read."""
    return wait_output(proc, "listening on", timeout=timeout)


def capture_then_signal(veth, path, signum: int, count: int = 20) -> tuple[int, str]:
    """``capture HOST_IF -w PATH udp`` while the namespace sends ``count`` datagrams, then stopped by
    ``signum``; returns (exit status, stderr)."""
    import time

    proc = start_cli("capture", veth.host_if, "-w", str(path), "udp")
    wait_listening(proc)
    veth.send_udp(veth.host_ip, 5555, b"before-signal", count=count)
    time.sleep(0.5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err.decode()
