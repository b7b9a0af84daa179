"""``pcap4py attach|detach|reattach|wait-link|mirror build|mirror teardown``: network plumbing through netlink.

A container named as a target is turned into its namespace by the container
layer (:mod:`pcap4py.container.plumbing`); the plumbing itself works on
namespaces.  The stop signals (SIGINT, SIGTERM, SIGHUP) are deferred from the start of each command:
one that arrives while the kernel is being changed lets the current step
finish, then rolls everything back (attach, mirror build) or finishes
(detach, teardown), and the command exits 128+signal with one line saying so.
One that arrives before the first change stops the command with nothing
changed; one that arrives once the change is complete is ignored (the command
reports its result and exits 0).
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import click

from ..errors import OutOfRange
from ..signals import deferred_stop_signals, take_pending
from ..text import printable
from .group import main


def _deferring_signals(command: Callable) -> Callable:
    """Run ``command`` with the stop signals deferred (recorded, acted on at the next step boundary)."""
    @functools.wraps(command)
    def run(*args, **kwargs):
        with deferred_stop_signals():
            return command(*args, **kwargs)
    return run


def _dhcp_timeout(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """--dhcp-timeout: the plumbing's own rule (0.5 to 600 s), as a usage error."""
    from ..plumbing.dhcp import check_timeout

    try:
        return check_timeout(value)
    except OutOfRange as e:
        raise click.BadParameter(str(e), ctx, param) from None


def _finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and math.isnan(value):  # nan passes any range: every comparison is false
        raise click.BadParameter(f"{value} is not a number of seconds", ctx, param)
    return value


class _AttachCommand(click.Command):
    """attach, which also takes the old spellings of its neighbours: ``attach --restore [CONTAINER]``
    runs ``reattach [CONTAINER]`` and ``attach --wait [-i IF] [--timeout S]`` runs ``wait-link``
    (the image's entry point and scripts written for pipework use them)."""

    OLD_SPELLINGS = {"--restore": "reattach", "--wait": "wait-link"}

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        flags = [a for a in args[:args.index("--") if "--" in args else len(args)] if a in self.OLD_SPELLINGS]
        if flags and parent is not None and len(set(flags)) == 1:
            args = list(args)
            args.remove(flags[0])
            command = main.get_command(parent, self.OLD_SPELLINGS[flags[0]])
            return command.make_context(f"{info_name} {flags[0]}", args, parent=parent, **extra)
        return super().make_context(info_name, args, parent=parent, **extra)


@main.command(cls=_AttachCommand)
@click.argument("host_iface")
@click.argument("container")
@click.argument("address", metavar="IP/PREFIX[@GATEWAY]|0/0|dhcp[:HOSTNAME]")
@click.option("-i", "--interface", "name", default="eth1", show_default=True,
              help="Name of the new interface inside the container.")
@click.option("--mac", default=None,
              help="MAC address of the new interface (default: random; U: or U:SUFFIX: derived from CONTAINER).")
@click.option("--vlan", type=click.IntRange(1, 4094), default=None,
              help="Put the macvlan on HOST_IFACE.VLAN (802.1Q), made if missing, removed by the last detach.")
@click.option("--host-shim", is_flag=True,
              help="Add a host-side macvlan and a route, so that this host reaches the container.")
@click.option("-a", "--family", type=click.Choice(["4", "6"]), default=None,
              help="Refuse an address that is not of this IP version.")
@click.option("--promisc", is_flag=True, help="Turn promiscuous mode on on HOST_IFACE (needed on some VMs).")
@click.option("--dhcp-timeout", type=float, default=15.0, show_default=True, metavar="S", callback=_dhcp_timeout,
              help="With dhcp: give up (and roll back) when no lease came within S seconds (0.5 to 600).")
@click.option("--keep", is_flag=True,
              help="With dhcp: stay in the foreground renewing the lease until SIGINT/SIGTERM.")
@click.option("--release-on-exit", is_flag=True,
              help="With --keep: on SIGINT/SIGTERM release the lease and detach (default: leave both).")
@click.option("--persist", is_flag=True,
              help="Also record the attach (CONTAINER must be a container) for `pcap4py reattach` after a restart.")
