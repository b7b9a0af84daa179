"""What runs inside a pod (the bundled image as an ephemeral container): every interface of the
pod's network namespace, captured from the pod's point of view, written as pcapng on stdout.

    python3 -m pcap4py.remote.agent [--filter EXPR] [--snaplen N] [--buffer-size KiB] [--attach-timeout S]

Stdout is the stream the host reads (the container's log), so nothing else may reach it:
standard error goes to /dev/null, and an error before the capture starts is the one line
``pcap4py: ...`` on stdout instead of pcapng (the host shows it).  Each interface block's
description carries the interface's MAC and addresses (``pcap4py-agent mac=... ips=...``), from
which the host knows the pod's point of view.

The host attaches to the container (``stdinOnce``): nothing is written before its first byte on
standard input arrives (output before the attach would be lost to it), and nobody attaching
within ``--attach-timeout`` seconds ends the agent, so a host that died early leaves no capture
running.  Standard input is then the lifeline: its end (the host closing it, or going away), or
SIGTERM, SIGINT, ends the capture, which writes its statistics and exits.  The counters go to
the termination message.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys
import threading
import time
from dataclasses import replace
from typing import Any, Optional

DESCRIPTION_PREFIX = "pcap4py-agent"
TERMINATION_LOG = "/dev/termination-log"
FLUSH_WAIT = 0.3  # seconds: the kernel hands over a partly filled ring block after timeout_ms (100)


def describe(mac: Optional[str], ips: list[str]) -> str:
    """The interface block description the host parses (:func:`parse_description`)."""
    return f"{DESCRIPTION_PREFIX} mac={mac or '-'} ips={','.join(ips) or '-'}"


def parse_description(text: Optional[str]) -> tuple[Optional[str], list[str]]:
    """The MAC and IPs of an agent's interface description (None, [] for any other text)."""
    words = (text or "").split()
    if not words or words[0] != DESCRIPTION_PREFIX:
        return None, []
    fields = dict(w.partition("=")[::2] for w in words[1:])
    mac = fields.get("mac", "-")
    ips = [ip for ip in fields.get("ips", "-").split(",") if ip and ip != "-"]
    return (None if mac == "-" else mac.lower()), ips


def _namespace_interfaces() -> list[dict]:
    """This namespace's interfaces that are up: name, MAC (None on loopback), addresses."""
    from ..container.inventory import norm_ip
    from ..plumbing.rtnl import IFF_LOOPBACK, IFF_UP, rtnl

    with rtnl() as ipr:
        links = ipr.get_links()
        addrs = [(a["index"], a.get_attr("IFA_ADDRESS")) for a in ipr.get_addr()]
    result = []
    for link in sorted(links, key=lambda l: l["index"]):
        if not link["flags"] & IFF_UP:
            continue
        loopback = bool(link["flags"] & IFF_LOOPBACK)
        mac = link.get_attr("IFLA_ADDRESS")
        result.append({"name": link.get_attr("IFLA_IFNAME"), "mac": None if loopback or not mac else mac.lower(),
                       "ips": [norm_ip(a) for i, a in addrs if i == link["index"] and a]})
    return result


def open_capture(filter: Optional[str], snaplen: int, buffer_kib: Optional[int] = None) -> Any:
    """A capture of every interface that is up, from this namespace's point of view."""
    from ..engine.capture import Capture
    from ..engine.handle import open_live
    from ..engine.pov import PointOfView

    ifaces = _namespace_interfaces()
    view = PointOfView(frozenset(i["mac"] for i in ifaces if i["mac"]),
                       frozenset(ip for i in ifaces for ip in i["ips"]))
    handles = []
    try:
        for n, iface in enumerate(ifaces):
            # not immediate: libpcap then uses a TPACKET_V2 ring of snaplen-sized slots (~128 of
            # them in 32 MiB at 256 KiB), which a burst of small frames overflows while the
            # stream's writes wait (half of 24,000 frames/s were dropped); the block ring holds
            # each frame in its own size, and a block is handed over after at most timeout_ms
            sized = {"buffer_size": buffer_kib * 1024} if buffer_kib else {}  # else the engine's 32 MiB
            h = open_live(iface["name"], filter=filter, snaplen=snaplen, immediate=False, index=n, **sized)
            h.source = replace(h.source, description=describe(iface["mac"], iface["ips"]))
            handles.append(h)
    except BaseException:
        for h in handles:
            h.close()
        raise
    return Capture(handles, local=view)


def _attached(attach_timeout: float) -> bool:
    """Wait for the host's first byte on standard input (it has attached and reads our output)."""
    fd = sys.stdin.fileno()
    ready, _, _ = select.select([fd], [], [], attach_timeout)
    try:
        return bool(ready) and bool(os.read(fd, 1))
    except OSError:
        return False


def _watch_lifeline(capture: Any) -> None:
    """Stop ``capture`` at the end of standard input."""
    try:
        while os.read(sys.stdin.fileno(), 4096):
            pass
    except OSError:
        pass
    _stop_when_flushed(capture)


def _stop_when_flushed(capture: Any) -> None:
    """Stop ``capture`` once what the kernel holds in a block not yet handed over has been read."""
    time.sleep(FLUSH_WAIT)
    capture.stop()


def _write_termination(text: str) -> None:
    try:  # never created: outside a pod (the kubelet mounts it) there is nothing to write to
        fd = os.open(TERMINATION_LOG, os.O_WRONLY | os.O_TRUNC)
        with os.fdopen(fd, "w") as f:
            f.write(text)
    except OSError:
        pass  # not in a pod, or not writable: the stream's statistics say the same


def run(filter: Optional[str], snaplen: int, attach_timeout: float, buffer_kib: Optional[int] = None) -> int:
    """Capture until the lifeline ends; the exit status."""
    from ..sinks.pcapng import PcapngSink

    if not _attached(attach_timeout):
        _write_termination(f"nobody attached within {attach_timeout:.0f} s")
        return 3
    try:
        capture = open_capture(filter, snaplen, buffer_kib)
    except Exception as e:  # noqa: BLE001 - one line, in the stream, is all the host can read
        line = f"pcap4py: {(str(e).splitlines() or [type(e).__name__])[0]}"
        os.write(1, (line + "\n").encode())
        _write_termination(line)
        return 2
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda signum, frame: threading.Thread(target=_stop_when_flushed, args=(capture,),
                                                                daemon=True).start())
    threading.Thread(target=_watch_lifeline, args=(capture,), daemon=True).start()
    sink = PcapngSink("-", capture, nano=True)
    try:
        sink.flush()  # the section and interface blocks at once: the host learns the interfaces before any packet
        sink.consume(capture)
        stats = capture.stats()
        sink.end(capture)
    finally:
        sink.close()
        capture.close()
    _write_termination(f"captured {stats.captured} received {stats.received} dropped {stats.dropped}")
    return 0


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(prog="pcap4py-agent", description=__doc__.splitlines()[0])
    parser.add_argument("--filter", default=None)
    parser.add_argument("--snaplen", type=int, default=262144)
    parser.add_argument("--attach-timeout", type=float, default=60.0)
    parser.add_argument("--buffer-size", type=int, default=None, help="KiB of kernel buffer per interface")
    args = parser.parse_args(argv)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # the log is the stream: nothing but pcapng may reach it
    sys.exit(run(args.filter or None, args.snaplen, args.attach_timeout, args.buffer_size))


if __name__ == "__main__":
    main()
