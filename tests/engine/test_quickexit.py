"""Ending the process without the JVM's teardown (pcap4py.engine.quickexit): nothing a command
wrote or registered is lost, and the exit status is the one ``sys.exit`` would give.

Each case is a real interpreter that starts the real JVM and then ends through exit_process.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.fixtures.cli import PYTHON

CHILD = r"""
import atexit, ctypes, sys, threading, time
from pcap4py.engine import jvm
from pcap4py.engine.quickexit import exit_process

jvm.start()
mode = sys.argv[1]
atexit.register(lambda: print("exit handler ran", file=sys.stderr))
sys.stdout.write("python, unflushed;")  # a pipe: block-buffered
libc = ctypes.CDLL(None)
libc.printf(b"C stdio, unflushed;")  # libc's stdout buffer, as libpcap's -w - writes it
if mode == "thread":
    threading.Thread(target=lambda: (time.sleep(0.5), print("thread finished;", end=""))).start()
exit_process({"int": 3, "none": None, "message": "pcap4py: a message", "thread": 0}[mode])
"""


def _child(mode: str) -> subprocess.CompletedProcess:
    # buffered as a user's shell leaves it (PYTHONUNBUFFERED would unbuffer C's stdout too)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.run([PYTHON, "-c", CHILD, mode], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("mode, status", [("int", 3), ("none", 0), ("message", 1)])
def test_everything_written_arrives_and_the_status_is_sys_exits(mode, status):
    done = _child(mode)
    assert done.returncode == status, done.stderr
    assert "python, unflushed;" in done.stdout and "C stdio, unflushed;" in done.stdout
    assert "exit handler ran" in done.stderr
    assert ("pcap4py: a message" in done.stderr) == (mode == "message")


def test_a_thread_still_running_is_waited_for():
    done = _child("thread")
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("thread finished;"), done.stdout
    assert "exit handler ran" in done.stderr

