"""``pcap4py capture``, ``pcap4py read`` and ``pcap4py interfaces``: tcpdump's habits, on Pcap4J."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Optional

import click

from ..engine import tuning
from ..engine.limits import MAX_SNAPLEN
from ..engine.numbers import LINKTYPE_NAMES
from ..errors import Pcap4pyError
from ..sinks import FORMATS, Output
from ..sinks.pump import pump
from ..text import printable
from .group import main
from .hosts import capture_hosts, host_options, wants_hosts
from .kube import capture_pods, kube_options, refuse_without_kube
from .options import PRINT_OPTIONS, print_flags
from .options import BUFFER_KIB, COMMAND, FILE_COUNT, FILE_NAME, FILE_SIZE, INTERVAL, SECONDS, USER_NAME
from .request import CaptureRequest, check_output

RUNTIMES = ("docker", "podman", "cri", "containerd")  # the backends of pcap4py.container.runtimes (not imported here: kept lazy)
# container.plans.VIAS, spelled here so that a plain capture or read never imports the container
# layer (tests/engine/test_startup.py checks that the two agree)
VIAS = ("netns", "veth", "bridge")
from .wait import wait_announced

if TYPE_CHECKING:
    from ..engine.capture import Capture
    from ..sinks.rotate import Rotation



def _output_options(f):
    """Options shared by capture and read."""
    for option in reversed([
        click.option("-c", "--count", type=click.IntRange(min=1), help="Stop after COUNT packets."),
        click.option("-w", "--write", "write_path", metavar="FILE", type=FILE_NAME,
                     help="Write packets to a pcap file ('-' for stdout) instead of printing them "
                          "(pcapng when FILE ends in .pcapng)."),
        click.option("--pcapng", "pcapng", is_flag=True, help="With -w: write pcapng whatever the name ('-' too)."),
        click.option("--comments", is_flag=True, help="With pcapng output: a comment on each packet naming its interface."),
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
                     help="How to print packets."),
        click.option("--json", "as_json", is_flag=True, help="Same as --format json (one JSON array at the end)."),
        click.option("-n", "numeric", is_flag=True, help="Accepted for tcpdump habits: pcap4py never resolves names."),
        click.option("-f", "--filter", "filter_opt", metavar="EXPRESSION", help="BPF capture filter."),
        *PRINT_OPTIONS,
    ]):
        f = option(f)
    return f


@main.command(context_settings={"ignore_unknown_options": False})
@click.argument("args", nargs=-1)
@click.option("-i", "--interface", "iface_opt", metavar="IFACE", help="Interface to capture on.")
@click.option("-r", "--read-file", metavar="FILE", help="Read packets from a capture file instead (as 'read FILE').")
@_output_options
@click.option("-C", "file_size", type=FILE_SIZE, metavar="SIZE",
              help="With -w: a new file once one holds more than SIZE millions of bytes (k, m, g: KiB, MiB, "
                   "GiB); files FILE, FILE1, FILE2...")
@click.option("-G", "rotate_seconds", type=INTERVAL, metavar="SECONDS",
              help="With -w: a new file at every multiple of SECONDS of the clock; FILE may hold strftime "
                   "formats (%Y%m%d-%H%M%S).")
@click.option("-W", "file_count", type=FILE_COUNT, metavar="N",
              help="With -C: a ring of N files FILE0..; with -G alone: stop after N files.")
@click.option("-z", "post_rotate", type=COMMAND, metavar="CMD",
              help="With -C or -G: run CMD FILE on every file once it is closed.")
@click.option("-s", "--snaplen", type=click.IntRange(min=1, max=MAX_SNAPLEN), default=MAX_SNAPLEN, show_default=True,
              help="Bytes to capture per packet.")
@click.option("-B", "--buffer-size", type=BUFFER_KIB, metavar="KiB", envvar="PCAP4PY_BUFFER_KIB", show_envvar=True,
              help="Kernel buffer size in KiB (default 32768; a container's interfaces 4096 each, lo 1024).")
@click.option("-Q", "--direction", type=click.Choice(["in", "out", "inout"]),
              help="Capture packets received, sent, or both.")
@click.option("-p", "--no-promiscuous-mode", "no_promisc", is_flag=True, help="Do not put the interface in promiscuous mode.")
@click.option("--immediate", is_flag=True, help="Deliver each packet as soon as it arrives.")
@click.option("--nano", is_flag=True, help="Nanosecond time stamps (and a nanosecond pcap file).")
@click.option("--duration", type=SECONDS, metavar="SECONDS", help="Stop after SECONDS.")
@click.option("--wait-ping", is_flag=True, help="Start only when an ICMP echo request arrives on --wait-iface.")
@click.option("--wait-iface", default="eth0", show_default=True, help="Interface that --wait-ping listens on.")
@click.option("--wait-timeout", type=SECONDS, metavar="SECONDS",
              help="Give up waiting for the ping after SECONDS (exit status 3).")
@click.option("--container", "containers", metavar="NAME", multiple=True,
              help="Capture a Docker container (name or id prefix); repeat for several.")
@click.option("--label", "labels", metavar="KEY[=VALUE]", multiple=True,
              help="Capture the containers with this label (repeat: all of them required).")
@click.option("--compose-service", metavar="NAME", help="Capture the containers of this Compose service.")
@click.option("--compose-project", metavar="NAME",
              help="Capture the containers of this Compose project (with --compose-service: that project's only).")
@click.option("--pod", "pods", metavar="NAME", multiple=True,
              help="Capture a pod (Podman; a CRI pod as [NAMESPACE/]NAME): its one network namespace, once; repeat for several. "
                   "With --kube: a Kubernetes pod.")
@click.option("--runtime", type=click.Choice(RUNTIMES), metavar="|".join(RUNTIMES),
              help="Look containers up in this runtime only (default: every runtime whose socket is present; "
                   "or $PCAP4PY_RUNTIME).")
@click.option("--pid", type=click.IntRange(min=1), metavar="PID",
              help="Capture the network namespace of process PID: every interface, as --container.")
@click.option("--netns", metavar="PATH|NAME",
              help="Capture a network namespace (a file such as /proc/PID/ns/net, or a name under /run/netns).")
@click.option("--all-containers", is_flag=True, help="Capture every running container.")
@click.option("--follow", is_flag=True,
              help="With a container selection: containers that start and match join the capture.")
@click.option("--via", type=click.Choice(VIAS), default=VIAS[0], show_default=True,
              help="With --container: inside its namespace, on its host-side veth, or on its bridge.")
@click.option("--capture", "capture_dirs", default="egress,ingress", show_default=True,
              help="With --container: egress, ingress or both (comma-separated).")
@click.option("-Z", "--relinquish-privileges", "user", metavar="USER", type=USER_NAME,
              help="Drop to USER once handles and files are open (default with --container as root: nobody).")
@kube_options
@host_options
def capture(**options) -> None:
    """Capture packets live: capture IFACE [EXPRESSION...] (or -i IFACE, or --container NAME)."""
    _capture(CaptureRequest(**options))


def _capture(r: CaptureRequest) -> None:
    refuse_without_kube(r)
    if r.kube:  # before r.check(): --pod and --follow mean pods of the cluster here
        return capture_pods(r, check_output(r.output(_rotation(r))), _kube_filter(r), _run)
    if wants_hosts(r):  # containers on other hosts: every word is the filter, as with --kube
        return capture_hosts(r, check_output(r.output(_rotation(r))), _kube_filter(r), _run)
    r.check()
    output = r.output(_rotation(r))
    iface, expression = r.interface(), r.expression()
    if r.read_file:
        return _read(r.read_file, expression, r.count, output)
    selection = _selection(r)
    namespace = r.namespace
    tuning.expect_job(packets=r.count)
    if r.wait_ping:
        wait_announced(r.wait_iface, r.wait_timeout, lambda line: click.echo(printable(line), err=True))
    user = r.user
    if selection is not None:
        cap = _open_containers(selection, r.follow, r.via, r.capture_dirs, expression, r.live(), r.count,
                               r.duration, r.runtime)
        if user is None and _is_root() and not r.follow:
            user = "nobody"
    elif namespace:
        from ..container.capture import open_namespace

        cap = open_namespace(r.pid if r.pid is not None else r.netns, pid=r.pid is not None, via=r.via,
                             filter=expression, capture=_directions(r.capture_dirs), count=r.count,
                             duration=r.duration, **r.live())
        if user is None and _is_root():
            user = "nobody"
    else:
        from ..engine.capture import Capture
        from ..engine.handle import open_live

        cap = Capture([open_live(iface, filter=expression, direction=r.direction, **r.live(job_ring=True))],
                      count=r.count, duration=r.duration)
    _run(cap, output, user=user, live=True)


@main.command()
@click.argument("path", metavar="FILE")
@click.argument("expression", nargs=-1)
@_output_options
def read(path, expression, count, write_path, pcapng, comments, fmt, as_json, numeric, filter_opt, **printing):
    """Read a pcap or pcapng file: read FILE [EXPRESSION...]."""
    output = check_output(Output(write_path, "json" if as_json else fmt, pcapng, comments, nano=True,
                                 flags=print_flags(**printing)))
    _read(path, _join_filter(filter_opt, expression), count, output)


@main.command()
def interfaces():
    """List the interfaces pcap4py can capture on (like tcpdump -D)."""
    from ..engine.devices import interfaces as list_interfaces

    for n, dev in enumerate(list_interfaces(), 1):
        flags = [f for f, on in (("Up", dev.up), ("Running", dev.running), ("Loopback", dev.loopback)) if on]
        addresses = f" {', '.join(dev.addresses)}" if dev.addresses else ""
        click.echo(printable(f"{n}.{dev.name} [{', '.join(flags)}]{addresses}"))


# --- helpers ---------------------------------------------------------------------------------
def _kube_filter(r: CaptureRequest) -> Optional[str]:
    """With --kube every word is the filter (no interface comes first)."""
    if r.filter_opt and r.args:
        raise click.UsageError("give the filter either with -f or as trailing words, not both")
    return r.filter_opt or (" ".join(r.args) if r.args else None)


def _rotation(r: CaptureRequest) -> Optional[Rotation]:
    """The rotation -C/-G/-W/-z ask for (None: one file)."""
    if r.file_size is None and r.rotate_seconds is None:
        return None
    from ..sinks.rotate import Rotation

    return Rotation(r.file_size, r.rotate_seconds, r.file_count, r.post_rotate)


def _read(path: str, expression: Optional[str], count: Optional[int], output: Output) -> None:
    from ..engine.capture import Capture
    from ..engine.offline import open_offline

    tuning.expect_job(file=path)
    cap = Capture([open_offline(path, filter=expression)], count=count)
    _run(cap, output, user=None, live=False)


def _join_filter(filter_opt: Optional[str], words: tuple) -> Optional[str]:
    if filter_opt and words:
        raise click.UsageError("give the filter either with -f or as trailing words, not both")
    return filter_opt or (" ".join(words) if words else None)


def _selection(r: CaptureRequest):
    """The containers asked for (None: none, capture an interface); a bad label is a SelectionError."""
    if not r.selected:
        return None  # (before the import: a plain interface capture loads no container code)
    from ..container.selection import Selection

    return Selection.of(r.containers, r.labels, r.compose_service, r.all_containers, r.pods, r.compose_project)


def _directions(capture_dirs: str) -> frozenset:
    from ..container.plans import parse_directions

    try:
        return parse_directions(capture_dirs)
    except Pcap4pyError as e:
        raise click.BadParameter(str(e), param_hint="--capture") from None


def _open_containers(selection, follow, via, capture_dirs, expression, live, count, duration,
                     runtime=None) -> Capture:
    from ..container.capture import open_container, open_containers

    kwargs = dict(via=via, filter=expression, capture=_directions(capture_dirs), count=count, duration=duration,
                  runtime=runtime, **live)
    if selection.single and not follow:
        return open_container(selection.names[0], **kwargs)  # one container: its own point of view
    cap = open_containers(selection.names, labels=[k if v is None else f"{k}={v}" for k, v in selection.labels],
                          compose_service=selection.compose_service, compose_project=selection.compose_project,
                          pods=selection.pods, all=selection.all, follow=follow,
                          report=lambda line: click.echo(f"pcap4py: {line}", err=True), **kwargs)
    if not cap.handles:
        click.echo(f"pcap4py: waiting for a container matching {selection} to start", err=True)
    return cap


def _is_root() -> bool:
    import os

    return os.geteuid() == 0


def _run(cap: Capture, output: Output, *, user: Optional[str], live: bool) -> None:
    """Pump ``cap`` into ``output`` (privileges dropped once the sink is open), then print the stats."""
    try:
        if user and output.rotation is not None:
            _require_rotation_as(user, output.path)
        sink, stats = pump(cap, output, prepare=lambda sink: _prepare(sink, user, output),
                           started=(lambda: _announce(cap)) if live else None,
                           each_round=_progress_counter() if output.path and sys.stderr.isatty() else None,
                           report=lambda: _print_stats(cap.stats(), live))
    finally:
        cap.close()
    if cap.stop_reason:  # the source ended it (a container that stopped), not the user
        click.echo(f"pcap4py: {cap.stop_reason}: capture ended", err=True)
    _print_stats(stats, live)
    sink.raise_for_errors()  # a failed write, once the file is cut back to its last whole record


def _prepare(sink, user: Optional[str], output: Output) -> None:
    """The sink is open: rotated files go to ``user``, the output's losses are said, privileges dropped."""
    if user and output.rotation is not None:
        from ..privileges import ids_of

        sink.hand_over(*ids_of(user))
    for warning in sink.warnings:
        click.echo(f"pcap4py: warning: {printable(warning)}", err=True)
    if user:
        from ..privileges import drop_privileges

        drop_privileges(user)


def _require_rotation_as(user: str, template: str) -> None:
    """Files rotated after -Z are created as USER: refuse now if USER may not (never half-way)."""
    import os
    import time

    from ..privileges import require_can_create

    require_can_create(user, os.path.dirname(os.path.abspath(time.strftime(template))) or "/")


def _announce(cap: Capture) -> None:
    from ..sinks.lines import names_by_label

    by_label = names_by_label(cap.sources, cap.growing)
    for h in cap.handles:
        link = LINKTYPE_NAMES.get(h.linktype, f"DLT {h.linktype}")
        click.echo(f"listening on {printable(h.source.display_name if by_label else h.name)}, link-type {link}",
                   err=True)


def _progress_counter():
    def show(sink, total: int) -> None:
        sys.stderr.write(f"\rGot {total}")
        sys.stderr.flush()

    return show


def _print_stats(stats, live: bool) -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    lines = [f"{stats.captured} packets captured"]
    if live and stats.received is not None:
        lines += [f"{stats.received} packets received by filter", f"{stats.dropped} packets dropped by kernel",
                  f"{stats.if_dropped} packets dropped by interface"]
    click.echo("\n".join(lines), err=True)



