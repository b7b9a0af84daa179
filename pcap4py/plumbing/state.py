"""The small JSON files pcap4py keeps about what it made (mirror state, persisted attaches).

They live under :func:`run_dir` (``/run/pcap4py``, emptied at boot;
``$PCAP4PY_RUN_DIR`` overrides).  A file is replaced whole or not at all (written
beside it, then renamed over it), so a crash or a second writer never leaves half
a file; a reader gets the JSON value, or :class:`~pcap4py.errors.StateFileError` for a file that
is not JSON (nested too deeply for the parser included) or cannot be read.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import StateFileError

__all__ = ["RUN_DIR_ENV", "run_dir", "load", "save", "remove"]

RUN_DIR_ENV = "PCAP4PY_RUN_DIR"


def run_dir() -> Path:
    """Where pcap4py keeps what it made (``/run/pcap4py``, emptied at boot; ``$PCAP4PY_RUN_DIR`` overrides)."""
    return Path(os.environ.get(RUN_DIR_ENV, "/run/pcap4py"))


def load(path: Path) -> Any:
    """The JSON value in ``path``; None if there is no such file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise _error(path, f"cannot read it: {getattr(e, 'strerror', None) or e}") from e
    try:
        return json.loads(text)
    except ValueError as e:
        raise _error(path, f"not JSON: {e}") from e
    except RecursionError:  # thousands of nested arrays: the parser's own limit
        raise _error(path, "nested too deeply") from None


def _error(path: Path, reason: str) -> StateFileError:
    return StateFileError(f"{path}: {reason}", reason)


def save(path: Path, value: Any) -> None:
    """Write ``value`` as JSON to ``path`` (its folder made if missing), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(value, out, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove(path: Path) -> None:
    """Remove ``path`` if it is there."""
    path.unlink(missing_ok=True)
