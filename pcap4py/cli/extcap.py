"""``pcap4py extcap``: running containers (and Kubernetes pods) as Wireshark capture interfaces, and
the launcher for them.

Wireshark runs the launcher (``pcap4py extcap install``) with the extcap
options: ``--extcap-interfaces``, ``--extcap-dlts``, ``--extcap-config``,
``--extcap-capture-filter`` and ``--capture ... --fifo PATH``.  Answers go to
stdout, errors to stderr with a non-zero exit (Wireshark shows that stderr).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from .. import __version__
from ..errors import DockerUnavailable, FilterError, PermissionDenied, Pcap4pyError
from ..extcap import protocol
from ..extcap.pods import K8S_PREFIX, leave_if_unanswered, pod_containers, start_listing
from ..extcap.targets import VIAS, directions, open_interface, running_names
from ..remote.kube import DEFAULT_IMAGE, IMAGE_VARIABLE, default_image
from ..text import printable
from .group import main

WIRESHARK_RIGHTS = (
    "the wireshark group's capture rights do not cover a container: capturing one needs "
    "CAP_SYS_ADMIN and CAP_NET_RAW (to enter its network namespace) or root (e.g. through sudo), "
    "and access to the Docker socket (the docker group); see README, 'Wireshark'")
README = Path(__file__).resolve().parents[2] / "README.md"


@main.group(invoke_without_command=True)
@click.option("--extcap-interfaces", "list_interfaces", is_flag=True, help="List the interfaces (one per container).")
@click.option("--extcap-version", "wireshark_version", is_flag=False, flag_value="", default=None, metavar="[VERSION]",
              help="Wireshark's version (given with --extcap-interfaces); alone, print pcap4py's.")
@click.option("--extcap-dlts", "list_dlts", is_flag=True, help="List the link types of --extcap-interface.")
@click.option("--extcap-config", "list_config", is_flag=True, help="List the options of --extcap-interface.")
@click.option("--extcap-interface", "interface", metavar="IFACE",
              help="The interface (pcap4py-NAME, pcap4py-all or pcap4py-k8s-NS-POD).")
@click.option("--extcap-capture-filter", "capture_filter", metavar="FILTER",
              help="Check FILTER (alone: print nothing when valid, else the error); with --capture, apply it.")
@click.option("--capture", "do_capture", is_flag=True, help="Capture --extcap-interface into --fifo.")
@click.option("--fifo", metavar="PATH", help="Where --capture writes the packets.")
@click.option(protocol.VIA_CALL, "via", type=click.Choice(VIAS), default=VIAS[0], show_default=True,
              help="Capture point: inside the container's namespace, on its veth, on its bridge.")
@click.option(protocol.DIRECTION_CALL, "direction", default="both", show_default=True,
              help="egress, ingress or both.")
@click.option(protocol.SNAPLEN_CALL, "snaplen", type=click.IntRange(1, protocol.MAX_SNAPLEN),
              default=protocol.MAX_SNAPLEN, show_default=True, help="Bytes to capture per packet.")
@click.option(protocol.CONTAINERS_CALL, "only", default="", metavar="NAME,...",
              help="With pcap4py-all: only these containers (default: every running one).")
@click.option(protocol.TARGET_CALL, "target", default="", metavar="NAME",
              help="With a pod: whose namespaces the capture shares (default: its first container).")
@click.option(protocol.IMAGE_CALL, "image", default="", metavar="IMAGE",
              help=f"With a pod: the capture image (default: ${IMAGE_VARIABLE}, else {DEFAULT_IMAGE}).")
@click.pass_context
def extcap(ctx, list_interfaces, wireshark_version, list_dlts, list_config, interface, capture_filter, do_capture,
           fifo, via, direction, snaplen, only, target, image):
    """Containers and Kubernetes pods as Wireshark capture interfaces (Wireshark's extcap); see 'install'."""
    if ctx.invoked_subcommand is not None:
        return
    if list_interfaces:
        help_url = README.as_uri() if README.exists() else None
        pods = start_listing()  # the cluster is asked while the runtimes are
        _echo(protocol.interfaces(_running_or_none(), __version__, help_url, pods()))
        leave_if_unanswered(pods)
    elif list_dlts:
        _need_interface(interface, "--extcap-dlts")
        _echo(protocol.dlts())
    elif list_config:
        _need_interface(interface, "--extcap-config")
        if interface.startswith(K8S_PREFIX):
            _echo(protocol.pod_config(pod_containers(interface), default_image()))
        else:
            _echo(protocol.config(interface, [c.name for c in _running_or_none()]))
    elif do_capture:
        pod = {"target": target or None, "image": image or None}
        _capture(interface, fifo, capture_filter, via, direction, snaplen, only, pod)
    elif capture_filter is not None:
        _check_filter(capture_filter)
    elif wireshark_version is not None:
        _echo([protocol.sentence("extcap", version=__version__)])
    else:
        click.echo(ctx.get_help())


@extcap.command()
@click.option("--system", is_flag=True, help="Into Wireshark's global extcap folder (for every user) instead.")
def install(system: bool) -> None:
    """Put the launcher into Wireshark's extcap folder (personal by default)."""
    from ..extcap import launcher

    path = launcher.install(launcher.extcap_folder(system, launcher.wireshark_folders()))
    click.echo(f"installed {path}: restart Wireshark (or run 'tshark -D') to see the containers")


@extcap.command()
@click.option("--system", is_flag=True, help="From Wireshark's global extcap folder.")
def uninstall(system: bool) -> None:
    """Remove what 'install' wrote (only a launcher carrying pcap4py's marker line)."""
    from ..extcap import launcher

    folder = launcher.extcap_folder(system, launcher.wireshark_folders())
    removed = launcher.uninstall(folder)
    click.echo(f"removed {removed}" if removed else f"no pcap4py launcher in {folder}")


# --- the answers -----------------------------------------------------------------------------------
def _echo(lines: list[str]) -> None:
    click.echo("\n".join(printable(line) for line in lines))


def _need_interface(interface: Optional[str], what: str) -> None:
    if not interface:
        raise click.UsageError(f"{what} needs --extcap-interface")


def _running_or_none() -> list:
    """The running containers (name, runtime, id); none when no runtime can be asked (the capture then says why)."""
    try:
        return running_names()
    except Pcap4pyError:
        return []


def _check_filter(expression: str) -> None:
    """Wireshark 4.0 reads the first stdout line as the error, and only after an exit status of 0:
    a non-zero exit would make it discard the text and mark the filter 'unknown' instead."""
    from ..engine.bpf import compile_filter

    try:
        compile_filter(expression)
    except FilterError as e:
        click.echo(f"pcap4py: {printable(e)}")


def _capture(interface, fifo, capture_filter, via, direction, snaplen, only, pod) -> None:
    from ..extcap.session import Fifo

    if not fifo:
        raise click.UsageError("--capture needs --fifo")
    with Fifo(fifo) as out:  # first: whatever fails below, Wireshark's reader sees the end of the fifo
        _need_interface(interface, "--capture")
        try:
            dirs = directions(direction)
        except Pcap4pyError as e:
            raise click.BadParameter(str(e), param_hint=protocol.DIRECTION_CALL) from None
        names = [n for n in only.split(",") if n.strip()]
        _start(out, interface, capture_filter, via, dirs, names, snaplen, pod)


def _start(out, interface, capture_filter, via, dirs, names, snaplen, pod) -> None:
    """Check the filter, open the capture and write it into ``out``; a missing privilege is named."""
    from ..engine.bpf import compile_filter

    if capture_filter:
        try:
            compile_filter(capture_filter)  # the same words as --extcap-capture-filter's answer
        except FilterError as e:
            raise Pcap4pyError(str(e)) from e  # one line: Wireshark shows it in a dialog
    try:
        with open_interface(interface, via=via, capture=dirs, filter=capture_filter or None,
                            only=names, pod=pod, snaplen=snaplen, immediate=True) as cap:
            out.write(cap)
    except PermissionDenied as e:
        raise PermissionDenied(f"{e}: {WIRESHARK_RIGHTS}") from e
    except DockerUnavailable as e:
        if "ermission denied" not in str(e):
            raise
        raise PermissionDenied(f"{e}: {WIRESHARK_RIGHTS}") from e
