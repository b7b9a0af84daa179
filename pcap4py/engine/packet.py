"""The packet record: what one captured frame looks like from Python.

A :class:`Packet` holds the fixed-size summary record the Java helper decoded
(see :mod:`pcap4py.engine.record`), the frame bytes and where it came from.  Addresses
and names are formatted on access; the Pcap4J parse happens only when
``pkt.pcap4j`` or ``pkt.layers`` is asked for.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

from . import record as R
from .limits import MAX_SNAPLEN
from .numbers import (DLT_EN10MB, ECHO_TYPES, ETHERTYPE_ARP, ETHERTYPES, ICMP_PROTOCOLS, IP_PROTOCOLS,
                      IPPROTO_TCP, NO_PROTO, PORT_PROTOCOLS, TCP_FLAG_LETTERS)
from .record import TS_OUT_OF_RANGE


@dataclass(frozen=True)
class Source:
    """Where packets come from: one open handle (interface or file) and its link type.

    ``label`` is the name a person knows it by in a pcapng file's interface block (``web/eth0``
    for a container's eth0; None: ``name``), ``description`` says what it is (which container,
    captured how); ``snaplen`` is the handle's.  ``view`` (a
    :class:`~pcap4py.engine.pov.PointOfView`) is whose point of view this source's packets take
    when the capture has none of its own (several containers in one capture: each its own).
    """

    name: str
    linktype: int
    index: int = 0
    snaplen: int = MAX_SNAPLEN
    label: Optional[str] = None
    description: Optional[str] = None
    view: Any = field(default=None, compare=False)

    @property
    def display_name(self) -> str:
        """``label`` if set, else ``name``."""
        return self.label or self.name


class Packet:
    """One captured frame.

    Attributes: ``ts_ns`` (capture time, integer nanoseconds since the epoch),
    ``caplen`` (bytes captured), ``length`` (bytes on the wire), ``interface``,
    ``linktype`` (DLT number), ``data`` (the captured bytes), the summary
    fields (``proto``, ``src``, ``dst``, ``sport``, ``dport``, ``tcp_flags``,
    ``seq``, ``ack``, ``icmp_type``, ``icmp_code``, ``payload``) and
    ``direction`` ('in', 'out' or None) when the capture knows whose point of
    view to take.  ``ts_out_of_range`` is True (and ``ts_ns`` is
    :attr:`TS_OUT_OF_RANGE`) for a time before 1970 or after 2554, which a
    pcapng file can name.  Checksums are not verified: a container's outgoing packets
    often carry offloaded, not-yet-computed checksums.
    """

    __slots__ = ("_rec", "data", "source", "direction")

    TS_OUT_OF_RANGE = TS_OUT_OF_RANGE

    def __init__(self, rec: tuple, data: bytes, source: Source, direction: Optional[str] = None):
        self._rec = rec
        self.data = data
        self.source = source
        self.direction = direction

    # --- record fields (see pcap4py.engine.record) --------------------------------------------
    ts_ns = property(lambda self: self._rec[R.TS_NS], doc="capture time, ns since the epoch")
    ts_out_of_range = property(lambda self: self._rec[R.TS_NS] == TS_OUT_OF_RANGE,
                               doc="the file named a time outside 1970..2554; ts_ns holds no time then")
    caplen = property(lambda self: self._rec[R.CAPLEN], doc="bytes captured")
    length = property(lambda self: self._rec[R.ORIGLEN], doc="bytes on the wire")
    ethertype = property(lambda self: self._rec[R.ETHERTYPE], doc="ethertype of the L3 payload, 0 if unknown")
    ip_proto = property(lambda self: None if self._rec[R.IP_PROTO] == NO_PROTO else self._rec[R.IP_PROTO])
    tcp_flags = property(lambda self: self._rec[R.TCP_FLAGS] if self._rec[R.IP_PROTO] == IPPROTO_TCP else None)
    vlan = property(lambda self: self._rec[R.VLAN] or None)
    ip_version = property(lambda self: self._rec[R.IP_VERSION] or None)

    @property
    def interface(self) -> str:
        return self.source.name

    @property
    def linktype(self) -> int:
        return self.source.linktype

    @property
    def time(self) -> datetime:
        """Capture time as an aware UTC datetime (microsecond resolution)."""
        return datetime.fromtimestamp(self.ts_ns // 1000 / 1e6, tz=timezone.utc)

    @property
    def proto(self) -> Optional[str]:
        """'TCP', 'UDP', 'ICMP', 'ICMPv6', 'ARP', ... or None when nothing was recognised."""
        proto = self._rec[R.IP_PROTO]
        if proto != NO_PROTO:
            return IP_PROTOCOLS.get(proto, f"ip-proto-{proto}")
        ethertype = self._rec[R.ETHERTYPE]
        if ethertype:
            return ETHERTYPES.get(ethertype, f"ethertype-0x{ethertype:04x}")
        return None

    @property
    def src(self) -> Optional[str]:
        return self._address(self._rec[R.SRC])

    @property
    def dst(self) -> Optional[str]:
        return self._address(self._rec[R.DST])

    def _address(self, raw: bytes) -> Optional[str]:
        version = self._rec[R.IP_VERSION]
        if version == 4 or self._rec[R.ETHERTYPE] == ETHERTYPE_ARP:
            return _address_text(raw, _IPV4_TEXT, socket.AF_INET, 4) if (version or any(raw[:4])) else None
        if version == 6:
            return _address_text(raw, _IPV6_TEXT, socket.AF_INET6, 16)
        return None

    @property
    def sport(self) -> Optional[int]:
        """TCP/UDP source port (None for other protocols)."""
        return self._rec[R.SPORT] if self._rec[R.IP_PROTO] in PORT_PROTOCOLS else None

    @property
    def dport(self) -> Optional[int]:
        return self._rec[R.DPORT] if self._rec[R.IP_PROTO] in PORT_PROTOCOLS else None

    @property
    def seq(self) -> Optional[int]:
        return self._rec[R.SEQ] if self._rec[R.IP_PROTO] == IPPROTO_TCP else None

    @property
    def ack(self) -> Optional[int]:
        return self._rec[R.ACK] if self._rec[R.IP_PROTO] == IPPROTO_TCP else None

    @property
    def icmp_type(self) -> Optional[int]:
        return self._rec[R.ICMP_TYPE] if self._rec[R.IP_PROTO] in ICMP_PROTOCOLS else None

    @property
    def icmp_code(self) -> Optional[int]:
        return self._rec[R.ICMP_CODE] if self._rec[R.IP_PROTO] in ICMP_PROTOCOLS else None

    @property
    def icmp_echo(self) -> Optional[tuple[int, int]]:
        """(id, sequence) of an ICMP/ICMPv6 echo request or reply, else None."""
        if (self._rec[R.IP_PROTO], self._rec[R.ICMP_TYPE]) in ECHO_TYPES:
            return self._rec[R.SPORT], self._rec[R.DPORT]
        return None

    @property
    def arp_op(self) -> Optional[int]:
        return self._rec[R.SPORT] if self._rec[R.ETHERTYPE] == ETHERTYPE_ARP else None

    @property
    def payload_offset(self) -> int:
        """Where the L4 payload (or, for ICMP and unknown protocols, the L4 header) starts."""
        return self._rec[R.PAYLOAD_OFF]

    @property
    def payload_length(self) -> int:
        """Payload length according to the IP header (may exceed what was captured)."""
        return self._rec[R.PAYLOAD_LEN]

    @property
    def payload(self) -> bytes:
        """The captured part of the transport payload (empty if none)."""
        start = self._rec[R.PAYLOAD_OFF]
        if not start:
            return b""
        return self.data[start:start + self._rec[R.PAYLOAD_LEN]]

    @property
    def eth_src(self) -> Optional[str]:
        return _mac(self.data[6:12]) if self.source.linktype == DLT_EN10MB and self.caplen >= 14 else None

    @property
    def eth_dst(self) -> Optional[str]:
        return _mac(self.data[0:6]) if self.source.linktype == DLT_EN10MB and self.caplen >= 14 else None

    @property
    def tcp_flag_string(self) -> Optional[str]:
        """tcpdump's rendering of the TCP flags: 'S', 'S.', 'P.', 'F.', ..."""
        flags = self.tcp_flags
        if flags is None:
            return None
        return "".join(letter for bit, letter in TCP_FLAG_LETTERS if flags & bit) or "none"

    # --- Pcap4J, on request -----------------------------------------------------------------
    @property
    def pcap4j(self) -> Any:
        """The frame parsed by Pcap4J (an ``org.pcap4j.packet.Packet``), None for an empty frame;
        raises :class:`~pcap4py.errors.PacketParseError` if Pcap4J fails on it. Starts the JVM if needed."""
        from .parse import parse

        return parse(self.data, self.source.linktype)

    @property
    def layers(self) -> list[str]:
        """Layer names from Pcap4J's parse, outermost first, e.g. ``['Ethernet', 'IPv4', 'Tcp']``."""
        from .parse import layer_names

        return layer_names(self.pcap4j)

    def to_dict(self) -> dict:
        """Named fields for JSON output (``payload`` as hex, as docker-network-capture does).

        One definition of the JSON record: this is ``json.loads`` of what Java's ``JsonFields``
        renders for this record, the very text ``--format jsonl`` prints, so the library and the
        CLI cannot disagree (one JPype call per packet: use the CLI's formats for streams).
        A time out of range has ``timestamp`` None and an extra ``ts_out_of_range: true``.
        """
        from . import jvm

        text = jvm.jclass("pcap4py.helper.JsonFields").render(
            R.RECORD.pack(*self._rec), self.data, self.source.name, self.source.linktype, self.direction)
        return json.loads(str(text))

    def __repr__(self) -> str:
        where = f"{self.src}:{self.sport}" if self.sport is not None else self.src
        to = f"{self.dst}:{self.dport}" if self.dport is not None else self.dst
        return f"<Packet {self.interface} {self.proto} {where} > {to} len={self.length}>"


# Addresses repeat from packet to packet: formatting each once is most of what src/dst cost.
_IPV4_TEXT: dict[bytes, str] = {}
_IPV6_TEXT: dict[bytes, str] = {}
_ADDRESS_CACHE_SIZE = 1 << 16


def _address_text(raw: bytes, cache: dict[bytes, str], family: int, size: int) -> str:
    text = cache.get(raw)
    if text is None:
        if len(cache) >= _ADDRESS_CACHE_SIZE:
            cache.clear()
        text = cache[raw] = socket.inet_ntop(family, raw[:size])
    return text


def _mac(raw: bytes) -> str:
    return raw.hex(":")
