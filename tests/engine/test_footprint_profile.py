"""``PCAP4PY_FOOTPRINT``: a small footprint (what the image ships for sidecars) runs every job's
JVM with C1 only, a 1 MiB young generation and, on Java 20+, the class-data archive at its own
address; ``auto`` keeps those for short jobs only.  Checked on a real open-ended capture (the
JVM's compiler threads, read from /proc) and on the flags the engine hands the JVM."""

from __future__ import annotations

import subprocess
import time

import pytest

from bench.proc import thread_names
from pcap4py.engine import tuning
from pcap4py.errors import JvmStartError
from tests.fixtures.cli import run_cli, start_cli


@pytest.fixture
def no_job(monkeypatch):
    monkeypatch.setattr(tuning, "_short", False)
    monkeypatch.delenv(tuning.FOOTPRINT_ENV, raising=False)


def test_auto_gives_only_a_short_job_the_quick_compiler(no_job):
    assert tuning.footprint() == "auto"
    tuning.expect_job(packets=None)  # an open-ended capture: all tiers
    assert tuning.options(21) == []
    tuning.expect_job(packets=1)
    assert tuning.options(21) == list(tuning.SHORT_JOB_OPTIONS)


@pytest.mark.parametrize("major, shared", [(17, False), (21, True), (25, True)])
def test_small_gives_every_job_the_small_flags(no_job, monkeypatch, major, shared):
    monkeypatch.setenv(tuning.FOOTPRINT_ENV, " Small ")
    tuning.expect_job(packets=None)
    flags = tuning.options(major)
    assert flags[:3] == list(tuning.SMALL_FOOTPRINT_OPTIONS)
    assert "-XX:TieredStopAtLevel=1" in flags and "-Xmn1m" in flags
    # Java 17 maps the archive at its own address anyway; 20+ only when asked
    assert ("-XX:ArchiveRelocationMode=0" in flags) is shared
    tuning.expect_job(packets=5)  # a short job keeps its 2 MiB young generation (it starts sooner)
    assert "-Xmn2m" in tuning.options(major) and "-Xmn1m" not in tuning.options(major)


@pytest.mark.parametrize("value", ["tiny", "0", "SMALLER", "small,auto"])
def test_an_unknown_footprint_is_refused_by_name(no_job, monkeypatch, value):
    monkeypatch.setenv(tuning.FOOTPRINT_ENV, value)
    with pytest.raises(JvmStartError, match=r"PCAP4PY_FOOTPRINT must be one of auto, small, not"):
        tuning.options(21)


def test_the_cli_says_so_in_one_line_and_exits_non_zero():
    done = run_cli("interfaces", env={tuning.FOOTPRINT_ENV: "tiny"})
    assert done.returncode != 0
    assert done.stderr.strip() == "pcap4py: PCAP4PY_FOOTPRINT must be one of auto, small, not 'tiny'"


def _compiler_threads(footprint: str) -> set[str]:
    """The JIT threads of an open-ended `capture lo icmp` a second after it printed a packet."""
    ping = subprocess.Popen(["ping", "-q", "-i", "0.05", "-c", "400", "-w", "20", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cap = start_cli("capture", "lo", "icmp", env={tuning.FOOTPRINT_ENV: footprint}, stderr=subprocess.DEVNULL)
    try:
        assert cap.stdout.readline(), "no packet printed"
        time.sleep(1)
        return {name for name in thread_names(cap.pid) if "Compiler" in name}
    finally:
        cap.terminate()
        cap.wait(timeout=30)
        ping.kill()
        ping.wait()


def test_a_small_footprint_capture_runs_without_c2():
    assert _compiler_threads("small") == {"C1 CompilerThre"}
    assert "C2 CompilerThre" in _compiler_threads("auto")  # an open-ended capture keeps every tier
