"""Wait for a ping: the Pcap4J Docker sample's trigger, before a capture starts."""

from __future__ import annotations

from typing import Callable, Optional

from .capture import Capture
from ..errors import TimeoutExpired
from .handle import open_live
from .packet import Packet

# ICMPv4 echo request, or ICMPv6 echo request right after the fixed IPv6 header
ECHO_REQUEST_FILTER = "icmp[icmptype] == icmp-echo or (icmp6 and ip6[40] == 128)"


def wait_for_ping(iface: str = "eth0", timeout: Optional[float] = None, *,
                  ready: Optional[Callable[[], None]] = None, **open_kwargs) -> Packet:
    """Block until an ICMP or ICMPv6 echo request arrives on ``iface``, and return it.

    Raises :class:`~pcap4py.errors.TimeoutExpired` after ``timeout`` seconds.  ``ready()`` is
    called once the handle listens (a ping from then on is seen: the place to say "waiting").
    Extra keyword arguments go to :func:`~pcap4py.open_live` (``netns=...``).
    """
    open_kwargs.setdefault("promisc", False)
    open_kwargs.setdefault("immediate", True)
    with open_live(iface, filter=ECHO_REQUEST_FILTER, **open_kwargs) as handle:
        if ready is not None:
            ready()
        with Capture([handle], count=1, duration=timeout) as capture:
            for pkt in capture:
                return pkt
    raise TimeoutExpired(f"no ping arrived on {iface} within {timeout:g} s")
