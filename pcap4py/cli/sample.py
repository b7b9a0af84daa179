"""``pcap4py sample IFACE WAIT [FILTER...]``: the program of the old ``kaitoy/pcap4j`` image, on pcap4py.

It does what Pcap4J's ``org.pcap4j.sample.Docker`` did: list the interfaces,
show the chosen one and its addresses, optionally wait for a ping on ``eth0``,
then capture COUNT packets on IFACE and print each one's timestamp and Pcap4J
rendering, followed by libpcap's ``ps_recv``, ``ps_drop`` and ``ps_ifdrop``.

Unlike the original, the filter is every word after WAIT (so ``icmp and host
10.0.0.1`` works unquoted), a bad filter is reported before the wait rather than
after it, an unknown WAIT word is an error rather than a silent "false", and
SIGTERM (``docker stop``) ends the capture with the stats printed.
"""

from __future__ import annotations

import sys
from typing import Optional

import click

from ..engine.limits import MAX_SNAPLEN
from ..text import printable
from .group import main
from .options import SECONDS
from ..signals import stopping
from .wait import wait_announced

TRIGGER_IFACE = "eth0"  # the original always waited on eth0, whatever IFACE was


@main.command(context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True})
@click.argument("iface", default="eth0", required=False)
@click.argument("wait", type=click.BOOL, default=False, required=False)
@click.argument("filter_words", metavar="[FILTER]...", nargs=-1)
@click.option("-c", "--count", type=click.IntRange(min=1), default=10, show_default=True,
              envvar="PCAP4PY_COUNT", show_envvar=True, help="Packets to capture before printing the stats.")
@click.option("--snaplen", type=click.IntRange(min=1, max=MAX_SNAPLEN), default=65536, show_default=True,
              envvar="PCAP4PY_SNAPLEN", show_envvar=True, help="Bytes to capture per packet.")
@click.option("--read-timeout", type=click.IntRange(min=1), default=10, show_default=True, metavar="MS",
              envvar="PCAP4PY_READ_TIMEOUT", show_envvar=True, help="libpcap read timeout in milliseconds.")
@click.option("--buffer-size", type=click.IntRange(min=1, max=2**31 - 1), default=1024 * 1024, show_default=True,
              metavar="BYTES", envvar="PCAP4PY_BUFFER_SIZE", show_envvar=True, help="Kernel buffer size.")
@click.option("--wait-timeout", type=SECONDS, metavar="SECONDS",
              envvar="PCAP4PY_WAIT_TIMEOUT", show_envvar=True,
              help="Give up waiting for the ping after SECONDS (exit status 3). Default: wait for ever.")
def sample(iface: str, wait: bool, filter_words: tuple, count: int, snaplen: int, read_timeout: int,
           buffer_size: int, wait_timeout: Optional[float]) -> None:
    """Pcap4J's Docker sample: [IFACE [WAIT [FILTER...]]], defaults eth0 false.

    With WAIT true, wait for an ICMP echo request on eth0 first (ping the
    container), then capture on IFACE.
    """
    from .. import interfaces, open_live
    from ..engine import tuning
    from ..engine.capture import Capture
    from ..engine.parse import warm_up
    from ..sinks.pcap4j import Pcap4jWriter

    tuning.expect_job(packets=count)

    expression = " ".join(filter_words) or None
    say(f"count: {count}, snaplen: {snaplen}, read timeout: {read_timeout} ms, "
        f"buffer size: {buffer_size} bytes, filter: {expression or '(none)'}")
    found = interfaces()  # the JVM starts here
    warm_up()
    say(f"{len(found)} NIF(s) found: {', '.join(dev.name for dev in found)}")
    if wait:
        if expression:
            _check_filter(expression)  # fail now, not after somebody has pinged
        _describe(TRIGGER_IFACE, found)
        wait_announced(TRIGGER_IFACE, wait_timeout, say)
        found = interfaces()  # IFACE is often attached while we wait
    _describe(iface, found)

    handle = open_live(iface, filter=expression, snaplen=snaplen, promisc=True, timeout_ms=read_timeout,
                       buffer_size=buffer_size)
    writer = Pcap4jWriter(sys.stdout)
    with Capture([handle], count=count) as cap, stopping(cap):
        for pkt in cap:
            writer.write(pkt)
            writer.flush()
        stats = handle.stats()
    say(f"ps_recv: {stats.received}")
    say(f"ps_drop: {stats.dropped}")
    say(f"ps_ifdrop: {stats.if_dropped}")


def say(line: str) -> None:
    """One line of the sample's log on stdout, flushed at once (docker logs shows it live)."""
    click.echo(printable(line))


def _describe(name: str, found: list) -> None:
    """The original's "eth0 (description)" line and one "IP address:" line per address."""
    dev = next((d for d in found if d.name == name), None)
    if dev is None:
        return  # open_live says clearly that it does not exist
    say(f"{dev.name} ({dev.description or 'no description'})")
    for address in dev.addresses:
        say(f"IP address: {address}")
    say("")


def _check_filter(expression: str) -> None:
    from ..engine.bpf import compile_filter

    compile_filter(expression)

