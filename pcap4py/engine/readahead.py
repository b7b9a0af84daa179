"""Reading a file ahead on a Java thread, so reading and the caller's per-packet work run on two
cores (``pcap4py.helper.ReadAhead``)."""

from __future__ import annotations

import os
import stat
from typing import Any, Optional

from . import jvm
from .batch import Batch


class ReadAhead:
    """A Java thread filling a ring of batches from ``copier`` (a Java ``BatchSource``).

    The caller's batch is lent a filled slot by swapping buffers with it, and swapped back (and
    the slot handed back to Java) at the next :meth:`take`.
    """

    SLOTS = 2  # Java fills faster than Python consumes: one slot lent, one being filled

    def __init__(self, copier: Any, name: str):
        size = _file_size(name)
        self._slots = [Batch.for_bytes(size) for _ in range(self.SLOTS)]
        metas = jvm.jclass("java.nio.ByteBuffer")[:]([b._jmeta for b in self._slots])
        datas = jvm.jclass("java.nio.ByteBuffer")[:]([b._jdata for b in self._slots])
        self._ahead = jvm.jclass("pcap4py.helper.ReadAhead")(
            copier, metas, datas, self._slots[0].capacity, f"pcap4py-read-{name}")
        self._lent: Optional[int] = None
        self._finished = False

    def take(self, batch: Batch) -> int:
        """Give back the slot ``batch`` holds, then swap the next filled one into it."""
        self._give_back(batch)
        if self._finished:
            batch.count = 0
            return 0
        slot = int(self._ahead.next())
        batch.swap(self._slots[slot])
        batch.count = int(self._ahead.count(slot))
        self._lent = slot
        if batch.count == 0:
            self._finished = True  # Java's thread has stopped; nothing more will be filled
        return batch.count

    def _give_back(self, batch: Batch) -> None:
        if self._lent is not None:
            batch.swap(self._slots[self._lent])
            if not self._finished:
                self._ahead.release(self._lent)
            self._lent = None

    def stop(self) -> None:
        """Stop the Java thread (waiting for it) before the slots' buffers can be freed or reused."""
        if self._slots and self._ahead.close():
            for slot in self._slots:
                slot.recycle()
        self._slots = []


def _file_size(path: str) -> Optional[int]:
    """The length of the regular file ``path`` (what sizes the read-ahead slots); None for a
    stream or anything else."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None
