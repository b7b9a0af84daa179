"""``pcap4py attach|detach|mirror build|mirror teardown``: network plumbing through netlink.

A container named as a target is turned into its namespace by the container
layer (:mod:`pcap4py.container.plumbing`); the plumbing itself works on
namespaces.  SIGINT and SIGTERM are deferred from the start of each command:
one that arrives while the kernel is being changed lets the current step
finish, then rolls everything back (attach, mirror build) or finishes
(detach, teardown), and the command exits 128+signal with one line saying so.
One that arrives before the first change stops the command with nothing
changed; one that arrives once the change is complete is ignored (the command
reports its result and exits 0).
"""

from __future__ import annotations

import functools
from typing import Callable

import click

from ..text import printable
from .group import main


def _deferring_signals(command: Callable) -> Callable:
    """Run ``command`` with SIGINT/SIGTERM deferred (recorded, acted on at the next step boundary)."""
    @functools.wraps(command)
    def run(*args, **kwargs):
        from ..plumbing.transaction import deferred_stop_signals

        with deferred_stop_signals():
            return command(*args, **kwargs)
    return run


@main.command()
@click.argument("host_iface")
@click.argument("container")
@click.argument("address", metavar="IP/PREFIX[@GATEWAY]|0/0")
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
@_deferring_signals
def attach(host_iface: str, container: str, address: str, name: str, mac: str | None, vlan: int | None,
           host_shim: bool, family: str | None, promisc: bool) -> None:
    """Attach CONTAINER to HOST_IFACE's LAN, pipework style.

    A bridge-mode macvlan on HOST_IFACE (on HOST_IFACE.VLAN with --vlan); when
    HOST_IFACE is a bridge (or missing and named br*: then created), a veth pair
    with one end on the bridge.  CONTAINER is a container name or id, a PID, a
    name under /run/netns or a namespace path.  With @GATEWAY the container's
    default route goes through it; 0/0 brings the interface up without an
    address.  Any failure rolls back every step; running it twice changes nothing.
    """
    from ..container.plumbing import attach as do_attach

    click.echo(printable(do_attach(host_iface, container, address, name=name, mac=mac, promisc=promisc,
                                   vlan=vlan, host_shim=host_shim, family=int(family) if family else None)))


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
