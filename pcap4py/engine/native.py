"""JNA's native library (``libjnidispatch.so``) kept beside the jars, so JNA never unpacks it;
and libpcap named to JNA by its path, so JNA never runs ``ldconfig -p`` to look for it.

By default JNA copies the library out of its jar into a temporary folder at every start and
maps it from there, which fails where that folder cannot hold executable code: a read-only root
(``docker run --read-only``) or a ``noexec`` tmpfs (``--tmpfs /tmp``), and costs a file write per
start.  ``python -m pcap4py.engine.prepare`` (the image runs it at build time; root can run it
after installing) unpacks it once into ``native/`` beside the jars; from then on every start
points JNA there (``jna.boot.library.path``) and forbids unpacking (``jna.nounpack``).

libpcap: asked for ``pcap``, JNA tries ``libpcap.so`` (only a -dev package has it), and its first
library load lists the linker's cache by running ``/sbin/ldconfig -p`` from the JVM (a fork and
an exec, ~30 ms of a 0.3 s start).  When the library is found in the system's library folders
(:func:`libpcap_path`), Pcap4J is given its path (``org.pcap4j.core.pcapLibName``, which the
helper's own bindings read too) and JNA those folders (``jna.platform.library.path``: set, JNA
skips ``ldconfig``).  Found nowhere there, nothing is set and JNA searches as it always did.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Optional

LIBRARY = "libjnidispatch.so"
PCAP_SONAMES = ("libpcap.so.1", "libpcap.so.0.8", "libpcap.so")  # newest ABI name first
PCAP_NAME_PROPERTY = "org.pcap4j.core.pcapLibName"
# platform.machine() -> JNA's folder name in its jar
_ARCH = {"x86_64": "x86-64", "amd64": "x86-64", "aarch64": "aarch64", "arm64": "aarch64",
         "i686": "x86", "i386": "x86", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def folder(jar_dir: Path) -> Path:
    """Where the unpacked library goes: ``native/`` beside the jars."""
    return jar_dir / "native"


def options(jar_dir: Path) -> list[str]:
    """The JVM options pointing JNA at the unpacked library, if it is there, and at libpcap, if
    it is found (see the module's docstring)."""
    where = folder(jar_dir)
    unpacked = [f"-Djna.boot.library.path={where}", "-Djna.nounpack=true"] if (where / LIBRARY).is_file() else []
    return [*unpacked, *libpcap_options()]


def library_folders() -> list[str]:
    """The library folders, as the dynamic linker tries them: ``LD_LIBRARY_PATH``'s, then the
    system's multiarch ones (Debian's ``/usr/lib/x86_64-linux-gnu``), the 64-bit and plain ones."""
    arch = getattr(sys.implementation, "_multiarch", "") or ""
    folders = [f for f in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if os.path.isabs(f)]
    folders += [f"/usr/lib/{arch}", f"/lib/{arch}"] if arch else []
    folders += ["/usr/lib64", "/lib64", "/usr/lib", "/lib", "/usr/local/lib"]
    return [f for f in folders if os.path.isdir(f)]


def libpcap_path(folders: Optional[list[str]] = None) -> Optional[str]:
    """The first of :data:`PCAP_SONAMES` in :func:`library_folders`, or None.  A few ``stat``
    calls: nothing is loaded here (a plain file read needs no libpcap at all)."""
    for where in library_folders() if folders is None else folders:
        for soname in PCAP_SONAMES:
            path = os.path.join(where, soname)
            if os.path.isfile(path):
                return path
    return None


def libpcap_options() -> list[str]:
    """``-D`` options naming libpcap's path to Pcap4J and the library folders to JNA (none
    when libpcap is not in them: JNA then searches as usual, ``ldconfig`` included)."""
    folders = library_folders()
    path = libpcap_path(folders)
    if path is None:
        return []
    return [f"-D{PCAP_NAME_PROPERTY}={path}", f"-Djna.platform.library.path={os.pathsep.join(folders)}"]


def unpack(jar_dir: Path) -> Path:
    """Copy this machine's ``libjnidispatch.so`` out of the JNA jar into :func:`folder`."""
    import zipfile  # here: only the one-off unpacking reads the jar

    jars = sorted(jar_dir.glob("jna-*.jar"))
    if not jars:
        raise FileNotFoundError(f"no JNA jar in {jar_dir}")
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    member = f"com/sun/jna/linux-{arch}/{LIBRARY}"
    target = folder(jar_dir)
    target.mkdir(mode=0o755, exist_ok=True)
    part = target / f".{LIBRARY}.part"
    with zipfile.ZipFile(jars[-1]) as jar, jar.open(member) as src, open(part, "wb") as dst:
        dst.write(src.read())
    os.chmod(part, 0o755)
    os.replace(part, target / LIBRARY)
    return target / LIBRARY

