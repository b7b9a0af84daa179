"""The line sink: text, hexdump, JSON lines and a streamed JSON array, formatted in Java.

Java's ``LineFormatter`` turns a whole batch into output bytes in a buffer Python owns (a direct
``ByteBuffer`` over anonymous memory, like the batch buffers); Python writes them to the output
descriptor with one ``os.write`` per filled buffer.  No Python object is made per packet.

``--format json`` streams: ``[`` when the sink opens, records as they come, ``]`` on close, so
the output is valid JSON after a count, a Ctrl-C or a SIGTERM alike, and memory stays flat.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from ..engine import jvm
from ..engine.batch import Batch, untouched
from ..engine.packet import Source
from ..errors import CaptureError
from .printing import PrintFlags
from ..engine.limits import LINE_OUTPUT_BYTES
from ..text import printable

if TYPE_CHECKING:
    from ..engine.capture import Capture

LINE_FORMATS = ("text", "hexdump", "json", "jsonl")
OUT_BYTES = LINE_OUTPUT_BYTES  # on each side
ZONEINFO = "/usr/share/zoneinfo"


def local_zone() -> str:
    """The local time zone as Java names it, chosen as Python's ``time.localtime`` chooses it.

    ``TZ`` first (a tz database name, ``:name``, or a path under the zoneinfo folder), else
    ``/etc/localtime``.  A POSIX rule (``UTC-3``, ``EST5``) has no tz database name: it becomes the
    fixed offset Python applies, which is exact as long as the rule has no daylight saving.
    """
    tz = os.environ.get("TZ")
    if tz is None:
        target = os.path.realpath("/etc/localtime")
        tz = os.path.relpath(target, ZONEINFO) if target.startswith(ZONEINFO + "/") else "UTC"
    tz = tz.lstrip(":")
    if tz.startswith(ZONEINFO + "/"):
        tz = tz[len(ZONEINFO) + 1:]
    if tz and not tz.startswith("/") and ".." not in tz and os.path.isfile(os.path.join(ZONEINFO, tz)):
        return tz
    if not tz:
        return "UTC"  # glibc: an empty TZ is UTC
    offset = time.localtime().tm_gmtoff  # a rule Java cannot name: the offset Python uses now
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def make_formatter(fmt: str, sources: Sequence[Source], *, with_interface: bool = False,
                   local: Any = None, out_bytes: int = OUT_BYTES, by_label: bool = False,
                   flags: Optional[PrintFlags] = None) -> Any:
    """A Java ``LineFormatter`` for ``sources`` (by index); ``local`` (a
    :class:`~pcap4py.engine.pov.PointOfView`) decides each packet's direction, else each
    source's own ``view``.  ``by_label``: sources are named by their labels (``web/eth0``)."""
    jpype = jvm.start()
    names = jpype.JArray(jpype.JString)([_shown(_name(s, by_label), fmt) for s in sources])
    linktypes = jpype.JArray(jpype.JInt)([s.linktype for s in sources])
    formatter = jvm.jclass("pcap4py.helper.LineFormatter")(
        fmt, names, linktypes, with_interface, local_zone(), out_bytes)
    if flags is not None and flags != PrintFlags():
        formatter.setPrintFlags(flags.java())
    if local is not None:
        formatter.setPointOfView(local.java())
    for s in sources:
        if s.view is not None and local is None:
            formatter.setPointOfView(s.index, s.view.java())
    return formatter


def _shown(name: str, fmt: str) -> str:
    """A source's name as ``fmt`` takes it: JSON gets the real name (Java escapes it the JSON
    way), text and hexdump lines its printable form (names come from the kernel or a file)."""
    return name if fmt.startswith("json") else printable(name)


def names_by_label(sources: Sequence[Source], growing: bool = False) -> bool:
    """Whether lines name sources by their labels: when plain names are ambiguous (two
    containers' ``eth0``) or sources may join later (their names are not known yet)."""
    return growing or len({s.name for s in sources}) < len(sources)


def _name(source: Source, by_label: bool) -> str:
    return source.display_name if by_label else source.name


class LineSink:
    """Writes batches to descriptor ``fd`` in one of :data:`LINE_FORMATS`, formatted in Java."""

    def __init__(self, fd: int, fmt: str, sources: Sequence[Source], *, with_interface: bool = False,
                 local: Any = None, by_label: bool = False, flags: Optional[PrintFlags] = None):
        import jpype.nio

        self.fd = fd
        self.fmt = fmt
        self._local = local
        self._by_label = by_label
        self._formatter = make_formatter(fmt, sources, with_interface=with_interface, local=local,
                                         by_label=by_label, flags=flags)
        self._known = len(sources)
        self._out = untouched(OUT_BYTES)  # only the pages a batch's lines fill become resident
        self._jout = jpype.nio.convertToDirectBuffer(self._out)
        self._closed = False
        self.warnings: list[str] = []
        if fmt == "json":
            self._write_all(b"[\n")

    def consume(self, cap: "Capture", progress: Optional[Callable[[int], None]] = None) -> None:
        """Write every read round of ``cap`` as it comes."""
        for batches in cap.rounds():
            self.write_batches(batches)

    def end(self, cap: "Capture") -> None:
        """Nothing is held back: every round was written as soon as it was formatted."""

    def add_sources(self, handles: Sequence[Any]) -> None:
        """Name the sources of handles that joined a running capture (before their packets)."""
        for source in sorted((s for h in handles for s in h.sources), key=lambda s: s.index):
            if source.index > self._known:
                raise ValueError(f"source {source.index} joined, expected at most {self._known}")
            # a new index, or the index of a source that left (a long capture reuses them)
            self._formatter.setSource(source.index, _shown(_name(source, self._by_label), self.fmt),
                                      source.linktype)
            if source.view is not None and self._local is None:
                self._formatter.setPointOfView(source.index, source.view.java())
            self._known = max(self._known, source.index + 1)

    def raise_for_errors(self) -> None:
        """Nothing is deferred: a failed write raised at once."""

    def write_batches(self, batches: Sequence[Batch]) -> None:
        """Format and write one read round (several batches are merged by time stamp)."""
        if len(batches) == 1:
            b = batches[0]
            self._formatter.begin(b.java_meta, b.java_data, b.count)
        else:
            self._formatter.begin(*Batch.java_arrays(batches))
        view = memoryview(self._out)
        while True:
            with jvm.java_errors(CaptureError):  # a frame of up to 128 MiB may not fit Java's heap
                n = int(self._formatter.next(self._jout))
            if not n:
                return
            self._write_all(view[:n])

    def _write_all(self, chunk: "bytes | memoryview") -> None:
        while chunk:
            chunk = chunk[os.write(self.fd, chunk):]

    def flush(self) -> None:
        """Nothing is held back: every round is written as soon as it is formatted."""

    def close(self) -> None:
        """End the JSON array (``json``); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self.fmt == "json":
            self._write_all(b"\n]\n")
