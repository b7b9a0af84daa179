"""A class-data-sharing (CDS) archive of the classes pcap4py loads, so the JVM maps them instead
of loading ~3,000 classes from jars at every start (most of a short job's JVM time).

An archive belongs to one JVM, one set of jars and one set of JVM options: its name is a digest
of all of them (paths, sizes, modification times, the runtime's ``release`` file, the options),
so a changed jar or JVM simply has no archive yet, and an old one is never picked.  The JVM
checks the archive again itself (class path, sizes, times, version) and ignores a mismatch; its
complaints are silenced (``-Xlog:cds*=off``), since pcap4py then just runs without one.

Where archives are looked for, in order: ``$PCAP4PY_CDS_DIR`` (a folder baked into an image,
read-only is fine), then the per-user cache (``$XDG_CACHE_HOME/pcap4py/cds``, else
``~/.cache/pcap4py/cds``).  An archive is trusted only when it is a regular file owned by this
user or root, in a folder of the same owners, and neither is writable by others: a file another
user could have put or changed is never loaded.

When there is none, the first run starts a builder in the background (its own session, low
priority) and goes on without; the builder trains a JVM on a tiny generated capture
(``-XX:DumpLoadedClassList``), dumps the archive with the same runtime's ``java -Xshare:dump``
into a temporary name and renames it into place.  A read-only or absent cache only means no
archive.  ``PCAP4PY_CDS=off`` turns all of this off, ``PCAP4PY_CDS=use`` uses an archive but
never starts a builder; ``python -m pcap4py.engine.cds_build build``
builds one now (an image build does); :mod:`.cds_build` is the builder.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Optional, Sequence

DIR_ENV = "PCAP4PY_CDS_DIR"
MODE_ENV = "PCAP4PY_CDS"  # "off": no archive at all; "use": use one, never build one
FORMAT = 1  # bump when what goes into an archive changes
KEPT = 4  # archives kept per folder (other JVMs or jar sets); older ones are removed
BUILD_TIMEOUT = 120.0
# options that only steer logging or the archive itself: not part of the key
_IGNORED_PREFIXES = ("-Xlog", "-XX:SharedArchiveFile", "-Xshare", "-XX:DumpLoadedClassList",
                     "-XX:SharedClassListFile")


def enabled() -> bool:
    """Whether archives are used (``PCAP4PY_CDS`` is not ``off``/``0``/``no``)."""
    return os.environ.get(MODE_ENV, "").strip().lower() not in ("off", "0", "no", "false")


def may_build() -> bool:
    """Whether a missing archive may be built in the background (not with ``PCAP4PY_CDS=use``)."""
    return enabled() and os.environ.get(MODE_ENV, "").strip().lower() != "use"


def folders() -> list[Path]:
    """The folders searched for an archive, in order (the first writable one gets new ones)."""
    found = []
    if os.environ.get(DIR_ENV):
        found.append(Path(os.environ[DIR_ENV]))
    cache = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.environ["HOME"], ".cache") if os.environ.get("HOME") else "")
    if cache and os.path.isabs(cache):
        found.append(Path(cache) / "pcap4py" / "cds")
    return found


def full_classpath(classpath: Sequence[str]) -> list[str]:
    """The class path the JVM really gets: JPype appends its own support jar."""
    import jpype

    return [*classpath, str(Path(jpype.__file__).resolve().parent.parent / "org.jpype.jar")]


def _file_facts(path: str) -> list:
    try:
        st = os.stat(path)
    except OSError:
        return [path, None]
    return [os.path.realpath(path), st.st_size, st.st_mtime_ns]


def key(libjvm: Path, classpath: Sequence[str], options: Sequence[str]) -> str:
    """The digest naming the archive of this JVM, these jars (the full class path) and options."""
    home = java_home(libjvm)
    release = home / "release" if home else None
    facts = {
        "format": FORMAT,
        "libjvm": _file_facts(str(libjvm)),
        "release": release.read_text(errors="replace") if release and release.is_file() else "",
        "classpath": [_file_facts(p) for p in classpath],
        "options": [o for o in options if not o.startswith(_IGNORED_PREFIXES)],
    }
    return _digest(json.dumps(facts, sort_keys=True).encode())


def _digest(data: bytes) -> str:
    """32 hex digits of BLAKE2b: CPython's own, so hashlib's OpenSSL (3 MB) is not loaded for it."""
    try:
        from _blake2 import blake2b  # type: ignore[import-not-found]
    except ImportError:  # an interpreter without it
        from hashlib import blake2b
    return blake2b(data, digest_size=16).hexdigest()


def java_home(libjvm: Path) -> Optional[Path]:
    """The runtime's home (the folder with ``bin/java``) around ``libjvm``."""
    for home in list(libjvm.parents)[:4]:
        if (home / "bin" / "java").is_file():
            return home
    return None


