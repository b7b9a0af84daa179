"""Choosing the sink for an output format.

``text``, ``hexdump``, ``json`` and ``jsonl`` are formatted in Java, a batch at a time
(:class:`~pcap4py.sinks.lines.LineSink`); ``pcap4j`` (Pcap4J's full rendering, slow by nature)
is written here from :class:`~pcap4py.engine.packet.Packet` records.  pcap files are not written
here: libpcap's own dumper writes them from the native buffers (see
:meth:`pcap4py.engine.handle.Handle.dump`).
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any, Sequence

from ..engine.packet import Packet, Source
from ..errors import PacketParseError
from .lines import LINE_FORMATS, LineSink, make_formatter

if TYPE_CHECKING:
    from ..engine.capture import Capture

FORMATS = ("text", "hexdump", "json", "jsonl", "pcap4j")


class Writer:
    """Writes packets to a text stream with Pcap4J's rendering, each after tcpdump's time stamp."""

    def __init__(self, stream: IO[str], fmt: str = "pcap4j", sources: Sequence[Source] = ()):
        if fmt != "pcap4j":
            raise ValueError(f"Writer writes the pcap4j format; {fmt!r} is a LineSink's (see open_sink)")
        self.stream = stream
        self.fmt = fmt
        self._clock: Any = None

    def write(self, pkt: Packet) -> None:
        if self._clock is None:  # the line formatter's clock: one definition of local time
            self._clock = make_formatter("text", [pkt.source])
        when = "(time out of range)" if pkt.ts_out_of_range else self._clock.clock(pkt.ts_ns)
        self.stream.write(f"{when}\n{_pcap4j_rendering(pkt)}\n")

    def consume(self, cap: "Capture") -> None:
        """Write every packet of ``cap``, flushing after each read round."""
        for packets in cap.batches():
            for pkt in packets:
                self.write(pkt)
            self.flush()

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()


class _CaptureLineSink(LineSink):
    """A :class:`LineSink` fed by a capture's read rounds."""

    def consume(self, cap: "Capture") -> None:
        for batches in cap.rounds():
            self.write_batches(batches)


def open_sink(fmt: str, stream: IO[str], cap: "Capture") -> "Writer | LineSink":
    """The sink for ``fmt`` writing to ``stream`` (a line sink writes to its descriptor), with the
    interface column when ``cap`` has several sources and directions from ``cap.local``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if fmt not in LINE_FORMATS:
        return Writer(stream, fmt)
    stream.flush()  # what was written through the stream goes first
    return _CaptureLineSink(stream.fileno(), fmt, cap.sources, with_interface=len(cap.sources) > 1,
                            local=cap.local)


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
