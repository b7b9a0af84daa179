"""The 80-byte record the Java helper writes per packet: its one definition on the Python side.

The Java side is ``java/src/main/java/pcap4py/helper/Record.java``; ``Record.layout()`` names
the same fields at the same offsets, and ``tests/engine/test_record.py`` compares the two.  From the
table below come the struct that unpacks a record (:data:`RECORD`), the index of each field in
the unpacked tuple (``TS_NS``, ``CAPLEN``, ...) and each field's byte offset (:data:`OFFSETS`).
"""

from __future__ import annotations

import struct

# name, struct code (little-endian, no padding); the order is the layout
FIELDS = (
    ("ts_ns", "Q"),          # unsigned ns since 1970; TS_OUT_OF_RANGE when no such count holds the time
    ("caplen", "I"),
    ("origlen", "I"),
    ("data_off", "I"),       # where the frame starts in the batch's data area
    ("ethertype", "H"),      # 0: unknown
    ("ip_proto", "B"),       # numbers.NO_PROTO: no IP
    ("tcp_flags", "B"),
    ("sport", "H"),          # also the ICMP echo id and the ARP opcode
    ("dport", "H"),          # also the ICMP echo sequence
    ("payload_off", "H"),    # in the frame
    ("icmp_type", "B"),
    ("icmp_code", "B"),
    ("source_index", "B"),   # which of the capture's sources the packet came from
    ("ip_version", "B"),     # 0, 4 or 6
    ("vlan", "H"),           # 0: none
    ("seq", "I"),
    ("ack", "I"),
    ("payload_len", "I"),    # per the IP header (may exceed what was captured)
    ("src", "16s"),
    ("dst", "16s"),
)

RECORD = struct.Struct("<" + "".join(code for _, code in FIELDS))
SIZE = RECORD.size
TS_OUT_OF_RANGE = 2**64 - 1


def _offsets() -> dict[str, int]:
    offsets, at = {}, 0
    for name, code in FIELDS:
        offsets[name] = at
        at += struct.calcsize("<" + code)
    return offsets


OFFSETS = _offsets()  # field name -> byte offset in the record

# the index of each field in an unpacked record tuple
(TS_NS, CAPLEN, ORIGLEN, DATA_OFF, ETHERTYPE, IP_PROTO, TCP_FLAGS, SPORT, DPORT, PAYLOAD_OFF, ICMP_TYPE,
 ICMP_CODE, SOURCE_INDEX, IP_VERSION, VLAN, SEQ, ACK, PAYLOAD_LEN, SRC, DST) = range(len(FIELDS))
assert [name for name, _ in FIELDS][DST] == "dst" and SIZE == 80
