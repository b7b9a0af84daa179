"""JNA's native library (``libjnidispatch.so``) kept beside the jars, so JNA never unpacks it.

By default JNA copies the library out of its jar into a temporary folder at every start and
maps it from there, which fails where that folder cannot hold executable code: a read-only root
(``docker run --read-only``) or a ``noexec`` tmpfs (``--tmpfs /tmp``), and costs a file write per
start.  ``python -m pcap4py.engine.prepare`` (the image runs it at build time; root can run it
after installing) unpacks it once into ``native/`` beside the jars; from then on every start
points JNA there (``jna.boot.library.path``) and forbids unpacking (``jna.nounpack``).
"""

from __future__ import annotations

import os
import platform
import zipfile
from pathlib import Path

LIBRARY = "libjnidispatch.so"
# platform.machine() -> JNA's folder name in its jar
_ARCH = {"x86_64": "x86-64", "amd64": "x86-64", "aarch64": "aarch64", "arm64": "aarch64",
         "i686": "x86", "i386": "x86", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def folder(jar_dir: Path) -> Path:
    """Where the unpacked library goes: ``native/`` beside the jars."""
    return jar_dir / "native"


def options(jar_dir: Path) -> list[str]:
    """The JVM options pointing JNA at the unpacked library, if it is there (else none)."""
    where = folder(jar_dir)
    if not (where / LIBRARY).is_file():
        return []
    return [f"-Djna.boot.library.path={where}", "-Djna.nounpack=true"]


def unpack(jar_dir: Path) -> Path:
    """Copy this machine's ``libjnidispatch.so`` out of the JNA jar into :func:`folder`."""
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

