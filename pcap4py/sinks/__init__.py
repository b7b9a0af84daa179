"""Where packets go: one module per kind of output, chosen in one place (:func:`open_sink`).

* :mod:`.pcap` - libpcap's dumper writes each packet from the native buffers (``-w FILE``);
* :mod:`.pcapng` - the Java ``PcapngWriter`` writes whole read rounds: interface names, directions,
  comments, statistics (``-w FILE.pcapng``, ``--pcapng``);
* :mod:`.lines` - text, hexdump, JSON lines and a streamed JSON array, formatted in Java a batch at
  a time;
* :mod:`.pcap4j` - Pcap4J's full rendering of each packet;
* :mod:`.rotate` - one file after another (``-C``, ``-G``, ``-W``, ``-z``): what every format's
  rotation shares; :class:`~.pcap.PcapRotation` and :class:`~.pcapng.PcapngRotation` do the rest.

Every sink is used the same way: ``consume(capture, progress)`` reads the capture to its end,
``end(capture)`` runs once it has stopped (last flush, statistics), ``close()`` releases the
output, and ``raise_for_errors()`` reports, after the stats are printed, a write that failed
(the file having been cut back to its last whole record).  ``warnings`` lists what the output
loses.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Callable, Optional, Protocol

from ..engine.listener import Listener
from .lines import LINE_FORMATS
from .printing import PrintFlags

if TYPE_CHECKING:
    from ..engine.capture import Capture
    from .rotate import Rotation

FORMATS = (*LINE_FORMATS, "pcap4j")


@dataclass(frozen=True)
class Output:
    """Where a capture goes: ``path`` (a file, '-' for stdout; None: lines in ``fmt`` on stdout),
    ``pcapng`` (forced; else by the file's extension), per-packet ``comments`` and nanosecond
    time stamps (``nano``) in pcapng; ``rotation`` (a :class:`~.rotate.Rotation`) splits the file
    ``path`` into several."""

    path: Optional[str] = None
    fmt: str = "text"
    pcapng: bool = False
    comments: bool = False
    nano: bool = False
    rotation: Optional["Rotation"] = None
    flags: PrintFlags = PrintFlags()


class Sink(Protocol):
    """What every sink offers (see the module's docstring)."""

    warnings: list

    def consume(self, capture: "Capture", progress: Optional[Callable[[int], None]] = None) -> None: ...

    def end(self, capture: "Capture") -> None: ...

    def close(self) -> None: ...

    def raise_for_errors(self) -> None: ...


def _containers_in_text(capture: "Capture", output: Output) -> bool:
    """Text lines name a container's interfaces ``NAME/IFACE`` in tcpdump -i any's interface
    column (JSON keeps the interface's own name)."""
    return output.fmt in ("text", "hexdump") and any(s.label for s in capture.sources)


def open_sink(capture: "Capture", output: Output, stream: IO[str] = sys.stdout) -> Any:
    """The sink that writes ``capture`` as ``output`` says (lines go to ``stream``'s descriptor)."""
    if output.path:
        from .pcap import PcapRotation, PcapSink
        from .pcapng import PcapngRotation, PcapngSink, wants_pcapng

        if wants_pcapng(output.path, output.pcapng):
            if output.rotation is not None:
                return PcapngRotation(capture, output.path, output.rotation, nano=output.nano,
                                      comments=output.comments)
            return PcapngSink(output.path, capture, nano=output.nano, comments=output.comments)
        if output.rotation is not None:
            return PcapRotation(capture, output.path, output.rotation)
        return PcapSink(capture, output.path)
    if output.fmt not in FORMATS:
        raise ValueError(f"unknown format {output.fmt!r}; choose from {', '.join(FORMATS)}")
    if output.fmt == "pcap4j":
        from .pcap4j import Pcap4jWriter

        return Pcap4jWriter(stream)
    from .lines import LineSink, names_by_label

    stream.flush()  # what was written through the stream goes first
    sink = LineSink(stream.fileno(), output.fmt, capture.sources,
                    with_interface=len(capture.sources) > 1 or capture.growing, local=capture.local,
                    by_label=names_by_label(capture.sources, capture.growing) or _containers_in_text(capture, output),
                    flags=output.flags)
    capture.listen(Listener(added=sink.add_sources))
    return sink
