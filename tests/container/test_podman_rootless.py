"""Rootless Podman, captured as root: found under /run/user/UID/podman/, captured in netns mode.

A throw-away user's own Podman service (tests/fixtures/rootlesslab.py); pcap4py is pointed at that
socket (``CONTAINER_HOST``) except in the discovery test, which only builds the list of runtimes
to ask (no connection).  Packets are read back by tcpdump.
"""

from __future__ import annotations

import subprocess

import pytest

from pcap4py.container.runtimes import chosen
from tests.fixtures.cli import run_cli
from tests.container.test_container_capture import CaptureProcess

pytestmark = pytest.mark.podman


@pytest.fixture
def rootless(rootless_podman, monkeypatch):
    monkeypatch.setenv("PCAP4PY_RUNTIME", "podman")
    monkeypatch.setenv("CONTAINER_HOST", rootless_podman.socket)
    names: list[str] = []

    def run(short: str, *cmd: str) -> str:
        name = f"p4t-{short}-{rootless_podman.uid}"
        names.append(name)
        rootless_podman.podman("run", "-d", "--name", name, "localhost/p4t-busybox:latest",
                               *(cmd or ("sleep", "600")))
        return name

    yield run
    for name in names:
        rootless_podman.podman("rm", "-f", "-t", "0", name, check=False)


def test_rootless_sockets_are_found_under_run_user(rootless_podman, monkeypatch):
    monkeypatch.delenv("CONTAINER_HOST", raising=False)
    assert rootless_podman.socket in [rt.endpoint for rt in chosen("podman")]


def test_a_rootless_container_is_listed_and_captured_in_netns_mode(rootless, rootless_podman, tmp_path):
    web = rootless("web", "httpd", "-f", "-p", "80", "-h", "/www")
    res = run_cli("containers")
    assert res.returncode == 0, res.stderr
    mine = [l.split() for l in res.stdout.splitlines() if l.startswith(web + " ")]
    assert {row[4] for row in mine} >= {"lo", "tap0"} and {row[1] for row in mine} == {"podman"}, res.stdout

    out = tmp_path / "rootless.pcap"
    proc = CaptureProcess("--container", web, "-w", str(out), "icmp", handles=2)
    rootless_podman.podman("exec", web, "ping", "-c", "3", "-i", "0.2", "-W", "1", "127.0.0.1")
    _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    text = subprocess.run(["tcpdump", "-n", "-r", str(out)], capture_output=True, text=True, timeout=30).stdout
    assert text.count("127.0.0.1 > 127.0.0.1: ICMP echo request") == 3, text


@pytest.mark.parametrize("via", ["veth", "bridge"])
def test_veth_and_bridge_modes_are_refused_with_the_reason(rootless, via):
    box = rootless("box")
    res = run_cli("capture", "--container", box, "--via", via, "-c", "1")
    lines = res.stderr.strip().splitlines()
    assert res.returncode != 0 and len(lines) == 1, res.stderr
    assert lines[0].startswith(f"pcap4py: container {box} has no") and "use --via netns" in lines[0], lines
