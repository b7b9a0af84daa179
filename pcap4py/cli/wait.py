"""Waiting for a ping before capturing, announced: ``capture --wait-ping`` and the sample's WAIT."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

from ..signals import exiting

if TYPE_CHECKING:
    from ..engine.packet import Packet


def wait_announced(iface: str, timeout: Optional[float], say: Callable[[str], None]) -> "Packet":
    """Wait for an echo request on ``iface`` (at most ``timeout`` s: exit status 3), telling
    ``say`` that it waits (once it listens: a ping sent after that line is seen) and what came;
    Ctrl-C and SIGTERM end the wait as an exit.

    An unknown ``iface`` is an error before any "waiting" line."""
    from ..engine.handle import require_interface  # (the engine loads on first use: the CLI starts faster)
    from ..engine.trigger import wait_for_ping

    require_interface(iface)
    with exiting():
        pkt = wait_for_ping(iface, timeout=timeout, ready=lambda: say(f"waiting for a ping on {iface}..."))
    say(f"triggered by an echo request from {pkt.src} on {iface}")
    return pkt