def trusted(path: Path) -> bool:
    """Whether ``path`` may be loaded: a regular file (no link) owned by this user or root, in a
    folder of the same owners, neither writable by group or others."""
    me = os.geteuid()
    try:
        for p, want_reg in ((path, True), (path.parent, False)):
            st = os.lstat(p)
            if want_reg and not stat.S_ISREG(st.st_mode):
                return False
            if not want_reg and not stat.S_ISDIR(st.st_mode):
                return False
            if st.st_uid not in (me, 0) or st.st_mode & 0o022:
                return False
    except OSError:
        return False
    return True


def find(digest: str) -> Optional[Path]:
    """The trusted archive named ``digest`` in the first folder holding one, or None."""
    for folder in folders():
        candidate = folder / f"{digest}.jsa"
        if trusted(candidate):
            return candidate
    return None


def log_off(java_major: Optional[int]) -> list[str]:
    """Options silencing the JVM's archive messages (a mismatch only means running without)."""
    return ["-Xlog:cds*=off,aot*=off" if (java_major or 0) >= 24 else "-Xlog:cds*=off"]


def options(libjvm: Path, classpath: Sequence[str], jvm_options: Sequence[str],
            java_major: Optional[int]) -> list[str]:
    """The JVM options that use this setup's archive; when there is none yet, a background
    build is started (if a cache folder can be written) and no option is added."""
    if not enabled() or any(o.startswith(("-Xshare", "-XX:SharedArchiveFile")) for o in jvm_options):
        return []  # off, or the user chose an archive (or none) themselves
    cp = full_classpath(classpath)
    found = find(key(libjvm, cp, jvm_options))
    if found is not None:
        return ["-Xshare:auto", f"-XX:SharedArchiveFile={found}", *log_off(java_major)]
    if may_build() and java_home(libjvm) is not None and writable_folder() is not None:
        _start_builder()
    return []


def writable_folder() -> Optional[Path]:
    """The first folder of :func:`folders` that exists or can be made, and can be written."""
    for folder in folders():
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o755)
        except OSError:
            continue
        if os.access(folder, os.W_OK | os.X_OK) and trusted_folder(folder):
            return folder
    return None


def trusted_folder(folder: Path) -> bool:
    """A folder an archive may be written to: ours (or root's), not writable by others."""
    try:
        st = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid in (os.geteuid(), 0) and not st.st_mode & 0o022


def _start_builder() -> None:
    """``python -m pcap4py.engine.cds build`` in its own session, at low priority; it outlives
    this process if need be and ends by itself (bounded)."""
    import subprocess  # here: a start with its archive never pays for it

    try:
        subprocess.Popen([sys.executable, "-m", "pcap4py.engine.cds_build", "build", "--quiet"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True, preexec_fn=_lower_priority)
    except OSError:
        pass  # no archive this time; the next run tries again


def _lower_priority() -> None:
    try:
        os.nice(10)
    except OSError:
        pass


def remove_others(folder: Path, keep: Path) -> None:
    """Keep the :data:`KEPT` newest archives of ``folder`` (``keep`` among them)."""
    archives = sorted((p for p in folder.glob("*.jsa") if p != keep and len(p.stem) == 32),
                      key=lambda p: p.stat().st_mtime, reverse=True)
    for old in archives[KEPT - 1:]:
        try:
            old.unlink()
        except OSError:
            pass


def temporary_in(folder: Path, suffix: str) -> Path:
    """A fresh file name in ``folder`` (created empty, private)."""
    import tempfile

    fd, name = tempfile.mkstemp(dir=folder, prefix=".building-", suffix=suffix)
    os.close(fd)
    return Path(name)
