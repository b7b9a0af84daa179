"""Entry point of the bundled image (``docker/``): kaitoy/pcap4j's arguments or any pcap4py subcommand.

``docker run IMAGE eth1 true [FILTER...]`` runs :mod:`pcap4py.cli.sample` as
the old ``kaitoy/pcap4j`` image did; a first argument that names a pcap4py
subcommand (``capture``, ``read``, ``interfaces``...) or an option (``--help``)
goes to the ``pcap4py`` command line unchanged.
"""

from __future__ import annotations

import sys
from typing import Optional, Sequence


def image_args(argv: Sequence[str], commands: Sequence[str]) -> list[str]:
    """The ``pcap4py`` command line for the image's arguments ``argv``."""
    args = list(argv)
    if args and (args[0] in commands or args[0].startswith("-")):
        return args
    return ["sample", *args]


def main(argv: Optional[Sequence[str]] = None) -> None:
    from .cli import main as cli

    args = image_args(sys.argv[1:] if argv is None else argv, list(cli.commands))
    cli.main(args=args, prog_name="pcap4py")


if __name__ == "__main__":
    main()
