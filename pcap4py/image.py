"""Entry point of the bundled image (``docker/``): kaitoy/pcap4j's arguments or any pcap4py subcommand.

``docker run IMAGE eth1 true [FILTER...]`` runs :mod:`pcap4py.cli.sample` as
the old ``kaitoy/pcap4j`` image did; a first argument that names a pcap4py
subcommand (``capture``, ``read``, ``interfaces``...) or an option (``--help``)
goes to the ``pcap4py`` command line unchanged.  pipework's ``--wait [-i IF]``
(also spelt ``pipework --wait``) waits for the interface the host attaches
(``pcap4py wait-link``); after ``--``, the rest then runs as above, e.g.
``--wait -i eth1 -- eth1 true``.
"""

from __future__ import annotations

import sys
from typing import Optional, Sequence


WAIT = "--wait"


def image_args(argv: Sequence[str], commands: Sequence[str]) -> list[str]:
    """The ``pcap4py`` command line for the image's arguments ``argv``."""
    args = list(argv)
    if args and args[0] == "pipework":  # pipework's own spelling: pipework --wait [-i IF]
        args = args[1:]
    if args and args[0] == WAIT:
        return ["wait-link", *args[1:]]
    if args and (args[0] in commands or args[0].startswith("-")):
        return args
    return ["sample", *args]


def split_wait(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``--wait [-i IF] [--timeout S] [-- REST...]``: (the wait's arguments, what runs after it);
    without ``--wait`` first, ([], argv)."""
    args = list(argv)
    start = 1 if args[:1] == ["pipework"] else 0
    if args[start:start + 1] != [WAIT]:
        return [], args
    if "--" in args:
        cut = args.index("--")
        return args[:cut], args[cut + 1:]
    return args, []


def main(argv: Optional[Sequence[str]] = None) -> None:
    from .cli import command_names, main as cli, run

    wait, rest = split_wait(sys.argv[1:] if argv is None else argv)
    if wait:
        try:
            cli.main(args=image_args(wait, command_names()), prog_name="pcap4py")
        except SystemExit as e:
            if e.code not in (0, None) or not rest:
                raise
    run(image_args(rest, command_names()))  # the command itself ends the process, as `pcap4py` does


if __name__ == "__main__":
    main()
