"""Full packet parsing by Pcap4J, done only when a caller asks for it (``pkt.pcap4j``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from . import jvm


@lru_cache(maxsize=None)
def _factory() -> Any:
    packets = jvm.jclass("org.pcap4j.packet.factory.PacketFactories")
    return packets.getFactory(jvm.jclass("org.pcap4j.packet.Packet"), jvm.jclass("org.pcap4j.packet.namednumber.DataLinkType"))


@lru_cache(maxsize=64)
def data_link_type(linktype: int) -> Any:
    """Pcap4J's ``DataLinkType`` for a DLT number."""
    boxed = jvm.jclass("java.lang.Integer").valueOf(linktype)
    return jvm.jclass("org.pcap4j.packet.namednumber.DataLinkType").getInstance(boxed)


def parse(data: bytes, linktype: int) -> Any:
    """Parse ``data`` (a frame of DLT ``linktype``) into an ``org.pcap4j.packet.Packet``."""
    jpype = jvm.start()
    raw = jpype.JArray(jpype.JByte)(data)
    return _factory().newInstance(raw, 0, len(data), data_link_type(linktype))


def layer_names(packet: Any) -> list[str]:
    """['Ethernet', 'IpV4', 'Tcp', ...]: the simple class names of each nested header, minus 'Packet'."""
    names = []
    while packet is not None:
        name = str(packet.getClass().getSimpleName())
        names.append(name[:-len("Packet")] if name.endswith("Packet") else name)
        packet = packet.getPayload()
    return names


def render(packet: Any) -> str:
    """Pcap4J's own multi-line rendering (what the kaitoy/pcap4j image printed)."""
    return str(packet.toString())
