"""The Python API used in the wrong order or with values out of range (issue 16): always a clean
pcap4py error, never a native crash."""

from __future__ import annotations

import json
import math
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

import pcap4py

from tests.fixtures.cli import PYTHON
from tests.fixtures.pcapfiles import eth_frames, pcapng_file, write_pcap

# Each scenario opens something, closes it, then makes one call; the child prints one JSON line
# per call: what it raised (or "ok"). A native crash kills the child, which the test sees.
AFTER_CLOSE_DRIVER = textwrap.dedent("""
    import json, sys
    import pcap4py
    from pcap4py.engine.batch import Batch

    pcap, pcapng, out = sys.argv[1:4]

    def offline():
        return pcap4py.open_offline(pcap, filter="ip")

    def handle_calls(h):
        return {
            "iter": lambda: list(h),
            "packets": lambda: list(h.packets(count=1)),
            "raw": lambda: list(h.raw()),
            "stats": lambda: h.stats(),
            "set_filter": lambda: h.set_filter("udp"),
            "set_direction": lambda: h.set_direction("in"),
            "dump": lambda: h.dump(out),
            "flush": lambda: h.flush(),
            "fileno": lambda: h.fileno(),
            "read_batch": lambda: h.read_batch(Batch()),
            "read_batch_limited": lambda: h.read_batch(Batch(), 1),
            "read_uncopied": lambda: h.read_uncopied(1),
            "use_file_reader": lambda: h.use_file_reader(pcap),
            "eof": lambda: h.eof,
            "captured": lambda: h.captured,
        }

    def capture_calls(c):
        return {
            "capture.iter": lambda: list(c),
            "capture.batches": lambda: list(c.batches()),
            "capture.raw": lambda: list(c.raw()),
            "capture.drain": lambda: c.drain(),
            "capture.stats": lambda: c.stats(),
            "capture.flush": lambda: c.flush(),
        }

    def report(name, call):
        try:
            call()
            what = "ok"
        except pcap4py.Pcap4pyError as e:
            what = "Pcap4pyError: " + str(e)
        except BaseException as e:
            what = "other: " + type(e).__name__ + ": " + str(e)
        print(json.dumps([name, what]), flush=True)

    openers = {"file": offline, "pcapng": lambda: pcap4py.open_offline(pcapng),
               "live": lambda: pcap4py.open_live("lo", filter="udp port 9")}
    for kind, opener in openers.items():
        for name in handle_calls(None):
            h = opener()
            h.close()
            report(f"{kind}:{name}", handle_calls(h)[name])
        h = opener()
        h.close()
        report(f"{kind}:close twice", h.close)
        h = opener()
        it = iter(h.raw())
        h.close()
        report(f"{kind}:iterator made before close", lambda: next(it))
        for name in capture_calls(None):
            c = pcap4py.Capture([opener()])
            c.close()
            report(f"{kind}:{name}", capture_calls(c)[name])
        c = pcap4py.Capture([opener()])
        it = iter(c.raw())
        c.close()
        report(f"{kind}:capture iterator made before close", lambda: next(it))
        if kind != "live":  # files have a packet to take before the close
            c = pcap4py.Capture([opener()])
            it = iter(c.raw())
            next(it)
            c.close()
            report(f"{kind}:capture closed while iterating", lambda: list(it))
        c = pcap4py.Capture([opener()])
        c.close()
        report(f"{kind}:capture.close twice", c.close)
        report(f"{kind}:capture.stop after close", c.stop)

    # Java's own guard, under Python's: a fill after Pcap4J closed the handle fails cleanly
    h = offline()
    h._j.close()
    batch = Batch()
    n = h._native.reader.fill(batch._jmeta, batch._jdata, 10)
    print(json.dumps(["java fill after close", f"{n} {h._native.reader.error()}"]), flush=True)
    h.close()

    # a dump file shared by two handles, closed with the first
    first, second = offline(), offline()
    second.dump(out, first.dump(out))
    first.close()
    report("shared dumper closed by its owner", lambda: list(second))
    second.close()
    print(json.dumps(["done", "ok"]), flush=True)
""")

ALLOWED_OK = ("close twice", "stop after close", "done")


