"""The Python formatters pcap4py used before formatting moved to Java (test-only reference).

``text_line`` (tcpdump -n), ``hexdump_lines`` (tcpdump -X rows, the OUT:/IN: payload tables) and
``to_dict`` (the JSON record) as they were in pcap4py/sinks/text.py, hexdump.py and
Packet.to_dict; tests/test_formats.py checks that Java prints exactly what these print.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Optional

from pcap4py.engine.numbers import ETHERTYPE_ARP
from pcap4py.engine.packet import Packet

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
    """What follows the time stamp on a tcpdump -n line, e.g. ``IP 198.18.0.1.5 > 198.18.0.2.80: Flags [S], ...``."""
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

_RULE = "+-------------------------------------------------+----------------+"
_RULER = "  " + " ".join(f"{i:02d}" for i in range(16))


def _ascii(chunk: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)


def payload_table(payload: bytes) -> list[str]:
    """docker-network-capture's 16-column hex and ASCII table (no lines for an empty payload)."""
    if not payload:
        return []
    rows = [_RULER, _RULE]
    for i in range(0, len(payload), 16):
        chunk = payload[i:i + 16]
        rows.append(f"| {' '.join(f'{b:02X}' for b in chunk):<47} |{_ascii(chunk):<16}|")
    rows.append(_RULE)
    return rows


def frame_dump(data: bytes) -> list[str]:
    """tcpdump -X style: offset, 16 bytes in hex, ASCII."""
    rows = []
    for i in range(0, len(data), 16):
        chunk = data[i:i + 16]
        words = " ".join(chunk[j:j + 2].hex() for j in range(0, len(chunk), 2))
        rows.append(f"\t0x{i:04x}:  {words:<39}  {_ascii(chunk)}")
    return rows


def hexdump_lines(pkt: Packet, with_interface: bool = False) -> list[str]:
    """From a container's point of view, ``OUT: peer:port`` / ``IN:  peer:port`` and the payload
    table (docker-network-capture's layout); otherwise the text line and the whole frame in hex."""
    if pkt.direction == "out":
        return [f"OUT: {_peer(pkt.dst, pkt.dport)}", *payload_table(pkt.payload)]
    if pkt.direction == "in":
        return [f"IN:  {_peer(pkt.src, pkt.sport)}", *payload_table(pkt.payload)]
    return [text_line(pkt, with_interface), *frame_dump(pkt.data)]


def _peer(addr: str | None, port: int | None) -> str:
    return f"{addr}:{port}" if port is not None else str(addr)


@lru_cache(maxsize=4)
def _iso_second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def iso_utc(ts_ns: int) -> str:
    seconds, ns = divmod(ts_ns, 1_000_000_000)
    return f"{_iso_second(seconds)}.{ns // 1000:06d}Z"


def to_dict(pkt: Packet) -> dict:
    rec = pkt._rec
    proto = rec[5]
    ports = proto in (6, 17, 136)
    icmp = proto in (1, 58)
    tcp = proto == 6
    return {
        "timestamp": iso_utc(rec[0]),
        "ts_ns": rec[0],
        "interface": pkt.source.name,
        "direction": pkt.direction,
        "length": rec[2],
        "caplen": rec[1],
        "eth_src": pkt.eth_src,
        "eth_dst": pkt.eth_dst,
        "protocol": pkt.proto,
        "src": pkt.src,
        "src_port": rec[7] if ports else None,
        "dst": pkt.dst,
        "dst_port": rec[8] if ports else None,
        "tcp_flags": pkt.tcp_flag_string if tcp else None,
        "seqnum": rec[15] if tcp else None,
        "acknum": rec[16] if tcp else None,
        "icmp_type": rec[10] if icmp else None,
        "icmp_code": rec[11] if icmp else None,
        "payload": pkt.payload.hex(),
    }


def direction_of(view, pkt: Packet) -> Optional[str]:
    """The direction rule as the first release wrote it in Python (ContainerView.direction_of):
    the reference that Java's one PointOfView is checked against."""
    if pkt.linktype == 1 and pkt.caplen >= 14:
        mac = pkt.data[6:12]
        if mac != bytes(6):
            return "out" if mac.hex(":") in view.macs else "in"
    if pkt.src in view.ips:
        return "out"
    if pkt.dst in view.ips:
        return "in"
    return None
