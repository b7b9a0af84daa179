"""What a handle holds (descriptors, threads) is given back: by close(), and by the garbage
collector for a handle dropped unclosed; and one handle is read by one iteration at a time.

Descriptors are counted in /proc/self/fd, threads in the JVM and in Python, in a fresh process
each time (so nothing another test left open is counted).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

import pcap4py

from tests.fixtures.pcapfiles import BASE_TS, eth_frames, pcapng_file, write_pcap

CYCLES = 1000


def _python(code: str, *, fd_limit: int = 0, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (with at most ``fd_limit`` descriptors, if given)."""
    prelude = "import resource\n" + (
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({fd_limit}, {fd_limit}))\n" if fd_limit else "")
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small pcap, a small pcapng (two interfaces), and a pcap of many batches."""
    folder = tmp_path_factory.mktemp("lifetime")
    small, many = folder / "v.pcap", folder / "many.pcap"
    write_pcap(small, 1, eth_frames())
    write_pcap(many, 1, eth_frames() * 5000)
    ng = folder / "v.pcapng"
    ng.write_bytes(pcapng_file(2, [(i % 2, BASE_TS * 10**9 + i, f) for i, f in enumerate(eth_frames())]))
    return {"pcap": small, "pcapng": ng, "many": many}


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_a_thousand_open_read_close_cycles_leak_no_descriptor(files, kind):
    """``with open_offline(f) as h: list(h.packets())`` 1,000 times, under ``ulimit -n 256``: each
    way of iterating, and the descriptor count back where it started."""
    proc = _python(f"""
        import os, pcap4py
        def fds(): return len(os.listdir("/proc/self/fd"))
        with pcap4py.open_offline({str(files[kind])!r}) as h: list(h.packets())  # the JVM is up
        before = fds()
        for i in range({CYCLES}):
            with pcap4py.open_offline({str(files[kind])!r}) as h:
                got = list((h.packets, h.raw, h.views, h.__iter__)[i % 4]())
            assert len(got) == (1 if i % 4 == 2 else 6), (i, got)
        print(before, fds())
    """, fd_limit=256)
    assert proc.returncode == 0, proc.stderr[-2000:]
    before, after = map(int, proc.stdout.split())
    assert after == before, f"{after - before} descriptors leaked over {CYCLES} cycles"


def test_a_live_handle_iterated_and_closed_leaks_no_descriptor():
    proc = _python("""
        import os, pcap4py
        def fds(): return len(os.listdir("/proc/self/fd"))
        with pcap4py.open_live("lo") as h: list(h.packets(duration=0))
        before = fds()
        for i in range(100):
            with pcap4py.open_live("lo") as h:
                list(h.packets(duration=0.01))
        print(before, fds())
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    before, after = map(int, proc.stdout.split())
    assert after == before


def test_handles_abandoned_mid_iteration_are_released_once_unreachable(files):
    """50 handles left half-read and never closed: their descriptors and read-ahead threads are
    held while they are reachable, and given back after ``del`` and a collection."""
    proc = _python(f"""
        import gc, os, threading, time, pcap4py
        from pcap4py.engine import jvm
        def fds(): return len(os.listdir("/proc/self/fd"))
        def jthreads(): return int(jvm.jclass("java.lang.Thread").activeCount())
        with pcap4py.open_offline({str(files['many'])!r}) as h: list(h.raw(count=1))
        gc.collect()
        before = fds(), jthreads(), threading.active_count()
        held = []
        for _ in range(50):
            h = pcap4py.open_offline({str(files['many'])!r})
            it = iter(h)
            next(it)
            held.append((h, it))
        during = fds(), jthreads(), threading.active_count()
        del held, h, it
        gc.collect()
        time.sleep(0.5)  # a Java thread may take a moment to be gone from the count
        print(*before, *during, fds(), jthreads(), threading.active_count())
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    fd0, jt0, pt0, fd1, jt1, pt1, fd2, jt2, pt2 = map(int, proc.stdout.split())
    assert fd1 - fd0 >= 50 and jt1 - jt0 >= 50, "the test holds nothing: it measures nothing"
    assert (fd2, jt2, pt2) == (fd0, jt0, pt0), f"held after del: {fd2 - fd0} fds, {jt2 - jt0} Java threads"


def test_a_dropped_handle_that_was_dumping_leaves_a_whole_file(tmp_path, files):
    """The finalizer flushes and closes a dropped handle's dump file like close() does."""
    out = tmp_path / "copy.pcap"
    proc = _python(f"""
        import gc, pcap4py
        h = pcap4py.open_offline({str(files['pcap'])!r}, filter="udp or tcp or ip6")
        h.dump({str(out)!r})
        print(sum(1 for _ in h))
        del h
        gc.collect()
        print(open({str(out)!r}, "rb").read().__len__())
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    count, size = map(int, proc.stdout.split())
    assert count == 6 and size == 24 + sum(16 + len(f) for f in eth_frames())


def test_two_threads_iterating_one_handle_one_reads_the_other_is_told(files, tmp_path):
    """A second iteration of a handle another thread is reading fails at once with a clear error;
    the first reads every packet, and none sees a corrupt file."""
    big = tmp_path / "big.pcapng"
    frames = eth_frames() * 5000
    big.write_bytes(pcapng_file(2, [(i % 2, BASE_TS * 10**9 + i, f) for i, f in enumerate(frames)]))
    started, tried = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def first(handle) -> None:
        n = 0
        for n, _ in enumerate(handle, 1):
            if n == 1:
                started.set()
                tried.wait(30)
        results["first"] = n

    def second(handle) -> None:
        started.wait(30)
        try:
            results["second"] = sum(1 for _ in handle.packets())
        except pcap4py.Pcap4pyError as e:
            results["second"] = e
        finally:
            tried.set()

    with pcap4py.open_offline(str(big)) as handle:
        threads = [threading.Thread(target=f, args=(handle,)) for f in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert results["first"] == len(frames)
        error = results["second"]
        assert isinstance(error, pcap4py.HandleBusy), error
        assert str(error) == (f"{big}: already being read by another iteration (another thread's, "
                              f"or one not finished): read a handle from one iteration at a time")
        # once the first iteration is over, the handle may be iterated again (it is at its end)
        assert list(handle) == []


def test_an_abandoned_iteration_lets_the_next_one_read(files):
    with pcap4py.open_offline(str(files["many"])) as handle:
        it = iter(handle)
        next(it)
        with pytest.raises(pcap4py.HandleBusy):
            next(iter(handle))
        del it  # dropped: its claim ends with it
        assert sum(1 for _ in handle.raw()) > 0
