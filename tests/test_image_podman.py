"""The bundled image as a sidecar on Podman (issue 21): the image the session builds on the test
dockerd (tests/fixtures/imagelab.py) is moved into the session's private rootful Podman
(tests/fixtures/podmanlab.py) with ``docker save`` and ``podman load``, then run in a container's
network namespace (``--net=container:X``) with NET_RAW and NET_ADMIN only.  tcpdump and tshark
read the file it writes.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid

import pytest

from tests.fixtures.imagelab import pcap4py_image  # noqa: F401  (session fixture)

pytestmark = [pytest.mark.docker, pytest.mark.podman]


@pytest.fixture(scope="module")
def podman_image(podman_service, pcap4py_image, tmp_path_factory):  # noqa: F811
    """pcap4py's image, loaded into the session's Podman; its name there."""
    archive = tmp_path_factory.mktemp("image") / "pcap4py.tar"
    subprocess.run(["docker", "save", "-o", str(archive), pcap4py_image], check=True, capture_output=True,
                   timeout=600)
    loaded = podman_service.podman("load", "-i", str(archive), timeout=600).stdout.decode()
    archive.unlink()
    names = re.findall(r"Loaded image(?:\(s\))?: (\S+)", loaded)
    assert names, loaded
    yield names[-1]
    podman_service.podman("rmi", "-f", names[-1], check=False)


def _logs(svc, name: str) -> str:
    proc = svc.podman("logs", name, check=False)
    return (proc.stdout + proc.stderr).decode(errors="replace")


def _wait(svc, name: str, needle: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while needle not in _logs(svc, name):
        state = svc.out("inspect", "--format", "{{.State.Status}}", name)
        if state not in ("running", "created", "configured") or time.monotonic() > deadline:
            raise AssertionError(f"no {needle!r} from {name} ({state}): {_logs(svc, name)}")
        time.sleep(0.2)


def test_the_image_is_a_sidecar_on_podman(podmanlab, podman_image, tmp_path):
    svc = podmanlab.svc
    web = podmanlab.httpd("web")
    web_ip = podmanlab.ip(web)
    out = tmp_path / "pcaps"
    out.mkdir()
    out.chmod(0o777)  # the image's user is not root
    sniff = f"p4t-sniff-{uuid.uuid4().hex[:6]}"
    try:
        svc.podman("run", "-d", "--name", sniff, f"--net=container:{web}", "--cap-drop", "ALL",
                   "--cap-add", "NET_RAW", "--cap-add", "NET_ADMIN", "-v", f"{out}:/out", podman_image,
                   "capture", "eth0", "-c", "4", "-w", "/out/web.pcap", "icmp")
        _wait(svc, sniff, "listening on eth0")
        # from the host, over the test's Podman network: two requests, two replies
        subprocess.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", web_ip], capture_output=True, timeout=30)
        code = svc.out("wait", sniff)
        assert code == "0", _logs(svc, sniff)
        assert "4 packets captured" in _logs(svc, sniff)
    finally:
        svc.podman("rm", "-f", "-t", "0", sniff, check=False)
    pcap = out / "web.pcap"
    fields = subprocess.run(["tshark", "-r", str(pcap), "-T", "fields", "-e", "ip.dst", "-e", "icmp.type"],
                            capture_output=True, text=True, timeout=60)
    assert fields.returncode == 0, fields.stderr
    rows = [line.split("\t") for line in fields.stdout.splitlines()]
    assert [row[1] for row in rows] == ["8", "0", "8", "0"] and rows[0][0] == web_ip, fields.stdout
    read = subprocess.run(["tcpdump", "-n", "-r", str(pcap)], capture_output=True, text=True, timeout=30)
    assert read.returncode == 0 and len(read.stdout.splitlines()) == 4, read.stderr
