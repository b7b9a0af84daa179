"""Container runtimes, one backend module each behind :class:`~.base.Runtime`, and which ones to ask.

:func:`chosen` picks them: the one ``--runtime`` or ``PCAP4PY_RUNTIME`` names, else every runtime
whose socket is set or present (``DOCKER_HOST`` or ``/var/run/docker.sock``; ``CONTAINER_HOST`` or
``/run/podman/podman.sock`` and the rootless ``/run/user/UID/podman/podman.sock``; for the CRI
``CONTAINER_RUNTIME_ENDPOINT`` or containerd's and CRI-O's sockets), else Docker
(whose error then says where it looked).  Each backend
is imported only when asked for.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import Optional

from ...errors import SelectionError
from .base import Event, Listed, Runtime

__all__ = ["NAMES", "ENV", "chosen", "backend", "Runtime", "Listed", "Event"]

# runtime name -> "module:class" of its backend, in the order auto-discovery asks them
BACKENDS = {"docker": "docker:DockerRuntime", "podman": "podman:PodmanRuntime", "cri": "cri:CriRuntime",
            "containerd": "containerd:ContainerdRuntime"}
NAMES = tuple(BACKENDS)
ENV = "PCAP4PY_RUNTIME"


def backend(name: str) -> type:
    """The backend class of runtime ``name``."""
    if name not in BACKENDS:
        raise SelectionError(f"unknown container runtime {name!r}: use one of {', '.join(NAMES)}")
    module, cls = BACKENDS[name].split(":")
    return getattr(import_module(f".{module}", __name__), cls)


def chosen(name: Optional[str] = None) -> list[Runtime]:
    """The runtimes to ask: ``name`` (or ``$PCAP4PY_RUNTIME``) alone, else every one present."""
    forced = name or os.environ.get(ENV) or None
    if forced:
        cls = backend(forced.strip().lower())
        return cls.instances() or [cls()]
    found = [rt for cls in map(backend, NAMES) for rt in cls.instances()]
    return found or [backend(NAMES[0])()]
