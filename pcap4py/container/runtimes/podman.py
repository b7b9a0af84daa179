"""The Podman backend: Podman's service (``podman system service``), its Docker-compatible API plus
the libpod endpoints for what that API lacks (a container's pod, a pod's members).

The socket is ``CONTAINER_HOST`` (Podman's own variable), else the rootful
``/run/podman/podman.sock`` and every user's rootless ``/run/user/UID/podman/podman.sock`` that
is there (root reaches them all; a rootless container is captured in ``netns`` mode: its
interfaces have no veth peer on the host), and ``$XDG_RUNTIME_DIR/podman/podman.sock``: a user
without root finds their own (and captures their containers through :mod:`pcap4py.userns`).
Podman 4.3's compatible event stream filters on its own event names before translating them
(``died`` is reported as ``die``, a removal is ``remove``): the subscription asks in Podman's words.
"""

from __future__ import annotations

import glob
import os
from typing import Optional

from ...errors import ContainerNotFound, DockerError
from .. import docker as api
from .docker import DockerRuntime

__all__ = ["PodmanRuntime"]

LIBPOD = "/v4.0.0/libpod"  # the oldest libpod API with what is used here; newer services answer it


class PodmanRuntime(DockerRuntime):
    """Podman's service at ``base_url`` (None: ``CONTAINER_HOST`` or the rootful default socket)."""

    name = "podman"
    daemon = "Podman service"
    ENV = "CONTAINER_HOST"
    DEFAULT = "unix:///run/podman/podman.sock"
    SUBSCRIBE = ("start", "died", "remove")
    KINDS = {"start": "start", "die": "stop", "died": "stop", "remove": "stop", "destroy": "stop"}

    ROOTLESS = "/run/user/*/podman/podman.sock"

    @classmethod
    def instances(cls) -> list["PodmanRuntime"]:
        if os.environ.get(cls.ENV):
            return [cls()]  # named: that one only
        sockets = [cls.DEFAULT.removeprefix("unix://"), *sorted(glob.glob(cls.ROOTLESS))]
        runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
        if runtime_dir:  # the user's own, wherever their session keeps it
            sockets.append(os.path.join(runtime_dir, "podman", "podman.sock"))
        unique = dict.fromkeys(os.path.realpath(p) for p in sockets if os.path.exists(p))
        return [cls(f"unix://{path}") for path in unique]

    def _libpod(self, path: str, what: str) -> Optional[dict]:
        """The JSON answer of libpod endpoint ``path`` (None: 404)."""
        with api.docker_errors(self.client, what=what):
            reply = self.client.api.get(f"{self.client.api.base_url}{LIBPOD}{path}")
        if reply.status_code == 404:
            return None
        if not reply.ok:
            raise DockerError(f"{what}: {reply.status_code} {reply.text.strip()[:200]}")
        return reply.json()

    def pod_of(self, attrs: dict) -> Optional[str]:
        """The name of the pod a container is in (the compatible inspect has no word of pods)."""
        info = self._libpod(f"/containers/{attrs['Id']}/json", "cannot inspect a Podman container") or {}
        pod_id = info.get("Pod")
        if not pod_id:
            return None
        pod = self._libpod(f"/pods/{pod_id}/json", "cannot inspect a Podman pod") or {}
        return pod.get("Name") or pod_id[:12]

    def pod_members(self, pod: str) -> list[str]:
        info = self._libpod(f"/pods/{pod}/json", f"cannot inspect pod {pod}")
        if info is None:
            raise ContainerNotFound(f"no such pod: {pod}")
        return [m["Id"] for m in info.get("Containers") or [] if (m.get("State") or "").lower() == "running"]
