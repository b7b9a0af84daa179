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
    "open_offline": "engine.handle",
    "Handle": "engine.handle",
    "Stats": "engine.handle",
    "interfaces": "engine.devices",
    "Interface": "engine.devices",
    "Packet": "engine.packet",
    "Capture": "engine.capture",
    "wait_for_ping": "engine.trigger",
    "compile_filter": "engine.bpf",
    "Container": "container",
    "containers": "container",
    "open_container": "container",
    "drop_privileges": "privileges",
    "attach": "plumbing.macvlan",  # not "attach": importing a submodule of that name would shadow the function
    "detach": "plumbing.macvlan",
    "mirror_build": "plumbing.mirror",
    "mirror_teardown": "plumbing.mirror",
}

__all__ = ["__version__", *_LAZY, *_error_names]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pcap4py' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
