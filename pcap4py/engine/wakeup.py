"""The self-pipe that wakes a capture's poll: a stop from a signal handler or another thread, or
handles queued to join or leave, take effect at once, even on an idle link."""

from __future__ import annotations

import os
import threading


class Wakeup:
    """A non-blocking pipe, open only while a reading loop polls (so a capture that is not being
    read, or reads only files, holds no descriptor); :meth:`set` before it opens does nothing
    (the loop checks its flags after opening it)."""

    def __init__(self) -> None:
        # re-entrant: a signal handler's stop() may run on the thread that holds it
        self._lock = threading.RLock()
        self._r = self._w = -1

    def open(self) -> int:
        """The descriptor to poll (opening the pipe if need be)."""
        with self._lock:
            if self._r < 0:
                self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            return self._r

    def set(self, byte: bytes = b"x") -> None:
        """Wake the poll; safe from signal handlers and other threads."""
        with self._lock:
            if self._w >= 0:
                try:
                    os.write(self._w, byte)
                except OSError:
                    pass  # full: a wake-up is pending already

    def drain(self) -> None:
        """Read away the wake-ups pending."""
        with self._lock:
            try:
                while self._r >= 0 and os.read(self._r, 4096):
                    pass
            except OSError:
                pass  # drained (EAGAIN)

    def close(self) -> None:
        """Close the pipe (it opens again if polled again)."""
        with self._lock:
            fds, self._r, self._w = (self._r, self._w), -1, -1  # forgotten first: a handler sees -1
            for fd in fds:
                if fd >= 0:
                    os.close(fd)