def test_every_call_after_close_is_a_clean_error(tmp_path):
    pcap, pcapng, out = tmp_path / "f.pcap", tmp_path / "f.pcapng", tmp_path / "out.pcap"
    write_pcap(pcap, 1, eth_frames())
    pcapng.write_bytes(pcapng_file(2, [(i % 2, 10**18 + i, f) for i, f in enumerate(eth_frames())]))
    driver = tmp_path / "driver.py"
    driver.write_text(AFTER_CLOSE_DRIVER)
    # run in tmp_path so that a JVM crash log (hs_err_pid*.log) would land there
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([PYTHON, str(driver), str(pcap), str(pcapng), str(out)], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path, env=env)
    # a dying JVM prints its crash report on stdout too: keep only the driver's lines
    results = dict(json.loads(line) for line in proc.stdout.splitlines() if line.startswith('["'))
    assert proc.returncode == 0, f"driver died ({proc.returncode}) after {list(results)[-1:]}: {proc.stdout[-1500:]}"
    assert not list(tmp_path.glob("hs_err_pid*.log"))
    assert results.pop("done") == "ok"
    assert results.pop("java fill after close") == "0 handle is closed"
    assert len(results) > 60
    for name, what in results.items():
        if name.endswith(ALLOWED_OK):
            assert what == "ok", (name, what)
        else:
            assert what.startswith("Pcap4pyError: ") and "closed" in what, (name, what)


CLOSE_WHILE_READING_DRIVER = textwrap.dedent("""
    import socket, sys, threading, time
    import pcap4py

    out = sys.argv[1]
    outcomes = []
    for round in range(5):
        handle = pcap4py.open_live("lo", filter="udp port 59998", immediate=True)
        handle.dump(out)
        cap = pcap4py.Capture([handle], duration=10)

        def read():
            try:
                for _ in cap.raw():
                    pass
                outcomes.append("ended")
            except pcap4py.Pcap4pyError as e:
                outcomes.append(type(e).__name__)

        sending = threading.Event()

        def send():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for n in range(200000):  # bounded in count and by the close below
                    s.sendto(b"x" * 100, ("127.0.0.1", 59998))
                    if n == 1000:
                        sending.set()
                    if handle._closed:
                        break
            sending.set()

        reader, sender = threading.Thread(target=read), threading.Thread(target=send)
        reader.start()
        sender.start()
        sending.wait(10)
        time.sleep(0.05 * round)  # the reader is busy reading and dumping when the close comes
        handle.close()
        reader.join(15)
        sender.join(15)
        assert not reader.is_alive()
        cap.close()
    print(",".join(outcomes))
""")


def test_closing_a_handle_while_another_thread_reads_and_dumps(tmp_path):
    driver = tmp_path / "close_while_reading.py"
    driver.write_text(CLOSE_WHILE_READING_DRIVER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([PYTHON, str(driver), str(tmp_path / "out.pcap")], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[-1500:]
    assert not list(tmp_path.glob("hs_err_pid*.log"))
    assert set(proc.stdout.strip().split(",")) <= {"HandleClosed", "ended"}


# --- values out of range ----------------------------------------------------------------------
@pytest.mark.parametrize("kw, limit", [
    ({"buffer_size": 2**40}, "buffer_size"),
    ({"buffer_size": -1}, "buffer_size"),
    ({"snaplen": 0}, "snaplen"),
    ({"snaplen": 2**31}, "snaplen"),
    ({"timeout_ms": -5}, "timeout_ms"),
    ({"timeout_ms": 2**40}, "timeout_ms"),
])
def test_open_live_rejects_values_out_of_range_naming_the_limit(kw, limit):
    with pytest.raises(pcap4py.Pcap4pyError, match=rf"{limit} must be between \d+ and \d+") as info:
        pcap4py.open_live("lo", **kw)
    assert isinstance(info.value, ValueError)


@pytest.fixture
def small_pcap(tmp_path):
    path = tmp_path / "small.pcap"
    write_pcap(path, 1, eth_frames())
    return str(path)


@pytest.mark.parametrize("kw", [{"count": -1}, {"duration": -1.0}, {"duration": math.nan}])
def test_negative_count_or_duration_is_a_value_error(small_pcap, kw):
    with pcap4py.open_offline(small_pcap) as handle:
        with pytest.raises(ValueError, match="count|duration"):
            handle.packets(**kw)
        if "count" in kw:
            with pytest.raises(ValueError, match="count"):
                handle.raw(**kw)
        assert len(list(handle.packets(count=2))) == 2  # the handle is still usable
