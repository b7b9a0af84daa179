"""File rotation, as tcpdump's ``-C``/``-G``/``-W``/``-z``: one pcap or pcapng file after another.

* ``-C SIZE``: a file is full once it holds more than SIZE bytes, checked before each packet (in
  Java, where the packet is written: a read round can hold thousands of packets, megabytes), so
  every file but the last ends with the packet that took it past SIZE, as tcpdump's.  Names:
  ``file``, ``file1``, ``file2``...; with ``-W N`` ``file0``..``file{N-1}`` (zero-padded to the
  width of N-1), a ring that overwrites the oldest.
* ``-G SECONDS``: a new file at every multiple of SECONDS since the epoch (as dumpcap's
  ``interval``, not tcpdump's drifting timer), on an idle link too (the capture's ``tick``); the
  -w path goes through strftime (the first file is named by the start time, the next ones by the
  boundary they start at).  With ``-W N`` and no ``-C``, the capture stops after N files.
* ``-z CMD``: ``CMD FILE`` runs as a child (no shell) on every file once it is closed, the last one
  too.

What is common to every format is here (:class:`RotatingSink`: names, the clock, -W, -z, the one
error); each format rotates beneath its own writer: :class:`~.pcap.PcapRotation` opens a new
:class:`~.pcap.PcapSink` per file, :class:`~.pcapng.PcapngRotation` has its one writer reopen on
the next file and repeat the section and interface blocks there, so that a round cut by a full
file goes on in the next one, and each file ends with its statistics blocks.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..engine.listener import Listener
from ..errors import Pcap4pyError

if TYPE_CHECKING:
    from ..engine.capture import Capture


@dataclass(frozen=True)
class Rotation:
    """``size`` (bytes, -C), ``interval`` (seconds, -G), ``files`` (-W), ``command`` (-z)."""

    size: Optional[int] = None
    interval: Optional[int] = None
    files: Optional[int] = None
    command: Optional[str] = None


class FileNames:
    """The name of each file: ``template`` through strftime (with -G), then the -C counter."""

    def __init__(self, template: str, rotation: Rotation):
        self.template = template
        self.rotation = rotation
        self.width = len(str(rotation.files - 1)) if rotation.files else 0

    def name(self, when: float, counter: int) -> str:
        base = time.strftime(self.template, time.localtime(when)) if self.rotation.interval else self.template
        if self.rotation.size is None:
            return base
        if self.rotation.files:
            return f"{base}{counter % self.rotation.files:0{self.width}d}"
        return f"{base}{counter}" if counter else base


class RotatingSink:
    """Writes ``capture`` to one file after another as ``rotation`` says (see the module).

    A format's rotation provides its first file's sink (``_sink``, opened by its ``__init__`` at
    ``self.path``) and the steps below marked "the format's".
    """

    def __init__(self, capture: Capture, template: str, rotation: Rotation):
        self._capture = capture
        self.rotation = rotation
        self._names = FileNames(template, rotation)
        self._children: list[subprocess.Popen] = []
        self._error: Optional[Pcap4pyError] = None
        self._files = 1  # opened so far (-G -W: the limit)
        self._counter = 0  # -C: the number of the file within its time slice
        self._slice = self._slice_of(time.time())
        self.path = self._names.name(time.time(), 0)
        self._first_packet = 0  # packets written before this file
        self._sink: Any = None

    @property
    def warnings(self) -> list:
        return self._sink.warnings

    # --- the format's -------------------------------------------------------------------------
    def _write(self, capture: Capture, after_round: Callable[[], None]) -> None:
        """Read ``capture`` to its end into the current file, calling ``after_round()`` after each round."""
        raise NotImplementedError

    def _idle(self) -> None:
        """An idle poll: what may go out without a packet (held-back packets)."""

    def _file_full(self) -> bool:
        """Whether the current file is full (-C) and packets wait for the next."""
        raise NotImplementedError

    def _switch(self, path: str) -> None:
        """End the current file and go on in ``path``; raises :class:`Pcap4pyError` if it cannot."""
        raise NotImplementedError

    def _drain(self) -> None:
        """At the end: write what is still waiting (held-back packets) into the current file."""

    def _close_current(self) -> None:
        raise NotImplementedError

    def _written(self) -> int:
        """Packets written so far, every file counted."""
        raise NotImplementedError

    # --- the sink interface ---------------------------------------------------------------------
    def consume(self, capture: Capture, progress: Optional[Callable[[int], None]] = None) -> None:
        """Read ``capture`` to its end, rotating after any round (or idle poll) that calls for it."""
        ticks = capture.listen(Listener(tick=self._on_idle))

        def after_round() -> None:
            self._rotate_while_full()
            self._on_tick()
            if progress is not None:
                progress(self._capture.seen)

        try:
            self._write(capture, after_round)
        finally:
            capture.unlisten(ticks)

    def end(self, capture: Capture) -> None:
        """The last packets (a full file may call for one more), then the last file's statistics."""
        self._drain()
        while self._error is None and self._file_full():
            self._next_file(new_slice=False)
            self._drain()
        self._sink.end(capture)

    def close(self) -> None:
        """Close the last file and run -z on it (a size rotation's file left empty is removed)."""
        self._close_current()
        empty = self._written() - self._first_packet == 0 and self._counter > 0
        if empty and self._error is None:
            os.unlink(self.path)  # tcpdump opens the next file only for a packet
        else:
            self._run_command(self.path)
        self._reap()

    def raise_for_errors(self) -> None:
        if self._error is not None:
            raise self._error
        self._sink.raise_for_errors()

    def hand_over(self, uid: int, gid: int) -> None:
        """Give the file opened before ``-Z`` to the user the process drops to: it may have to
        overwrite it (a -W ring)."""
        os.chown(self.path, uid, gid)

    # --- when to rotate -------------------------------------------------------------------------
    def _rotate_while_full(self) -> None:
        while self._error is None and self._file_full():
            self._next_file(new_slice=False)

    def _on_idle(self) -> None:
        """An idle poll: what waits for time goes out, then -G's clock."""
        if self._error is None:
            self._idle()
            self._rotate_while_full()
        self._on_tick()

    def _on_tick(self) -> None:
        """-G: a new file once the clock has passed into the next interval."""
        if self.rotation.interval is None or self._error is not None:
            return
        now = time.time()
        current = self._slice_of(now)
        if current == self._slice:
            return
        self._slice = current
        if self.rotation.files and self.rotation.size is None and self._files >= self.rotation.files:
            self._capture.stop()  # -G -W N: N files, then the capture ends (as tcpdump)
            return
        self._next_file(new_slice=True, when=current * self.rotation.interval)

    def _slice_of(self, now: float) -> int:
        return math.floor(now / self.rotation.interval) if self.rotation.interval else 0

    # --- switching files ------------------------------------------------------------------------
    def _next_file(self, *, new_slice: bool, when: Optional[float] = None) -> None:
        """Close the current file (and run -z on it), open the next; a failure stops the capture."""
        self._counter = 0 if new_slice else self._counter + 1
        path = self._names.name(time.time() if when is None else when, self._counter)
        old = self.path
        try:
            self._switch(path)
        except Pcap4pyError as e:  # it names the file it could not write, and why
            self._error = e
            self._capture.stop()
            return
        self.path = path
        self._files += 1
        self._run_command(old)

    # --- -z -----------------------------------------------------------------------------------
    def _run_command(self, path: str) -> None:
        """``CMD FILE`` in the background, as tcpdump's -z (it may take long: gzip)."""
        if self.rotation.command is None:
            return
        self._reap()
        try:
            self._children.append(subprocess.Popen([self.rotation.command, path], stdin=subprocess.DEVNULL,
                                                   close_fds=True))
        except OSError as e:
            sys.stderr.write(f"pcap4py: warning: cannot run -z {self.rotation.command}: {e.strerror}\n")

    def _reap(self) -> None:
        self._children = [c for c in self._children if c.poll() is None]
