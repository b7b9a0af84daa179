"""The ``pcap4py`` command line: one click group (:mod:`.group`), one module per family of subcommands.

Each module adds its commands to :data:`main`: capture.py (capture, read, interfaces),
containers.py, plumbing.py (attach, detach, mirror), extcap.py (Wireshark), sample.py (the
kaitoy/pcap4j sample).  A command's module is imported when the command runs
(:data:`.group.COMMAND_MODULES`), so a plain ``read`` starts without the container layer.
"""

from __future__ import annotations

import signal
import sys

from .group import COMMAND_MODULES, load_commands, main

__all__ = ["main", "run", "command_names"]


def command_names() -> list[str]:
    """Every subcommand's name (without importing their modules)."""
    return sorted({*COMMAND_MODULES, *main.commands})


def run(args: list[str] | None = None) -> None:
    """The program (``pcap4py``, ``python -m pcap4py``): :data:`main`, where a Ctrl-C before a
    command's own handlers are in place exits 130, and one that comes during the interpreter's and
    the JVM's shutdown is ignored (it would otherwise surface in an exit hook as a traceback).
    A command that started the JVM ends without its teardown (:mod:`pcap4py.engine.quickexit`).
    ``args``: the command line (default: ``sys.argv[1:]``)."""
    try:
        main(args=args, prog_name="pcap4py")
        code = 0
    except KeyboardInterrupt:
        code = 130
    except SystemExit as e:
        code = e.code
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    from ..engine.quickexit import exit_process

    exit_process(code)
