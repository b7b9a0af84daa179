"""Full packet parsing by Pcap4J, done only when a caller asks for it (``pkt.pcap4j``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Optional

from ..errors import PacketParseError
from . import jvm


@lru_cache(maxsize=None)
def _factory() -> Any:
    packets = jvm.jclass("org.pcap4j.packet.factory.PacketFactories")
    return packets.getFactory(jvm.jclass("org.pcap4j.packet.Packet"), jvm.jclass("org.pcap4j.packet.namednumber.DataLinkType"))


@lru_cache(maxsize=None)
def warm_up() -> Any:
    """Start Pcap4J's first parse on a Java thread now (the JVM starts if it is not up), once;
    returns that thread.  Its ~80 ms of class initialisation then overlaps what comes before the
    first packet (opening a handle, waiting for traffic) instead of delaying its rendering."""
    return jvm.jclass("pcap4py.helper.Pcap4jWarmUp").start()


@lru_cache(maxsize=64)
def data_link_type(linktype: int) -> Any:
    """Pcap4J's ``DataLinkType`` for a DLT number."""
    boxed = jvm.jclass("java.lang.Integer").valueOf(linktype)
    return jvm.jclass("org.pcap4j.packet.namednumber.DataLinkType").getInstance(boxed)


def parse(data: bytes, linktype: int) -> Optional[Any]:
    """Parse ``data`` (a frame of DLT ``linktype``) into an ``org.pcap4j.packet.Packet``.

    An empty frame (a record with no captured bytes) has nothing to parse: None.  Pcap4J turns
    most malformed frames into ``IllegalRawDataPacket`` layers; what it throws instead is raised as
    :class:`~pcap4py.errors.PacketParseError`.
    """
    if not data:
        return None  # Pcap4J refuses empty arrays ("arr is empty")
    if linktype == LINUX_SLL2 and len(data) >= 20:
        data, linktype = cooked_v1(data), LINUX_SLL  # Pcap4J knows v1 only: the same fields, v1's order
    jpype = jvm.start()
    raw = jpype.JArray(jpype.JByte)(data)
    try:
        return _factory().newInstance(raw, 0, len(data), data_link_type(linktype))
    except jpype.JException as e:
        raise PacketParseError(f"Pcap4J cannot parse this {len(data)}-byte frame: {e}") from e


LINUX_SLL, LINUX_SLL2 = 113, 276


def cooked_v1(data: bytes) -> bytes:
    """A Linux cooked v2 frame (``-i any``) as v1: packet type, ARPHRD type, address length,
    address (8 bytes), protocol, then the payload; the interface index has no place in v1."""
    protocol, hatype, pkttype, halen, addr = data[0:2], data[8:10], data[10], data[11], data[12:20]
    return bytes((0, pkttype)) + hatype + bytes((0, halen)) + addr + protocol + data[20:]


def layer_names(packet: Optional[Any]) -> list[str]:
    """['Ethernet', 'IpV4', 'Tcp', ...]: the simple class names of each nested header, minus 'Packet'
    (none for an empty frame)."""
    names = []
    while packet is not None:
        name = str(packet.getClass().getSimpleName())
        names.append(name[:-len("Packet")] if name.endswith("Packet") else name)
        packet = packet.getPayload()
    return names


def render(packet: Any) -> str:
    """Pcap4J's own multi-line rendering (what the kaitoy/pcap4j image printed); a failure inside
    Pcap4J raises :class:`~pcap4py.errors.PacketParseError`."""
    jpype = jvm.start()
    try:
        return str(packet.toString())
    except jpype.JException as e:
        raise PacketParseError(f"Pcap4J cannot render this frame: {e}") from e
