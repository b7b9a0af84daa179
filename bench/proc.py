"""Running the measured programs: one subprocess each, timed, with its own resource usage.

Every figure comes from a separate process so that the readers do not share caches, JVMs or
imports, and so that wall time, CPU time and peak RSS (``ru_maxrss`` from ``wait4``) belong to that
program alone. Output goes to files, not pipes, so a chatty program can never block.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout: python -m pcap4py / bench work from here


@dataclass
class Done:
    """What one finished process left behind."""

    cmd: list[str]
    rc: int | None
    wall: float  # seconds from spawn to exit
    cpu: float  # user + system seconds
    maxrss_mb: float  # peak RSS (VmHWM) as last sampled while it ran; 0 if it ended before a sample
    stdout: str
    stderr: str
    timed_out: bool = False

    def json(self) -> dict:
        """The last line of stdout that parses as a JSON object (what the workers print)."""
        for line in reversed(self.stdout.splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except ValueError:
                    continue
        return {}

    def brief(self, lines: int = 3) -> str:
        tail = (self.stderr.strip() or self.stdout.strip()).splitlines()[-lines:]
        return " | ".join(tail)


def vm_hwm_kb(pid: int) -> int | None:
    """Process ``pid``'s peak RSS (VmHWM, kB) now; None when it is gone or has no memory (a zombie)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def thread_names(pid: int) -> set[str]:
    """The names of process ``pid``'s threads (``comm``: the JVM's ``C1 CompilerThre``...); empty
    when it is gone."""
    names = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/comm") as f:
                names.add(f.read().strip())
    except OSError:
        pass
    return names


SAMPLE_SECONDS = 0.02  # how often a running program's VmHWM is read


def _pidfd(pid: int) -> int | None:
    """A descriptor for process ``pid`` (Linux 5.3+), None where there is none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


class Proc:
    """A started subprocess whose exit we reap ourselves (``wait4``, for its rusage)."""

    def __init__(self, cmd: list[str], *, stdout_null: bool = False, env: dict | None = None,
                 cwd: str | Path | None = None) -> None:
        self.cmd = cmd
        self._out = tempfile.TemporaryFile(mode="w+b")
        self._err = tempfile.TemporaryFile(mode="w+b")
        self.t0 = time.perf_counter()
        full_env = None
        if env:
            full_env = dict(os.environ)
            full_env.update(env)
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL if stdout_null else self._out,
                                  stderr=self._err, env=full_env, cwd=str(cwd or ROOT),
                                  start_new_session=True)  # Ctrl-C on the terminal reaches us only
        self.pid = self.p.pid
        self._done: Done | None = None
        self.hwm_kb = 0
        self._pidfd = _pidfd(self.pid)  # readable once the program has exited

    def sample(self) -> int:
        """Reads the process's VmHWM (kB). Not ru_maxrss: after fork/exec that starts at the
        parent's own RSS (the kernel carries the high-water mark across exec)."""
        self.hwm_kb = max(self.hwm_kb, vm_hwm_kb(self.pid) or 0)  # gone or a zombie: keep the last sample
        return self.hwm_kb

    def stderr_so_far(self) -> str:
        """What the process has written on stderr up to now (while it runs; '' once reaped)."""
        if self._done is not None:
            return self._done.stderr
        try:
            size = os.fstat(self._err.fileno()).st_size
            return os.pread(self._err.fileno(), size, 0).decode(errors="replace")
        except (OSError, ValueError):
            return ""

    def alive(self) -> bool:
        return self._done is None and self._reap(block=False) is None

    def send(self, sig: int = signal.SIGINT) -> None:
        if self._done is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def _sleep(self, seconds: float) -> None:
        """Sleep up to ``seconds``, but wake as soon as the program exits: its wall time is then
        its own, not rounded up to the next sample (sleeping 20 ms did that: tcpdump's 0.06 s
        start read 0.061 or 0.082)."""
        if self._pidfd is None:
            time.sleep(seconds)
        else:
            select.select([self._pidfd], [], [], seconds)

    def _reap(self, block: bool) -> Done | None:
        if self._done is not None:
            return self._done
        if not block:
            self.sample()
        try:
            pid, status, ru = os.wait4(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return None
        if pid == 0:
            return None
        wall = time.perf_counter() - self.t0
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        self.p.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
        self._done = Done(self.cmd, self.p.returncode, wall, ru.ru_utime + ru.ru_stime, self.hwm_kb / 1024,
                          self._read(self._out), self._read(self._err))
        return self._done

    @staticmethod
    def _read(f) -> str:
        f.seek(0)
        data = f.read()
        f.close()
        return data.decode(errors="replace")

    def wait(self, timeout: float) -> Done:
        """Waits for exit; after `timeout` seconds sends SIGTERM, then SIGKILL (marked timed_out)."""
        try:
            return self._wait(timeout)
        except BaseException:  # Ctrl-C: no measured program outlives the bench
            self.send(signal.SIGKILL)
            self._reap(block=True)
            raise

    def _wait(self, timeout: float) -> Done:
        deadline = time.monotonic() + timeout
        timed_out = False
        for sig, grace in ((None, 0.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if sig is not None:
                timed_out = True
                self.send(sig)
                deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                done = self._reap(block=False)
                if done is not None:
                    done.timed_out = timed_out
                    return done
                self._sleep(min(SAMPLE_SECONDS, max(0.0, deadline - time.monotonic())))
        done = self._reap(block=True)
        assert done is not None
        done.timed_out = True
        return done

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> Done:
        self.send(sig)
        return self.wait(timeout)


def run(cmd: list[str], timeout: float, **kw) -> Done:
    """Runs `cmd` to completion (bounded by `timeout`)."""
    return Proc(cmd, **kw).wait(timeout)


def python(*args: str) -> list[str]:
    """A command line running this interpreter (the one the bench runs under)."""
    return [sys.executable, *args]


def worker(*args: str) -> list[str]:
    """A command line running one of bench.workers' measurements."""
    return python("-m", "bench.workers", *args)


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        pass
    return inodes


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def packet_sockets(pid: int) -> list[list[str]]:
    """The /proc/net/packet rows (columns split) of the AF_PACKET sockets `pid` or a child holds."""
    inodes: set[str] = set()
    for p in [pid, *_children(pid)]:
        inodes |= _socket_inodes(p)
    with open("/proc/net/packet") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    return [cols for cols in rows if cols[-1] in inodes]


def has_packet_socket(pid: int) -> bool:
    """Whether `pid` (or a child of it) holds an AF_PACKET socket, i.e. libpcap has opened a handle."""
    return bool(packet_sockets(pid))


def wait_capturing(proc: Proc, timeout: float, settle: float = 0.5) -> bool:
    """Waits until the capturer has a packet socket open (then `settle` s for its filter)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            return False
        if has_packet_socket(proc.pid):
            time.sleep(settle)
            return True
        time.sleep(0.05)
    return False
