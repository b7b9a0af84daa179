"""What a handle holds outside Python's memory, and the one place that lets it go.

A handle owns native and Java things a garbage collection knows nothing of: libpcap's ``pcap_t``
(a file descriptor, for a file its open file), Java's file readers (another descriptor each), a
read-ahead thread, a dumper.  They live in a :class:`Native` record, apart from the handle, so
that a finalizer can release them once the handle is unreachable without keeping it alive: a
handle dropped unclosed (an iteration abandoned half-way) gives them back at the next collection
instead of holding them until the process exits.
"""

from __future__ import annotations

import sys
import threading
import weakref
from typing import Any, Callable, Optional

from ..errors import HandleBusy


class Native:
    """The parts of one handle that must be closed: ``jhandle`` (Pcap4J's handle, None for a file
    Java reads alone), ``reader`` (the Java ``BatchSource`` bound to it), ``copier`` (what fills
    batches: the reader or a Java file reader), ``read_ahead``, ``dumper`` (the one the handle
    opened), ``programs`` (compiled filters)."""

    __slots__ = ("jhandle", "reader", "copier", "read_ahead", "dumper", "programs", "_reading", "_lock")

    def __init__(self, jhandle: Any, reader: Any):
        self.jhandle = jhandle
        self.reader = reader
        self.copier: Any = reader
        self.read_ahead: Any = None
        self.dumper: Any = None
        self.programs: list[Any] = []
        self._reading: Optional[object] = None  # the token of the iteration reading
        self._lock = threading.Lock()

    def stop_reading(self) -> None:
        """Stop the read-ahead thread (waiting for it) before anything it reads is closed."""
        if self.read_ahead is not None:
            self.read_ahead.stop()

    def release(self) -> None:
        """Close everything, the read-ahead first and the handle before its dumper."""
        self.stop_reading()
        if self.copier is not self.reader:
            self.copier.close()
        # the handle first: its close waits for a read in progress on another thread (which may
        # be dumping), and no read starts after it
        if self.jhandle is not None:
            self.jhandle.close()
        else:
            self.reader.close()
        if self.dumper is not None:
            self.reader.flushDumper()
            self.dumper.close()
        for program in self.programs:
            program.free()

    # --- who reads ---------------------------------------------------------------------------
    def claim(self, iteration: object, name: str) -> None:
        """Mark ``iteration`` (a token of one reading loop) as the one reading; raise
        :class:`HandleBusy` while another holds the handle (two threads would share one file
        position and one read-ahead, and each see the other's half)."""
        with self._lock:
            if self._reading is not None and self._reading is not iteration:
                raise HandleBusy(f"{name}: already being read by another iteration (another thread's, "
                                 f"or one not finished): read a handle from one iteration at a time")
            self._reading = iteration

    def unclaim(self, iteration: object) -> None:
        """End the claim of ``iteration``."""
        with self._lock:
            if self._reading is iteration:
                self._reading = None


def finalizer(owner: object, native: Native) -> Callable[[], None]:
    """Release ``native`` when ``owner`` is garbage collected (or when the returned callable is
    called, whichever comes first; once).  Not at interpreter exit: the JVM may be gone by then,
    and the process's end releases everything anyway."""
    done = weakref.finalize(owner, _release_if_jvm, native)
    done.atexit = False
    return done


def _release_if_jvm(native: Native) -> None:
    jpype = sys.modules.get("jpype")
    if jpype is not None and jpype.isJVMStarted():
        native.release()
