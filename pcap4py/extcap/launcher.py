"""The launcher script in Wireshark's extcap folder: where that folder is, install, uninstall.

Wireshark runs every executable in its extcap folders.  The launcher runs this
pcap4py with this Python::

    #!/bin/sh
    # pcap4py extcap launcher ...           <- the marker uninstall checks
    # created: DIR...                        <- folders install made (uninstall removes them if empty)
    exec /path/to/python3 -m pcap4py extcap "$@"

The folders come from ``tshark -G folders``: "Personal Extcap path" where it
exists (Wireshark 4.2 and later), else "Personal configuration" + ``/extcap``
(Wireshark 4.0 looks there; checked with ``tshark -D``); ``--system`` uses
"Extcap path".
"""

from __future__ import annotations

import os
import shlex
import shutil
import site
import subprocess
import sys
from pathlib import Path
from contextlib import contextmanager
from typing import Iterator, Optional

from ..errors import NotFound, Pcap4pyError

LAUNCHER_NAME = "pcap4py"
MARKER = "# pcap4py extcap launcher: written by 'pcap4py extcap install', removed by 'pcap4py extcap uninstall'"
CREATED = "# created: "
FOLDERS_TIMEOUT = 30


def wireshark_folders(tshark: str = "tshark") -> dict[str, str]:
    """``tshark -G folders`` as {label: path} (the first path of a repeated label)."""
    exe = shutil.which(tshark)
    if exe is None:
        raise NotFound("tshark is not installed (it tells where Wireshark looks for extcaps): "
                       "apt-get install tshark")
    try:
        out = subprocess.run([exe, "-G", "folders"], capture_output=True, text=True, check=True,
                             timeout=FOLDERS_TIMEOUT, stdin=subprocess.DEVNULL).stdout
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        raise Pcap4pyError(f"'tshark -G folders' failed: {e}") from e
    folders: dict[str, str] = {}
    for line in out.splitlines():
        label, sep, path = line.partition(":")
        if sep and path.strip():
            folders.setdefault(label.strip(), path.strip())
    return folders


def extcap_folder(system: bool, folders: dict[str, str]) -> Path:
    """The folder the launcher goes into (see the module docstring)."""
    if system:
        key = "Extcap path"
    elif "Personal Extcap path" in folders:
        key = "Personal Extcap path"
    else:
        key = "Personal configuration"
    if key not in folders:
        raise Pcap4pyError(f"'tshark -G folders' has no {key!r} line")
    path = Path(folders[key])
    if not path.is_absolute():  # HOME is empty: Wireshark would look relative to where it runs
        raise Pcap4pyError(f"Wireshark's folder {str(path)!r} is not an absolute path (is HOME empty?): "
                           f"set HOME (or XDG_CONFIG_HOME) to your home folder")
    return path / "extcap" if key == "Personal configuration" else path


def launcher_text(created: list[Path]) -> str:
    """The script: this Python, and this pcap4py when it is not in the interpreter's site-packages."""
    lines = ["#!/bin/sh", MARKER]
    if created:
        lines.append(CREATED + " ".join(shlex.quote(str(p)) for p in created))
    root = Path(__file__).resolve().parents[2]  # the folder holding the pcap4py package
    sites = {Path(p).resolve() for p in [*site.getsitepackages(), site.getusersitepackages()]}
    env = "" if root in sites else f'PYTHONPATH={shlex.quote(str(root))}"${{PYTHONPATH:+:$PYTHONPATH}}" '
    lines.append(f'{env}exec {shlex.quote(sys.executable)} -m pcap4py extcap "$@"')
    return "\n".join(lines) + "\n"


def install(folder: Path) -> Path:
    """Write the launcher into ``folder`` (made if missing); returns its path."""
    with _os_errors(f"cannot install the launcher into {folder}"):
        return _install(folder)


def _install(folder: Path) -> Path:
    target = folder / LAUNCHER_NAME
    if target.exists() and not _is_ours(target):
        raise Pcap4pyError(f"{target} exists and was not written by pcap4py: not replacing it")
    created = _missing_parents(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if target.exists():  # a re-install keeps the record of the folders the first one made
        created = _created_by(target)
    tmp = target.with_name(f".{LAUNCHER_NAME}.{os.getpid()}")
    tmp.write_text(launcher_text(created))
    tmp.chmod(0o755)
    tmp.replace(target)
    return target


def uninstall(folder: Path) -> Optional[Path]:
    """Remove the launcher (only if its marker is there) and the folders install made, if empty.

    Returns the removed path, None when there was no launcher."""
    with _os_errors(f"cannot remove the launcher from {folder}"):
        return _uninstall(folder)


def _uninstall(folder: Path) -> Optional[Path]:
    target = folder / LAUNCHER_NAME
    if not target.exists():
        return None
    if not _is_ours(target):
        raise Pcap4pyError(f"{target} was not written by pcap4py (no marker line): leaving it")
    created = _created_by(target)
    target.unlink()
    for d in sorted(created, key=lambda p: len(p.parts), reverse=True):  # deepest first
        try:
            d.rmdir()
        except OSError:
            pass  # not empty (something else lives there now) or already gone
    return target


@contextmanager
def _os_errors(doing: str) -> Iterator[None]:
    """An OSError of the body (a HOME that is a file, a read-only folder) as one pcap4py line."""
    try:
        yield
    except OSError as e:
        where = f" ({e.filename})" if e.filename and str(e.filename) not in doing else ""
        raise Pcap4pyError(f"{doing}: {e.strerror or e}{where}") from e


def _is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(errors="replace").splitlines()[:3]
    except OSError:
        return False


def _created_by(path: Path) -> list[Path]:
    for line in path.read_text(errors="replace").splitlines()[:4]:
        if line.startswith(CREATED):
            return [Path(p) for p in shlex.split(line[len(CREATED):])]
    return []


def _missing_parents(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, outermost first."""
    missing = []
    for p in [folder, *folder.parents]:
        if p.exists():
            break
        missing.append(p)
    return list(reversed(missing))
