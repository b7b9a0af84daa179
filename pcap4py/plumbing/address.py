"""pipework's address grammar: ``IP/PREFIX[@GATEWAY]``, ``0/0``, ``dhcp[:HOSTNAME]``, and MAC addresses.

Pure parsing and checking, no netlink: what :func:`pcap4py.plumbing.macvlan.attach`
and the records it keeps (:mod:`pcap4py.plumbing.record`, the persisted requests)
accept.  Every refusal is an :class:`~pcap4py.errors.AddressError` naming what is wrong.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from typing import Optional, Union

from ..errors import AddressError

__all__ = ["AddressSpec", "IPInterface", "IPAddress", "DHCP", "NO_ADDRESS", "parse_address", "spec_of",
           "check_family", "parse_mac", "stable_mac", "resolve_mac"]

IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

DHCP = "dhcp"  # pipework's "dhcp[:HOSTNAME]"
NO_ADDRESS = ("0/0", "0.0.0.0/0", "::/0")  # pipework's "0/0": the interface comes up without an address


@dataclass(frozen=True)
class AddressSpec:
    """pipework's ``IP/PREFIX[@GATEWAY]``: an interface address and an optional gateway;
    ``interface`` None is ``0/0`` (no address)."""

    interface: Optional[IPInterface]
    gateway: Optional[IPAddress] = None
    dhcp: bool = False  # pipework's "dhcp[:HOSTNAME]": the address comes from the LAN's DHCP server
    hostname: Optional[str] = None

    def __str__(self) -> str:
        if self.dhcp and self.interface is None:
            return f"dhcp:{self.hostname}" if self.hostname else "dhcp"
        if self.interface is None:
            return "0/0"
        return f"{self.interface}@{self.gateway}" if self.gateway else str(self.interface)

    @property
    def version(self) -> Optional[int]:
        return self.interface.version if self.interface is not None else None


def parse_address(spec: str, gateway: Optional[str] = None) -> AddressSpec:
    """Parse ``IP/PREFIX[@GATEWAY]`` (IPv4 or IPv6), as pipework does, and check it makes sense.

    ``gateway`` may instead be given separately.  Raises :class:`AddressError` for a
    missing or bad prefix, a malformed address, a network or broadcast address, a
    gateway of another family, outside the subnet, or equal to the address.
    """
    text = spec.strip()
    if text == DHCP or text.startswith(DHCP + ":"):
        return _parse_dhcp(text, gateway)
    if "@" in text:
        text, _, gw_text = text.partition("@")
        if gateway is not None:
            raise AddressError(f"gateway given twice: {spec!r} and {gateway!r}")
        gateway = gw_text
    if text in NO_ADDRESS:
        if gateway is not None:
            raise AddressError(f"{text} (no address) cannot have a gateway")
        return AddressSpec(None)
    if "/" not in text:
        raise AddressError(f"address {spec!r} needs a prefix length: IP/PREFIX, e.g. 192.168.1.200/24")
    ip_text, _, prefix = text.partition("/")
    try:
        ip = ipaddress.ip_address(ip_text)
    except ValueError:
        raise AddressError(f"{ip_text!r} is not an IPv4 or IPv6 address") from None
    if not (prefix.isascii() and prefix.isdigit()) or int(prefix) > ip.max_prefixlen:  # not '²'
        raise AddressError(f"bad prefix length /{prefix} for {ip_text} (0-{ip.max_prefixlen})")
    iface = ipaddress.ip_interface(f"{ip}/{int(prefix)}")
    net = iface.network
    if ip.version == 4 and net.prefixlen < 31 and ip in (net.network_address, net.broadcast_address):
        raise AddressError(f"{iface} is the {'network' if ip == net.network_address else 'broadcast'} "
                           f"address of {net}, not a host address")
    gw = None
    if gateway is not None and gateway != "":
        try:
            gw = ipaddress.ip_address(gateway)
        except ValueError:
            raise AddressError(f"gateway {gateway!r} is not an IPv4 or IPv6 address") from None
        if gw.version != ip.version:
            raise AddressError(f"gateway {gw} is IPv{gw.version} but the address {iface} is IPv{ip.version}")
        if gw not in net:
            raise AddressError(f"gateway {gw} is outside the subnet {net} of {iface}")
        if gw == ip:
            raise AddressError(f"gateway {gw} is the interface's own address")
    elif gateway == "":
        raise AddressError(f"empty gateway after '@' in {spec!r}")
    return AddressSpec(iface, gw)



def _parse_dhcp(text: str, gateway: Optional[str]) -> AddressSpec:
    if gateway is not None:
        raise AddressError("dhcp takes its gateway from the DHCP server: no @GATEWAY")
    hostname = text[len(DHCP) + 1:] if ":" in text else None
    if hostname is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]{0,62}", hostname):
        raise AddressError(f"bad DHCP hostname {hostname!r} (letters, digits, '-' and '.')")
    return AddressSpec(None, dhcp=True, hostname=hostname)


def check_family(spec: AddressSpec, family: Optional[int]) -> None:
    """Refuse an address of the other family than ``family`` (4 or 6; None: either)."""
    if family not in (None, 4, 6):
        raise AddressError(f"bad address family {family!r} (4 or 6)")
    if family and spec.version and spec.version != family:
        raise AddressError(f"{spec} is IPv{spec.version} but IPv{family} was asked for (-a {family})")
    if family == 6 and spec.dhcp:
        raise AddressError("dhcp is DHCPv4: it cannot give an IPv6 address (-a 6)")


STABLE_MAC = "U:"  # pipework's U:[SUFFIX]: a MAC derived from the target's name


def stable_mac(seed: str) -> str:
    """A locally administered unicast MAC derived from ``seed``: ``02:`` and 5 bytes of its SHA-256."""
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return ":".join(["02"] + [digest[i:i + 2] for i in range(0, 10, 2)])


def resolve_mac(mac: Optional[str], seed: str) -> Optional[str]:
    """``mac`` normalised, or for ``U:[SUFFIX]`` the :func:`stable_mac` of ``seed + SUFFIX``."""
    if mac is None:
        return None
    if mac.upper().startswith(STABLE_MAC):
        return stable_mac(seed + mac[len(STABLE_MAC):])
    return parse_mac(mac)


_MAC = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")


def parse_mac(mac: str) -> str:
    """Normalise a unicast MAC address to ``aa:bb:cc:dd:ee:ff``; :class:`AddressError` otherwise."""
    m = mac.strip().lower()
    if not _MAC.match(m):
        raise AddressError(f"{mac!r} is not a MAC address (aa:bb:cc:dd:ee:ff)")
    hexes = m.replace(":", "").replace("-", "")
    norm = ":".join(hexes[i:i + 2] for i in range(0, 12, 2))
    if int(hexes[:2], 16) & 1:
        raise AddressError(f"{norm} is a multicast MAC address; an interface needs a unicast one")
    if hexes == "0" * 12:
        raise AddressError("00:00:00:00:00:00 cannot be an interface's MAC address")
    return norm


def spec_of(address: Union[str, AddressSpec], gateway: Optional[str] = None) -> AddressSpec:
    """``address`` as an :class:`AddressSpec` (parsed if a string), with ``gateway`` applied."""
    if isinstance(address, AddressSpec):
        if gateway is not None and address.interface is not None:
            return parse_address(str(address.interface), gateway)
        return address
    return parse_address(address, gateway)
