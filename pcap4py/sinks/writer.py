"""The line-oriented sinks: packets written to a text stream as text, hexdump, JSON, JSON lines or
Pcap4J's rendering.

pcap files are not written here: libpcap's own dumper writes them from the
native buffers (see :meth:`pcap4py.engine.handle.Handle.dump`).
"""

from __future__ import annotations

import json
from typing import IO, Callable

from ..engine.packet import Packet
from ..errors import PacketParseError
from .hexdump import hexdump_lines
from .text import clock, text_line

FORMATS = ("text", "hexdump", "json", "jsonl", "pcap4j")


class Writer:
    """Writes packets to a text stream in one of :data:`FORMATS`."""

    def __init__(self, stream: IO[str], fmt: str = "text", with_interface: bool = False):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
        self.stream = stream
        self.fmt = fmt
        self.with_interface = with_interface
        self._buffered: list[dict] = []
        self._emit: Callable[[Packet], None] = getattr(self, f"_write_{fmt}")

    def write(self, pkt: Packet) -> None:
        self._emit(pkt)

    def _write_text(self, pkt: Packet) -> None:
        self.stream.write(text_line(pkt, self.with_interface) + "\n")

    def _write_hexdump(self, pkt: Packet) -> None:
        self.stream.write("\n".join(hexdump_lines(pkt, self.with_interface)) + "\n")

    def _write_jsonl(self, pkt: Packet) -> None:
        self.stream.write(json.dumps(pkt.to_dict()) + "\n")

    def _write_json(self, pkt: Packet) -> None:
        self._buffered.append(pkt.to_dict())  # docker-network-capture's -j: one array at the end

    def _write_pcap4j(self, pkt: Packet) -> None:
        when = "(time out of range)" if pkt.ts_out_of_range else clock(pkt.ts_ns)
        self.stream.write(f"{when}\n{_pcap4j_rendering(pkt)}\n")

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        """Write what was buffered (the JSON array) and flush."""
        if self.fmt == "json":
            json.dump(self._buffered, self.stream, indent=2)
            self.stream.write("\n")
            self._buffered.clear()
        self.stream.flush()


def _pcap4j_rendering(pkt: Packet) -> str:
    """Pcap4J's rendering, or a one-line note where there is none: one bad frame must not end the
    listing of a file."""
    from ..engine.parse import render

    try:
        parsed = pkt.pcap4j
        if parsed is None:
            return f"[empty frame: 0 of {pkt.length} bytes captured, nothing to parse]"
        return render(parsed)
    except PacketParseError as e:
        return f"[{e}]"
