"""``pcap4py containers``: the running containers, with what a capture of each needs.

One line per container interface: name, runtime, id, PID, interface inside the
container, its host-side veth peer, its addresses, the network and the bridge
the veth peer is on.  ``--json`` prints the full records instead.  Names are printed with their control characters
escaped (an interface name is whatever the container's root chose).
"""

from __future__ import annotations

import json

import click

from ..text import printable
from .group import main


def _rows(c) -> list[list[str]]:
    """Table rows for one container: one per interface (loopback last), networks matched by interface."""
    if c.host_network:
        return [[c.name, c.runtime, c.short_id, str(c.pid), "(host network)", "-", "-", "host", "-"]]
    nets = {n.interface: n for n in c.networks}
    rows = []
    for iface in sorted(c.interfaces, key=lambda i: (i.loopback, i.index)):
        if not iface.up and not iface.addresses:
            continue  # tunnel stubs some kernels put in every namespace
        net = nets.get(iface.name)
        rows.append([
            c.name, c.runtime, c.short_id, str(c.pid), iface.name, iface.host_peer or "-",
            ",".join(str(a) for a in iface.addresses) or "-",
            net.name if net else "-", iface.host_bridge or "-",
        ])
    return rows or [[c.name, c.runtime, c.short_id, str(c.pid), "-", "-", "-", "-", "-"]]


@main.command("containers")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of full records.")
@click.option("--runtime", type=click.Choice(("docker", "podman", "cri", "containerd")),
              help="Only this runtime's containers (default: every runtime whose socket is present).")
def containers_command(as_json: bool, runtime: str) -> None:
    """List running containers of every runtime: PID, interfaces, host veth peers, IPs, networks, bridges."""
    from ..container import containers

    found = containers(runtime, warn=lambda line: click.echo(f"pcap4py: {printable(line)}", err=True))
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in found], indent=2))
        return
    header = ["NAME", "RUNTIME", "ID", "PID", "INTERFACE", "VETH PEER", "ADDRESSES", "NETWORK", "BRIDGE"]
    rows = [[printable(v) for v in r] for c in found for r in _rows(c)]  # names from the kernel
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
