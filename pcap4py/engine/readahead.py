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
    the slot handed back to Java) at the next :meth:`take`.  A frame bigger than a slot (a link
    type whose frames exceed the usual 256 KiB) makes Java hand the slot back empty; it gets a
    data buffer that fits and is filled again, and goes back to its usual size once consumed.
    """

    SLOTS = 2  # Java fills faster than Python consumes: one slot lent, one being filled

    def __init__(self, copier: Any, name: str):
        size = _file_size(name)
        self._slots = [Batch.for_bytes(size) for _ in range(self.SLOTS)]
        self._usual = len(self._slots[0].data)
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
        while needed := int(self._ahead.needed(slot)):  # a frame bigger than the slot: fit it, refill
            self._resize(slot, needed)
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
            if self._finished:
                pass
            elif len(self._slots[self._lent].data) > self._usual:  # grown for a big frame: shrink back
                self._resize(self._lent, self._usual)
            else:
                self._ahead.release(self._lent)
            self._lent = None

    def _resize(self, slot: int, data_bytes: int) -> None:
        """Give slot ``slot`` a data buffer of ``data_bytes`` and hand it back to Java to fill."""
        batch = self._slots[slot]
        batch.set_data_bytes(data_bytes)
        self._ahead.resize(slot, batch.java_meta, batch.java_data)

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
