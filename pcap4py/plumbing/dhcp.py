"""DHCPv4 leases for an attached interface, through pyroute2's client (``pyroute2.dhcp``).

pyroute2's :class:`~pyroute2.dhcp.client.AsyncDHCPClient` runs its own
asyncio loop and opens its packet socket and an ``AsyncIPRoute`` in the calling
thread's namespace.  pcap4py runs it on a thread that has entered the target
namespace (:func:`pcap4py.netns.run_in_netns`), bounded by a timeout, so both
sockets belong to the target.  The client only talks DHCP: pcap4py applies the
address and routes itself (attach's steps), so no hooks are configured and
nothing is written to disk (the lease lives in attach's ifalias record).

A lease in the record is a few fields (:class:`LeaseRecord`): enough to send a
DHCPRELEASE on detach, and to show what was leased.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

from ..errors import DhcpError, OutOfRange, Pcap4pyError
from ..netns import run_in_netns

__all__ = ["LeaseRecord", "check_timeout", "obtain", "release", "keep", "DEFAULT_TIMEOUT", "MIN_TIMEOUT", "MAX_TIMEOUT"]

DEFAULT_TIMEOUT = 15.0  # seconds for a DISCOVER/OFFER/REQUEST/ACK round (pyroute2 resends after 4 s)
MIN_TIMEOUT, MAX_TIMEOUT = 0.5, 600.0  # the range --dhcp-timeout takes
RELEASE_TIMEOUT = 3.0


def check_timeout(seconds: float) -> float:
    """``seconds`` if it is a DHCP timeout attach takes (finite, :data:`MIN_TIMEOUT` to
    :data:`MAX_TIMEOUT`); :class:`OutOfRange` otherwise (nan and inf too)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or \
            not MIN_TIMEOUT <= seconds <= MAX_TIMEOUT:  # false for nan
        raise OutOfRange(f"bad DHCP timeout {seconds!r}: {MIN_TIMEOUT:g} to {MAX_TIMEOUT:g} seconds")
    return float(seconds)


@dataclass(frozen=True)
class LeaseRecord:
    """A lease, as attach records it: the address with its prefix, the router, the server, the lease time."""

    address: str  # "198.18.3.120/24"
    gateway: Optional[str]
    server_id: str
    server_mac: str
    lease_time: int  # seconds, -1 for infinite
    obtained: int  # epoch seconds

    def as_list(self) -> list:
        """The record's compact form (the whole ifalias record must fit in 255 bytes):
        ``[server id, server MAC without colons, lease time, obtained]``; the address and gateway
        are the record's own ``addr`` and ``gw``."""
        return [self.server_id, self.server_mac.replace(":", ""), self.lease_time, self.obtained]


def _lease_class(preloaded=None):
    """A pyroute2 Lease type that keeps nothing on disk; ``load`` returns ``preloaded`` (for a release)."""
    from pyroute2.dhcp.leases import Lease

    class MemoryLease(Lease):
        def dump(self) -> None:
            pass  # attach records the lease in the interface's ifalias

        @classmethod
        def load(cls, interface: str):
            return preloaded

    return MemoryLease


def _config(ifname: str, hostname: Optional[str], lease_type, release: bool):
    from pyroute2.dhcp.client import ClientConfig

    # not the main thread: pyroute2 must not install signal handlers; no pidfile, no hooks
    return ClientConfig(interface=ifname, lease_type=lease_type, release=release, handle_signals=False,
                        write_pidfile=False, host_name=hostname, vendor_id="pcap4py")


def _to_record(lease) -> LeaseRecord:
    try:
        iface = ipaddress.ip_interface(f"{lease.ip}/{lease.prefixlen}")
    except Exception as e:  # noqa: BLE001 - a server's malformed answer, whatever pyroute2 raises for it
        raise DhcpError(f"the DHCP server's lease is unusable (no subnet mask?): {e}") from e
    try:
        gw = lease.default_gateway
    except (LookupError, IndexError):
        gw = None
    try:
        lease_time = int(lease.lease_time)
    except LookupError:
        lease_time = -1
    return LeaseRecord(str(iface), gw, lease.server_id, lease.server_mac, lease_time, int(lease.obtained))


async def _obtain(ifname: str, hostname: Optional[str], timeout: float) -> LeaseRecord:
    from pyroute2.dhcp.client import AsyncDHCPClient
    from pyroute2.dhcp.fsm import State

    # release=False: the lease outlives this client; detach releases it
    async with AsyncDHCPClient(_config(ifname, hostname, _lease_class(), release=False)) as client:
        await client.bootstrap()
        try:
            await client.wait_for_state(State.BOUND, timeout=timeout)
        except asyncio.TimeoutError:
            raise DhcpError(f"no DHCP lease for {ifname} within {timeout:g} s (no DHCP server answered on "
                            f"its LAN)") from None
        return _to_record(client.lease)


