"""The kube section's cluster: the tests' single-node Kubernetes (tests/k8s/, tests/fixtures/kubelab.py),
started for the bench and torn down after it, with pcap4py's image built from this checkout.

It is never built here (5-12 minutes): the Kubernetes binaries must be in the tests' cache already
(any run of the ``kube`` tests puts them there). :class:`Unavailable` says why a cluster cannot be
started, and the section then skips with that line.
"""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

UP_TIMEOUT = 300


class Unavailable(Exception):
    """No cluster can be started here (the message says why)."""


@dataclass
class BenchCluster:
    kubeconfig: str
    kubectl_bin: str
    image: str  # pcap4py's image, as the cluster's containerd holds it
    cni_bridge: str  # the bridge every pod's veth is a port of

    def env(self) -> dict:
        return {"KUBECONFIG": self.kubeconfig}

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        import os

        return subprocess.run([self.kubectl_bin, *args], input=input, capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **self.env()}, check=True)


def _cni_bridge() -> str:
    from tests.fixtures.kubelab import K8S_DIR

    text = (K8S_DIR / "env.sh").read_text()
    return text.split("CNI_BRIDGE=", 1)[1].split()[0]


@contextmanager
def cluster() -> Iterator[BenchCluster]:
    """The cluster, up with pcap4py's image imported; down (everything up.sh made) at the end."""
    try:
        from tests.fixtures import dockerlab, imagelab, kubelab
    except ImportError as e:  # pytest missing: the fixtures cannot be imported
        raise Unavailable(f"the test fixtures cannot be imported: {e}") from None
    reason = kubelab.missing_prerequisite()
    if reason is not None:
        raise Unavailable(reason)
    cache = kubelab.cache_dir()
    if not (cache / ".complete").exists():
        raise Unavailable(f"Kubernetes is not built in {cache} (a run of the kube tests builds it)")
    if kubelab.RUN_DIR.exists():
        raise Unavailable(f"{kubelab.RUN_DIR} exists: a cluster (a test session's?) is running")
    with dockerlab.running_engine():
        tag = imagelab.build_image(imagelab.local_base())
        subprocess.run(["docker", "tag", tag, kubelab.AGENT_IMAGE], check=True, capture_output=True, timeout=60)
        env = kubelab._script_env(cache)
        kubelab.RUN_DIR.mkdir(parents=True)
        try:
            proc = subprocess.run([str(kubelab.K8S_DIR / "up.sh"), kubelab.AGENT_IMAGE], env=env,
                                  capture_output=True, text=True, timeout=UP_TIMEOUT)
            if proc.returncode != 0:
                raise Unavailable(f"the cluster did not come up: {(proc.stderr or proc.stdout).strip()[-300:]}")
            yield BenchCluster(str(kubelab.RUN_DIR / "admin.kubeconfig"), str(Path(cache) / "bin" / "kubectl"),
                               kubelab.AGENT_IMAGE, _cni_bridge())
        finally:
            kubelab._down(cache)
