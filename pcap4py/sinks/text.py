"""tcpdump's one-line summary of a packet (``tcpdump -n``), with the interface and In/Out columns."""

from __future__ import annotations

import time
from functools import lru_cache

from ..engine.packet import ETHERTYPE_ARP, Packet

ICMP_TYPES = {0: "echo reply", 3: "unreachable", 5: "redirect", 8: "echo request", 11: "time exceeded"}
ICMP6_TYPES = {1: "destination unreachable", 2: "packet too big", 3: "time exceeded", 128: "echo request",
               129: "echo reply", 133: "router solicitation", 134: "router advertisement",
               135: "neighbor solicitation", 136: "neighbor advertisement"}


@lru_cache(maxsize=4)
def _local_second(seconds: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(seconds))


def clock(ts_ns: int) -> str:
    """tcpdump's default time stamp: local wall-clock time with microseconds (the part up to
    the second is formatted once per second, not once per packet)."""
    seconds, ns = divmod(ts_ns, 1_000_000_000)
    return f"{_local_second(seconds)}.{ns // 1000:06d}"


def _endpoint(addr: str | None, port: int | None) -> str:
    return f"{addr}.{port}" if port is not None else str(addr)


def summary(pkt: Packet) -> str:
    """What follows the time stamp on a tcpdump -n line, e.g. ``IP 10.0.0.1.5 > 10.0.0.2.80: Flags [S], ...``."""
    if pkt.ethertype == ETHERTYPE_ARP:
        return _arp_summary(pkt)
    if pkt.ip_version is None:
        name = pkt.proto or f"link-type {pkt.linktype}"
        return f"{name}, length {pkt.length}"
    family = "IP" if pkt.ip_version == 4 else "IP6"
    head = f"{family} {_endpoint(pkt.src, pkt.sport)} > {_endpoint(pkt.dst, pkt.dport)}:"
    proto = pkt.proto
    if proto == "TCP":
        return (f"{head} Flags [{pkt.tcp_flag_string}], seq {pkt.seq}, ack {pkt.ack}, "
                f"length {pkt.payload_length}")
    if proto in ("UDP", "UDPLite"):
        return f"{head} {proto}, length {pkt.payload_length}"
    if proto == "ICMP":
        return f"{head} ICMP {_icmp_text(pkt, ICMP_TYPES)}, length {pkt.payload_length}"
    if proto == "ICMPv6":
        return f"{head} ICMP6, {_icmp_text(pkt, ICMP6_TYPES)}, length {pkt.payload_length}"
    return f"{head} {proto}, length {pkt.payload_length}"


def _icmp_text(pkt: Packet, names: dict) -> str:
    text = names.get(pkt.icmp_type, f"type {pkt.icmp_type}")
    echo = pkt.icmp_echo
    return f"{text}, id {echo[0]}, seq {echo[1]}" if echo else text


def _arp_summary(pkt: Packet) -> str:
    if pkt.arp_op == 1:
        return f"ARP, Request who-has {pkt.dst} tell {pkt.src}, length {pkt.length - 14}"
    if pkt.arp_op == 2:
        return f"ARP, Reply {pkt.src} is-at {pkt.eth_src}, length {pkt.length - 14}"
    return f"ARP, op {pkt.arp_op}, length {pkt.length}"


_ARROWS = {"in": "In  ", "out": "Out "}  # tcpdump's In/Out column


def text_line(pkt: Packet, with_interface: bool = False) -> str:
    """One tcpdump-style line (with the interface name first when several are captured)."""
    where = f"{pkt.interface} " if with_interface else ""
    arrow = _ARROWS.get(pkt.direction, "")
    return f"{clock(pkt.ts_ns)} {where}{arrow}{summary(pkt)}"