def obtain(netns: str, ifname: str, hostname: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT) -> LeaseRecord:
    """A lease for ``ifname`` (up, in namespace ``netns``) from the LAN's DHCP server; :class:`DhcpError` on timeout."""
    return run_in_netns(netns, lambda: asyncio.run(_obtain(ifname, hostname, timeout)))


def _pyroute2_lease(rec: LeaseRecord, ifname: str):
    """A pyroute2 lease rebuilt from the record: what a DHCPRELEASE needs (ip, server id and MAC)."""
    ip = rec.address.split("/")[0]
    remaining = rec.lease_time if rec.lease_time < 0 else max(1, rec.obtained + rec.lease_time - int(time.time()))
    ack = {"yiaddr": ip, "options": {"server_id": rec.server_id, "lease_time": remaining}}
    return _lease_class()(ack=ack, interface=ifname, server_mac=rec.server_mac, obtained=time.time())


async def _release(ifname: str, rec: LeaseRecord) -> None:
    from pyroute2.dhcp.client import AsyncDHCPClient

    lease = _pyroute2_lease(rec, ifname)
    # the client loads the lease (INIT-REBOOT) and, leaving with release=True, sends the DHCPRELEASE
    async with AsyncDHCPClient(_config(ifname, None, _lease_class(lease), release=True)):
        pass


def release(netns: str, ifname: str, rec: LeaseRecord, timeout: float = RELEASE_TIMEOUT) -> bool:
    """Send a DHCPRELEASE for ``rec`` from ``ifname``; False if it could not be sent (best effort:
    an unreleased lease merely runs out)."""
    if not rec.server_id or not rec.server_mac:
        return False

    async def bounded() -> None:
        await asyncio.wait_for(_release(ifname, rec), timeout)

    try:
        run_in_netns(netns, lambda: asyncio.run(bounded()))
    except (OSError, asyncio.TimeoutError, ValueError):
        return False
    return True


async def _keep(ifname: str, hostname: Optional[str], lease: LeaseRecord, stop: asyncio.Event,
                on_renewed: Callable[[LeaseRecord], None], release_on_stop: bool) -> None:
    from pyroute2.dhcp.client import AsyncDHCPClient
    from pyroute2.dhcp.fsm import State

    loaded = _pyroute2_lease(lease, ifname)
    async with AsyncDHCPClient(_config(ifname, hostname, _lease_class(loaded), release=release_on_stop)) as client:
        await client.bootstrap()  # INIT-REBOOT: asks for the recorded address again
        while not stop.is_set():
            bound = asyncio.ensure_future(client.wait_for_state(State.BOUND))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait((bound, stopping), return_when=asyncio.FIRST_COMPLETED)
            for task in (bound, stopping):
                task.cancel()
            if client.state is State.BOUND and client.lease is not None:
                on_renewed(_to_record(client.lease))
                # wait for the next renewal (BOUND is left for RENEWING at T1) or the stop
                left = asyncio.ensure_future(_left_bound(client))
                stopping = asyncio.ensure_future(stop.wait())
                await asyncio.wait((left, stopping), return_when=asyncio.FIRST_COMPLETED)
                for task in (left, stopping):
                    task.cancel()


async def _left_bound(client) -> None:
    from pyroute2.dhcp.fsm import State

    while client.state is State.BOUND:
        await asyncio.sleep(0.5)


def keep(netns: str, ifname: str, lease: LeaseRecord, stop: threading.Event, *, hostname: Optional[str] = None,
         on_renewed: Callable[[LeaseRecord], None] = lambda rec: None, release_on_stop: bool = False) -> None:
    """Renew the lease of ``ifname`` in ``netns`` until ``stop`` is set (from another thread, e.g. a
    signal handler's); ``on_renewed`` is called, on the client's thread, with each lease granted.
    With ``release_on_stop`` a DHCPRELEASE is sent at the end."""

    async def main() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        watcher = threading.Thread(target=lambda: (stop.wait(), loop.call_soon_threadsafe(done.set)), daemon=True)
        watcher.start()
        await _keep(ifname, hostname, lease, done, on_renewed, release_on_stop)

    try:
        run_in_netns(netns, lambda: asyncio.run(main()))
    except Pcap4pyError:
        raise
    except Exception as e:  # noqa: BLE001 - pyroute2's client failing (interface gone...): one line
        raise DhcpError(f"renewing the DHCP lease of {ifname} failed: {e}") from e
