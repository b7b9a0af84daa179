"""The ``pcap4py`` command line: one click group (:mod:`.group`), one module per family of subcommands.

Each module adds its commands to :data:`main`: capture.py (capture, read, interfaces),
containers.py, plumbing.py (attach, detach, mirror), extcap.py (Wireshark), sample.py (the
kaitoy/pcap4j sample).
"""

from __future__ import annotations

from . import capture, containers, extcap, plumbing, sample  # noqa: F401  (they add their commands)
from .group import main

__all__ = ["main"]
