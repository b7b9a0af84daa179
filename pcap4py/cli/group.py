"""The ``pcap4py`` click group: errors derived from :class:`pcap4py.errors.Pcap4pyError` print as
one line on stderr and exit with the error's ``exit_code``; usage errors (bad options, values,
arguments) are one line too, and exit 2.  Every message, click's own too,
is printed with its control characters escaped (:func:`pcap4py.text.printable`): it may quote a
name from the kernel, Docker or a file, or an argument."""

from __future__ import annotations

import sys
from importlib import import_module

import click

from .. import __version__
from ..errors import FilterError, Pcap4pyError
from ..text import printable


def _usage_exit(e: click.UsageError) -> None:
    """A usage error as one line, as tcpdump gives one, with where to look for help (exit 2)."""
    message = e.format_message()
    where = f" (see '{e.ctx.command_path} -h')" if e.ctx is not None and "(see " not in message else ""
    click.echo(f"pcap4py: {printable(message)}{where}", err=True)
    sys.exit(e.exit_code)


# every subcommand -> the module of this package that defines it: a command's module is imported
# only when it runs (or for the help), so `read` never loads the container layer or Docker's SDK
COMMAND_MODULES = {
    "capture": "capture", "read": "capture", "interfaces": "capture",
    "containers": "containers",
    "extcap": "extcap",
    "attach": "plumbing", "detach": "plumbing", "mirror": "plumbing", "reattach": "plumbing",
    "wait-link": "plumbing",
    "sample": "sample",
}


def load_commands(name: str | None = None) -> None:
    """Import the module defining command ``name`` (every command's module when None)."""
    modules = set(COMMAND_MODULES.values()) if name is None else {COMMAND_MODULES.get(name)} - {None}
    for module in sorted(modules):
        import_module(f"{__package__}.{module}")


class _Group(click.Group):
    """A click group that turns pcap4py errors and usage errors into one clear line and an exit
    code, and imports each command's module on first use."""

    def get_command(self, ctx: click.Context, cmd_name: str):
        if cmd_name not in self.commands:
            load_commands(cmd_name)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        load_commands()
        return super().list_commands(ctx)

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as e:  # the group's own arguments (an unknown command)
            _usage_exit(e)

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
        except click.UsageError as e:  # a command's options and arguments
            _usage_exit(e)
        except click.ClickException as e:  # click prints it; a bad argument may be quoted in it
            e.message = printable(e.message)
            raise
        except KeyboardInterrupt:  # Ctrl-C before a command's own handlers are in place
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="pcap4py")
def main() -> None:
    """Container-aware packet capture on Pcap4J."""
