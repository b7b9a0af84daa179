"""Whose point of view a capture takes: an owner's MACs and IPs, and so each packet's direction.

The rule lives once, in Java (``pcap4py.helper.PointOfView``), for the line
formatter, the pcapng writer and Python's packets alike: on Ethernet, sent from
one of the owner's MACs is ``'out'`` and any other source MAC ``'in'``
(broadcasts it receives included); loopback frames (all-zero MACs) and frames
without a link header go by IP (from one of its addresses ``'out'``, to one
``'in'``).  Python asks once per batch, never per packet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Sequence

from . import jvm

if TYPE_CHECKING:
    from .batch import Batch
    from .packet import Source

DIRECTION_NAMES = (None, "in", "out")  # PointOfView's values: pcapng's epb_flags direction bits
_COOKED_V1, _COOKED_V2 = 113, 276
_PACKET_OUTGOING = 4  # the cooked headers' packet type for what the host sent


def kernel_direction(linktype: int, data: bytes) -> Optional[str]:
    """What the kernel saw, from a Linux cooked header (v1: its first two bytes, v2: byte 10);
    None on other links (as Java's ``PointOfView.kernelDirection``)."""
    if linktype == _COOKED_V1 and len(data) >= 2:
        return "out" if int.from_bytes(data[:2], "big") == _PACKET_OUTGOING else "in"
    if linktype == _COOKED_V2 and len(data) >= 11:
        return "out" if data[10] == _PACKET_OUTGOING else "in"
    return None


@dataclass(frozen=True)
class PointOfView:
    """The owner of ``macs`` ("aa:bb:cc:dd:ee:ff") and ``ips`` (address literals)."""

    macs: frozenset
    ips: frozenset
    _java: list = field(default_factory=list, init=False, repr=False, compare=False)  # made on first use

    def java(self) -> Any:
        """The Java ``PointOfView`` of these MACs and IPs (made once)."""
        if not self._java:
            jpype = jvm.start()
            strings = jpype.JArray(jpype.JString)
            self._java.append(jvm.jclass("pcap4py.helper.PointOfView")(strings(sorted(self.macs)),
                                                                      strings(sorted(self.ips))))
        return self._java[0]

    def directions(self, batch: "Batch", sources: Sequence["Source"]) -> list[Optional[str]]:
        """The direction of each packet in ``batch`` (one Java call for the whole batch)."""
        jpype = jvm.start()
        out = jpype.JArray(jpype.JByte)(batch.count)
        dlts = jpype.JArray(jpype.JInt)([s.linktype for s in sources])
        self.java().directions(batch._jmeta, batch._jdata, batch.count, dlts, out)
        return [DIRECTION_NAMES[b] for b in bytes(out)]
