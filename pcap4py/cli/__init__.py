"""The ``pcap4py`` command line: one click group (:mod:`.group`), one module per family of subcommands.

Each module adds its commands to :data:`main`: capture.py (capture, read, interfaces),
containers.py, plumbing.py (attach, detach, mirror), extcap.py (Wireshark), sample.py (the
kaitoy/pcap4j sample).
"""

from __future__ import annotations

import signal
import sys

from . import capture, containers, extcap, plumbing, sample  # noqa: F401  (they add their commands)
from .group import main

__all__ = ["main", "run"]


def run() -> None:
    """The program (``pcap4py``, ``python -m pcap4py``): :data:`main`, where a Ctrl-C before a
    command's own handlers are in place exits 130, and one that comes during the interpreter's and
    the JVM's shutdown is ignored (it would otherwise surface in an exit hook as a traceback)."""
    try:
        main(prog_name="pcap4py")
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
