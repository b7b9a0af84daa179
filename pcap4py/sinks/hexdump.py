"""Hex dumps: tcpdump -X's offset/hex/ASCII rows, and docker-network-capture's OUT:/IN: payload tables."""

from __future__ import annotations

from ..engine.packet import Packet
from .text import text_line

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
    table (document 004's layout); otherwise the text line and the whole frame in hex."""
    if pkt.direction == "out":
        return [f"OUT: {_peer(pkt.dst, pkt.dport)}", *payload_table(pkt.payload)]
    if pkt.direction == "in":
        return [f"IN:  {_peer(pkt.src, pkt.sport)}", *payload_table(pkt.payload)]
    return [text_line(pkt, with_interface), *frame_dump(pkt.data)]


def _peer(addr: str | None, port: int | None) -> str:
    return f"{addr}:{port}" if port is not None else str(addr)
