"""Running ``python -m pcap4py`` as a user would, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Optional

PYTHON = sys.executable


def pcap4py_cmd(*args: str) -> list[str]:
    return [PYTHON, "-m", "pcap4py", *args]


def run_cli(*args: str, timeout: float = 60, env: Optional[dict] = None, netns: Optional[str] = None,
            input: Optional[bytes] = None, text: bool = True) -> subprocess.CompletedProcess:
    """Run the CLI to completion; ``netns`` runs it inside that ``ip netns`` namespace."""
    cmd = pcap4py_cmd(*args)
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(cmd, capture_output=True, timeout=timeout, env=full_env, input=input, text=text)


def start_cli(*args: str, netns: Optional[str] = None, env: Optional[dict] = None, **kw) -> subprocess.Popen:
    """Start the CLI in the background (stdout and stderr piped)."""
    cmd = pcap4py_cmd(*args)
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(cmd, env={**os.environ, **(env or {})}, **kw)


def wait_listening(proc: subprocess.Popen, timeout: float = 30) -> str:
    """Read the child's stderr until it says 'listening on' (the handles are open); returns what it read."""
    import select
    import time

    deadline = time.monotonic() + timeout
    seen = b""
    fd = proc.stderr.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk
            if b"listening on" in seen:
                return seen.decode()
        elif proc.poll() is not None:
            break
    raise AssertionError(f"capture did not start listening: {seen.decode()!r}")
