"""Network plumbing through netlink, on namespaces and bridges (no Docker here).

``rtnl`` (sockets per namespace, lookups, the one netlink error boundary),
``transaction`` (named steps with undos, deferred SIGINT/SIGTERM),
``macvlan`` (pipework-style attach/detach), ``dhcp`` (its leases, through pyroute2's client), ``lower`` (its shared VLAN devices and bridges, the
host shim) and ``mirror`` (tc mirroring).
Containers become namespaces in :mod:`pcap4py.container.plumbing`.
"""

import os
from pathlib import Path

RUN_DIR_ENV = "PCAP4PY_RUN_DIR"


def run_dir() -> Path:
    """Where pcap4py keeps what it made (``/run/pcap4py``, emptied at boot; ``$PCAP4PY_RUN_DIR`` overrides)."""
    return Path(os.environ.get(RUN_DIR_ENV, "/run/pcap4py"))
