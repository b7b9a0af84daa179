"""The capture pump: a capture read into a sink until it ends, whatever ends it.

``pcap4py capture``/``read`` and the Wireshark extcap both run a capture the same way: open the
sink, let the stop signals stop the capture (SIGUSR1 asks for a report), read every round into
the sink, stop when the reader of a pipe has gone (``BrokenPipeError``), then end the sink (last
flush, statistics) and close it, on errors too.  :func:`pump` is that one way.
"""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING, Any, Callable, Optional

from ..signals import stopping
from . import Output, open_sink

if TYPE_CHECKING:
    from ..engine.capture import Capture
    from ..engine.stats import Stats

__all__ = ["pump", "close_quietly"]


def pump(capture: "Capture", output: Output, *, stream: IO[str] = sys.stdout,
         prepare: Optional[Callable[[Any], None]] = None, started: Optional[Callable[[], None]] = None,
         each_round: Optional[Callable[[Any, int], None]] = None,
         report: Optional[Callable[[], None]] = None) -> tuple[Any, "Stats"]:
    """Read ``capture`` into the sink of ``output`` until it stops; returns (the sink, the
    capture's counters when it stopped).

    ``prepare(sink)`` runs once the sink is open, before the signal handlers are in place
    (dropping privileges, watching a reader); ``started()`` once they are (from then on a stop
    signal stops the capture cleanly); ``each_round(sink, total)`` after every read round;
    ``report()`` on SIGUSR1.  The sink is ended and closed whatever happens (a reader that has
    gone is no error); the capture is left to its owner to close.  A write the sink defers is
    reported by ``sink.raise_for_errors()``, for the caller to call once its own report is out.
    """
    sink = open_sink(capture, output, stream)
    try:
        if prepare is not None:
            prepare(sink)
        with stopping(capture, report):
            if started is not None:
                started()
            try:
                sink.consume(capture, None if each_round is None else lambda total: each_round(sink, total))
            except BrokenPipeError:  # the reader of a pipe or fifo has gone: that ends the capture
                capture.stop()
            finally:
                stats = capture.stats()
                sink.end(capture)
    finally:
        close_quietly(sink)
    return sink, stats


def close_quietly(sink: Any) -> None:
    """Close ``sink``; a reader that has gone by then is no error."""
    try:
        sink.close()
    except BrokenPipeError:
        pass
