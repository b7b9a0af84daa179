"""A capture written into Wireshark's fifo until Wireshark stops it.

Wireshark stops an extcap with SIGTERM, or just closes the fifo (tshark's
``-a packets:N``, a killed tshark).  The first is the capture pump's job
(:func:`pcap4py.sinks.pump.pump`); for the second a watcher thread polls
pcap4py's own descriptor of the fifo: a pipe's write end reports ``POLLERR``
as soon as its last reader is gone, packets or not.  Either way the capture stops at once and its handles
are closed.
"""

from __future__ import annotations

import os
import select
import threading
from typing import TYPE_CHECKING, Callable, Optional

from ..errors import CaptureFileError
from ..signals import exiting
from ..sinks import Output
from ..sinks.pump import pump

if TYPE_CHECKING:
    from ..engine.capture import Capture

POLL_MS = 200


class Fifo:
    """Wireshark's fifo, held open by pcap4py from the start of ``--capture``.

    Opening it waits for Wireshark's end (a fifo's writer blocks until a reader
    comes), and it is opened before anything can fail: a capture that fails
    later closes it unwritten, and Wireshark's reader sees the end at once
    instead of waiting for a writer forever (tshark 4.0 then hangs).  While
    the capture runs a thread polls it and calls ``on_gone`` when the reader
    has left.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            with exiting():  # a SIGTERM while Wireshark has not opened its end yet ends us
                self._fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as e:  # a missing folder, a directory: one line, which Wireshark shows
            raise CaptureFileError(f"cannot open the fifo {path}: {e.strerror or e}") from e
        self._done = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def write(self, cap: "Capture") -> int:
        """Write ``cap`` here as pcapng (interface names, directions; flushed after every read
        round) until it stops; returns the count."""
        # a reader is there: opening the sink does not block
        pump(cap, Output(self.path, pcapng=True), prepare=lambda sink: self._watch_reader(cap.stop),
             each_round=lambda sink, total: sink.flush())
        return cap.seen

    def _watch_reader(self, on_gone: Callable[[], None]) -> None:
        def watch() -> None:
            poller = select.poll()
            poller.register(self._fd, 0)  # POLLERR and POLLHUP are always reported
            while not self._done.is_set():
                if any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(POLL_MS)):
                    on_gone()
                    return

        self._thread = threading.Thread(target=watch, name="pcap4py-fifo-watch", daemon=True)
        self._thread.start()

    def close(self, keep_open: bool = False) -> None:
        """Stop watching and close; ``keep_open`` leaves the descriptor to the process's exit."""
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        if not keep_open:
            os.close(self._fd)

    def __enter__(self) -> "Fifo":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # On an error the fifo stays open until the process ends, after the error is on stderr:
        # Wireshark reads an extcap's stderr when its fifo ends, and would find it empty.
        self.close(keep_open=exc_type is not None)
