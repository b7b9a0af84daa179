"""The ``pcap4py`` click group: errors derived from :class:`pcap4py.errors.Pcap4pyError` print as
one line on stderr and exit with the error's ``exit_code``.  Every message, click's own too,
is printed with its control characters escaped (:func:`pcap4py.text.printable`): it may quote a
name from the kernel, Docker or a file, or an argument."""

from __future__ import annotations

import sys

import click

from .. import __version__
from ..errors import FilterError, Pcap4pyError
from ..text import printable


class _Group(click.Group):
    """A click group that turns pcap4py errors into one clear line and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except FilterError as e:
            click.echo(f"pcap4py: {printable(e)}", err=True)
            if e.position is not None:
                click.echo(e.caret_line(), err=True)
            sys.exit(e.exit_code)
        except Pcap4pyError as e:
            click.echo(f"pcap4py: {printable(e)}", err=True)
            sys.exit(e.exit_code)
        except click.ClickException as e:  # click prints it; a bad argument may be quoted in it
            e.message = printable(e.message)
            raise
        except KeyboardInterrupt:  # Ctrl-C before a command's own handlers are in place
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="pcap4py")
def main() -> None:
    """Container-aware packet capture on Pcap4J."""
