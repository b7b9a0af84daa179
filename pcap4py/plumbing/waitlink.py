"""Wait for an interface to appear, up, in the calling namespace: pipework's ``--wait``.

pipework's ``pipework --wait [-i eth1]``, run inside a container, blocks until
the host side has attached the interface (it polls ``/sys/class/net/IF/operstate``
for ``up``).  pcap4py asks netlink, in the namespace of the calling thread (or
``netns``), every :data:`POLL` seconds until the link exists with IFF_UP and a
carrier (IFF_LOWER_UP), or the timeout runs out.
"""

from __future__ import annotations

import time
from typing import Optional

from ..errors import TimeoutExpired
from ..netns import NetnsRef
from .rtnl import IFF_UP, check_ifname, link_by_name, rtnl

__all__ = ["wait_for_link", "POLL"]

POLL = 0.1  # seconds between looks: an attach takes a few milliseconds, a user waits for seconds
IFF_LOWER_UP = 0x10000


def _is_up(ipr, name: str) -> bool:
    link = link_by_name(ipr, name)
    return link is not None and link["flags"] & IFF_UP != 0 and link["flags"] & IFF_LOWER_UP != 0


def wait_for_link(name: str = "eth1", timeout: Optional[float] = None, netns: Optional[NetnsRef] = None) -> float:
    """Return once interface ``name`` exists and is up (with a carrier); the seconds it took.

    ``timeout`` None waits for ever; when it runs out, :class:`TimeoutExpired` (exit status 3).
    """
    check_ifname(name)
    start = time.monotonic()
    deadline = None if timeout is None else start + timeout
    with rtnl(netns) as ipr:
        while not _is_up(ipr, name):
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutExpired(f"{name} did not appear (up) within {timeout:g} s")
            time.sleep(POLL if deadline is None else max(0.0, min(POLL, deadline - time.monotonic())))
    return time.monotonic() - start
