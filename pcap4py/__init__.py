"""pcap4py: container-aware packet capture for Python, on Pcap4J.

Importing pcap4py starts no JVM and imports neither Docker nor netlink code;
each piece loads on first use::

    import pcap4py
    with pcap4py.open_live("eth0", filter="icmp") as handle:
        for pkt in handle:
            print(pkt)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .errors import *  # noqa: F401,F403  (the exception hierarchy is public API)
from .errors import __all__ as _error_names  # type: ignore[attr-defined]

__version__ = "0.1.0"

# public name -> module that defines it; loaded on first attribute access
_LAZY = {
    "open_live": "engine.handle",
    "open_offline": "engine.offline",
    "Handle": "engine.handle",
    "Stats": "engine.stats",
    "interfaces": "engine.devices",
    "Interface": "engine.devices",
    "Packet": "engine.packet",
    "Capture": "engine.capture",
    "Listener": "engine.listener",
    "SourceGone": "engine.listener",
    "wait_for_ping": "engine.trigger",
    "compile_filter": "engine.bpf",
    "Container": "container.model",
    "containers": "container.lookup",
    "get_container": "container.lookup",
    "open_namespace": "container.capture",
    "open_container": "container.capture",
    "open_containers": "container.capture",
    "drop_privileges": "privileges",
    # with containers accepted as targets and Docker networks on mirror bridges
    "attach": "container.plumbing",
    "detach": "container.plumbing",
    "mirror_build": "container.plumbing",
    "mirror_teardown": "container.plumbing",
}
__all__ = ["__version__", *_LAZY, *_error_names]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pcap4py' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
