"""The interfaces libpcap can capture on (``pcap4py.interfaces()``, ``pcap4py interfaces``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import jvm
from ..netns import NetnsRef, run_in_netns


@dataclass(frozen=True)
class Interface:
    """A capturable interface: its name, libpcap's description, addresses and state."""

    name: str
    description: str = ""
    addresses: list = field(default_factory=list)
    loopback: bool = False
    up: bool = False
    running: bool = False


def interfaces(netns: NetnsRef | None = None) -> list[Interface]:
    """Interfaces as libpcap lists them (in network namespace ``netns`` if given)."""
    jvm.start_native()  # at home, before any namespace is entered
    if netns is not None:
        return run_in_netns(netns, _interfaces_here)
    return _interfaces_here()


def _interfaces_here() -> list[Interface]:
    devices = jvm.jclass("org.pcap4j.core.Pcaps").findAllDevs()
    return [
        Interface(
            name=str(dev.getName()),
            description=str(dev.getDescription() or ""),
            addresses=[str(a.getAddress().getHostAddress()).split("%")[0]
                       for a in dev.getAddresses() if a.getAddress() is not None],
            loopback=bool(dev.isLoopBack()),
            up=bool(dev.isUp()),
            running=bool(dev.isRunning()),
        )
        for dev in devices
    ]
