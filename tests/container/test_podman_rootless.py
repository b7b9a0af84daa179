"""Rootless Podman, captured as root (found under /run/user/UID/podman/, captured in netns mode)
and as the user who owns it, without root (their socket from XDG_RUNTIME_DIR, their container's
user namespace joined before the JVM starts).

A throw-away user's own Podman service (tests/fixtures/rootlesslab.py); as root pcap4py is pointed
at that socket (``CONTAINER_HOST``) except in the discovery test, which only builds the list of
runtimes to ask (no connection).  Packets are read back by tcpdump and tshark.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid

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


# the slirp4netns gateway of the lab's containers (rootlesslab's cidr 198.18.255.0/24): it answers pings
SLIRP_GATEWAY = "198.18.255.2"


@pytest.fixture
def owner_cwd(rootless_podman):
    """A folder of the rootless user's own, their working directory for the CLI."""
    cwd = rootless_podman.home / f"out-{uuid.uuid4().hex[:6]}"
    cwd.mkdir()
    os.chown(cwd, rootless_podman.uid, -1)
    yield cwd
    shutil.rmtree(cwd, ignore_errors=True)


def _as_owner(lab, cwd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(lab.cli_command(*args), cwd=cwd, capture_output=True, text=True, timeout=120)


def _capture_as_owner(lab, cwd, *args: str, handles: int) -> tuple[subprocess.Popen, list[str]]:
    """The capture started as the user, once it listens on ``handles`` interfaces."""
    proc = subprocess.Popen(lab.cli_command("capture", *args), cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    err: list[str] = []
    threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True).start()
    deadline = time.monotonic() + 60
    while sum("listening on" in line for line in err) < handles:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait(10)
            raise AssertionError(f"the capture as {lab.user} did not start ({proc.returncode}): {''.join(err)}")
        time.sleep(0.05)
    return proc, err


def test_the_owner_lists_and_captures_a_rootless_container_without_root(rootless, rootless_podman, owner_cwd):
    web = rootless("own", "httpd", "-f", "-p", "80", "-h", "/www")
    res = _as_owner(rootless_podman, owner_cwd, "containers")
    assert res.returncode == 0, res.stderr
    mine = [line.split() for line in res.stdout.splitlines() if line.startswith(web + " ")]
    assert {row[4] for row in mine} >= {"lo", "tap0"} and {row[1] for row in mine} == {"podman"}, res.stdout

    proc, err = _capture_as_owner(rootless_podman, owner_cwd, "--container", web, "-c", "4", "-w", "own.pcapng",
                                  "icmp", handles=2)
    try:  # two requests and two replies, on the container's tap0
        rootless_podman.podman("exec", web, "ping", "-c", "2", "-i", "0.2", "-W", "1", SLIRP_GATEWAY)
        assert proc.wait(30) == 0, "".join(err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    out = owner_cwd / "own.pcapng"
    assert out.stat().st_uid == rootless_podman.uid, "the file is the user's, not root's or a subordinate uid's"
    text = subprocess.run(["tshark", "-r", str(out), "-T", "fields", "-e", "frame.interface_name", "-e", "icmp.type"],
                          capture_output=True, text=True, timeout=60).stdout.split("\n")
    rows = [line.split("\t") for line in text if line]
    assert rows == [[f"{web}/tap0", "8"], [f"{web}/tap0", "0"]] * 2, text
    readable = _as_owner(rootless_podman, owner_cwd, "read", "own.pcapng")
    assert readable.returncode == 0 and readable.stdout.count("ICMP echo") == 4, readable.stderr


def test_without_root_what_the_user_does_not_own_is_refused_in_one_line(rootless, rootless_podman, owner_cwd):
    box = rootless("mine")
    netns = f"p4t-rl-{uuid.uuid4().hex[:6]}"  # the host's user namespace's, not the user's
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        res = _as_owner(rootless_podman, owner_cwd, "capture", "--netns", netns, "-c", "1")
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=True)
    assert res.returncode == 2 and res.stderr == (
        f"pcap4py: no permission to enter network namespace /run/netns/{netns}: CAP_SYS_ADMIN is missing "
        f"(run as root; a rootless container: as the user who owns it)\n"), res.stderr

    res = _as_owner(rootless_podman, owner_cwd, "capture", "lo", "-c", "1")
    assert res.returncode == 2 and res.stderr.startswith("pcap4py: no permission to capture on lo: CAP_NET_RAW is missing"), \
        res.stderr
    res = _as_owner(rootless_podman, owner_cwd, "capture", "--container", box, "--via", "veth", "-c", "1")
    assert res.returncode != 0 and len(res.stderr.splitlines()) == 1, res.stderr
    assert res.stderr.startswith(f"pcap4py: container {box} has no host-side veth peer") and "use --via netns" in res.stderr


def test_a_program_whose_jvm_runs_already_is_told_to_capture_first(rootless, rootless_podman, owner_cwd):
    """The JVM's threads keep a process out of a user namespace: the owner's program that started
    it before asking for a rootless container gets one clear error, not a half-entered capture."""
    box = rootless("late")
    script = ("import pcap4py\nfrom pcap4py.engine import jvm\njvm.start()\n"
              f"try:\n    pcap4py.open_container({box!r})\n"
              "except pcap4py.Pcap4pyError as e:\n    print(type(e).__name__, e)\n")
    res = subprocess.run(rootless_podman.python_command("-c", script), cwd=owner_cwd, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"Pcap4pyError cannot enter the user namespace of /proc/"), res.stdout
    assert "threads (the JVM is running?)" in res.stdout and "capture rootless containers before" in res.stdout