@_deferring_signals
def attach(host_iface: str, container: str, address: str, name: str, mac: str | None, vlan: int | None,
           host_shim: bool, family: str | None, promisc: bool, dhcp_timeout: float, keep: bool,
           release_on_exit: bool, persist: bool) -> None:
    """Attach CONTAINER to HOST_IFACE's LAN, pipework style.

    A bridge-mode macvlan on HOST_IFACE (on HOST_IFACE.VLAN with --vlan); when
    HOST_IFACE is a bridge (or missing and named br*: then created), a veth pair
    with one end on the bridge.  CONTAINER is a container name or id, a PID, a
    name under /run/netns or a namespace path.  With @GATEWAY the container's
    default route goes through it; 0/0 brings the interface up without an
    address; dhcp[:HOSTNAME] asks the LAN's DHCP server for the address and
    gateway (the lease is released by detach).  Any failure rolls back every
    step; running it twice changes nothing.

    --persist records the attach under /run/pcap4py/attach/ (by container id);
    `pcap4py reattach [CONTAINER]` re-applies it once the container has
    restarted (a second one changes nothing); detach forgets it.

    --keep (dhcp only) stays in the foreground and renews the lease; on
    SIGINT/SIGTERM it exits 0 leaving the interface and its address (the lease
    runs out by itself, detach releases it), unless --release-on-exit.

    `attach --restore` and `attach --wait` are the old spellings of `reattach`
    and `wait-link`.
    """
    from ..container.plumbing import attach as do_attach

    if (keep or release_on_exit) and not address.strip().startswith("dhcp"):
        raise click.UsageError("--keep and --release-on-exit are for a dhcp address")
    if release_on_exit and not keep:
        raise click.UsageError("--release-on-exit needs --keep")
    result = do_attach(host_iface, container, address, name=name, mac=mac, promisc=promisc, vlan=vlan,
                       host_shim=host_shim, family=int(family) if family else None, dhcp_timeout=dhcp_timeout,
                       persist=persist)
    click.echo(printable(result), nl=True)
    if keep:
        _keep_until_stopped(container, result, release_on_exit)


@main.command("wait-link")
@click.option("-i", "--interface", "name", default="eth1", show_default=True, help="The interface to wait for.")
@click.option("--timeout", type=click.FloatRange(0, None), default=None, metavar="S", callback=_finite,
              help="Give up after S seconds (exit status 3); default: wait for ever.")
def wait_link(name: str, timeout: float | None) -> None:
    """pipework's --wait, inside a container: return once interface IF is there and up.

    The bundled image's entry point takes it as `--wait [-i IF] [--timeout S]`.
    """
    from ..plumbing.waitlink import wait_for_link

    took = wait_for_link(name, timeout)
    click.echo(f"{name} is up (after {took:.1f} s)")


@main.command()
@click.argument("container", required=False)
@_deferring_signals
def reattach(container: str | None) -> None:
    """Re-apply the persisted attachments (attach --persist) of CONTAINER, or of every container.

    Run it once a container has restarted (from a systemd unit after docker, a
    `docker events` loop); what is still attached is left as it is.  A stopped
    container is skipped, the records of a removed one are forgotten, a record
    that is not an attach record is reported (exit status 1) and the others
    restored.
    """
    from ..container.plumbing import restore

    failed = 0
    for done in restore(container):
        for line in str(done).splitlines():
            click.echo(printable(line), err=line.startswith("pcap4py:"))
        failed += done.failed
    if failed:
        raise SystemExit(1)


def _keep_until_stopped(container: str, result, release_on_exit: bool) -> None:
    """Renew the lease on a thread until a stop signal (recorded by the deferral this command runs under)."""
    import threading

    from ..container.plumbing import detach as do_detach
    from ..container.plumbing import keep_lease
    stop, box = threading.Event(), {}

    def renew() -> None:
        try:
            keep_lease(container, result, stop)
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            box["error"] = e

    worker = threading.Thread(target=renew, name="pcap4py-dhcp-keep", daemon=True)
    worker.start()
    while worker.is_alive() and take_pending() is None:
        worker.join(0.2)
    stop.set()
    worker.join(10)
    if "error" in box:
        raise box["error"]
    if release_on_exit:
        click.echo(printable(do_detach(container, result.name)))


@main.command()
@click.argument("container")
@click.option("-i", "--interface", "name", default="eth1", show_default=True,
              help="Name of the interface that attach made.")
@_deferring_signals
def detach(container: str, name: str) -> None:
    """Remove the interface that `pcap4py attach` made in CONTAINER, and restore its routes."""
    from ..container.plumbing import detach as do_detach

    click.echo(printable(do_detach(container, name)))


@main.group()
def mirror() -> None:
    """Mirror an interface's traffic (both directions) into a bridge with tc."""


@mirror.command("build")
@click.argument("src_iface")
@click.argument("bridge")
@click.option("--docker-network", default=None, metavar="NAME",
              help="Also create an internal Docker network NAME on BRIDGE for sniffing containers.")
@_deferring_signals
def mirror_build(src_iface: str, bridge: str, docker_network: str | None) -> None:
    """Mirror SRC_IFACE's ingress and egress into BRIDGE (made if missing, MAC learning off)."""
    from ..container.plumbing import mirror_build as build

    result = build(src_iface, bridge, docker_network=docker_network)
    for warning in result.warnings:
        click.echo(f"pcap4py: warning: {printable(warning)}", err=True)
    click.echo(printable(result))


@mirror.command("teardown")
@click.argument("src_iface")
@click.argument("bridge")
@_deferring_signals
def mirror_teardown(src_iface: str, bridge: str) -> None:
    """Remove the mirror of SRC_IFACE into BRIDGE, and what `mirror build` created for it."""
    from ..container.plumbing import mirror_teardown as teardown

    click.echo(printable(teardown(src_iface, bridge)))
