"""The ``pcap4j`` format: Pcap4J's full rendering of each packet after tcpdump's time stamp (what
the old kaitoy/pcap4j image printed), written from :class:`~pcap4py.engine.packet.Packet` records:
slow by nature, so never on the line formats' path.  Pcap4J renders text it finds in frames (a
DNS name, say) as it is: control characters but the line breaks are escaped."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any, Callable, Optional

from ..engine.packet import Packet
from ..errors import PacketParseError
from ..text import printable
from .lines import make_formatter

if TYPE_CHECKING:
    from ..engine.capture import Capture


class Pcap4jWriter:
    """Writes packets to a text stream with Pcap4J's rendering, each after tcpdump's time stamp."""

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self.warnings: list[str] = []
        self._clock: Any = None

    def write(self, pkt: Packet) -> None:
        if self._clock is None:  # the line formatter's clock: one definition of local time
            self._clock = make_formatter("text", [pkt.source])
        when = "(time out of range)" if pkt.ts_out_of_range else self._clock.clock(pkt.ts_ns)
        rendering = printable(_pcap4j_rendering(pkt), keep="\n")
        self.stream.write(f"{when}\n{rendering}\n")

    def consume(self, cap: "Capture", progress: Optional[Callable[[int], None]] = None) -> None:
        """Write every packet of ``cap``, flushing after each read round."""
        for packets in cap.batches():
            for pkt in packets:
                self.write(pkt)
            self.flush()

    def end(self, cap: "Capture") -> None:
        self.flush()

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()

    def raise_for_errors(self) -> None:
        """Nothing is deferred: a failed write raised at once."""


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
