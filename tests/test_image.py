"""The bundled image (docker/), run for real: the kaitoy/pcap4j workflow and the sidecar workflow.

The image is built once per session on a Debian base made with debootstrap and
``docker import`` (tests/fixtures/imagelab.py): no registry, no network in the
build.  The fake LAN of the kaitoy/pcap4j workflow is the ``veth`` fixture: ``pcap4py attach``
puts a macvlan on its host end (never on the host's uplink) into the container,
and the "router" namespace at its far end makes the traffic.
"""

from __future__ import annotations

import re
import subprocess
import time
import urllib.request
import uuid

import pytest

from bench.proc import thread_names
from tests.fixtures.cli import run_cli
from tests.fixtures.imagelab import pcap4py_image  # noqa: F401  (session fixture)

pytestmark = pytest.mark.docker

PACKET_HEADER = "[Ethernet Header"
STATS = re.compile(r"^ps_recv: (\d+)\nps_drop: (\d+)\nps_ifdrop: (\d+)$", re.M)


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def run_image(docker_engine, pcap4py_image):  # noqa: F811
    """Start the image detached (``run_image(name, *args, **sdk_kwargs)``); removed after the test."""
    client = docker_engine.client()
    started = []
    tag = uuid.uuid4().hex[:6]

    def run(name: str, *args: str, **kwargs):
        container = client.containers.run(pcap4py_image, list(args), name=f"p4i-{name}-{tag}", detach=True,
                                          **kwargs)
        started.append(container)
        return container

    try:
        yield run
    finally:
        for c in started:
            try:
                c.remove(force=True)
            except Exception:
                pass
        client.close()


def logs(container) -> str:
    return container.logs(stdout=True, stderr=True).decode(errors="replace")


def wait_log(container, needle: str, timeout: float = 60) -> str:
    """Poll the container's log until it contains ``needle``; returns the log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = logs(container)
        if needle in text:
            return text
        container.reload()
        if container.status not in ("created", "running"):
            break
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} not in the log of {container.name} ({container.status}):\n{logs(container)}")


def wait_exit(container, timeout: float = 60) -> int:
    return container.wait(timeout=timeout)["StatusCode"]


def bridge_ip(container) -> str:
    container.reload()
    return container.attrs["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]


# --------------------------------------------------------------------------- the kaitoy/pcap4j workflow


def test_document_000_wait_attach_ping_then_capture(run_image, veth):
    """kaitoy/pcap4j's walk-through: wait mode, attach eth1 to the LAN, ping eth0, capture on eth1."""
    count = 6
    lan_ip = veth.ip(200)
    router = veth.ns  # far end of the fake LAN, at veth.peer_ip
    # a multi-word filter, unquoted: the original image passed only $3 on
    box = run_image("br", "eth1", "true", "icmp", "and", "host", veth.peer_ip,
                    environment={"PCAP4PY_COUNT": str(count), "PCAP4PY_WAIT_TIMEOUT": "120"})
    log = wait_log(box, "waiting for a ping on eth0")
    eth0_ip = bridge_ip(box)
    assert re.search(r"^\d+ NIF\(s\) found: .*\beth0\b", log, re.M)
    assert "eth0 (" in log and f"IP address: {eth0_ip}\n" in log

    attached = run_cli("attach", veth.host_if, box.name, f"{lan_ip}/24")
    assert attached.returncode == 0, attached.stderr
    # the LAN reaches the container's eth1 now, but nothing is captured before the trigger
    assert router.ping(lan_ip, 3).returncode == 0
    time.sleep(0.5)
    box.reload()
    assert box.status == "running"
    assert PACKET_HEADER not in logs(box) and "ps_recv" not in logs(box)

    pinger = None
    try:
        assert subprocess.run(["ping", "-n", "-q", "-c", "1", "-W", "2", eth0_ip], capture_output=True).returncode == 0
        wait_log(box, "triggered by an echo request from", timeout=30)
        # bounded traffic on the fake LAN (40 echoes, 8 s at most) until the capture has its COUNT
        pinger = router.popen("ping", "-n", "-q", "-c", "40", "-i", "0.2", "-w", "20", lan_ip,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        status = wait_exit(box, timeout=60)
    finally:
        if pinger is not None:
            pinger.kill()
            pinger.wait()
    out = logs(box)
    assert status == 0, out
    after = out.split("triggered by an echo request from", 1)[1]
    assert "eth1 (" in after and f"IP address: {lan_ip}\n" in after
    packets = after.split(PACKET_HEADER)[1:]
    assert len(packets) == count, out
    for block in packets:
        assert "(ICMPv4)" in block
        assert f"address: /{veth.peer_ip}" in block and f"address: /{lan_ip}" in block
    # each packet is preceded by its timestamp line
    assert len(re.findall(r"^\d\d:\d\d:\d\d\.\d{6}\n\[Ethernet Header", after, re.M)) == count
    stats = STATS.search(out)
    assert stats, out
    assert out.rstrip().endswith(stats.group(0))
    assert int(stats.group(1)) >= count


# --------------------------------------------------------------------------- the sidecar workflow


def test_document_001_sidecar_writes_pcap_to_a_volume(run_image, dockerlab, tmp_path):
    """A sidecar in the web container's namespace writes a pcap that the host's tcpdump reads."""
    web = dockerlab.httpd("web")
    web_ip = web.ip()
    out = tmp_path / "pcaps"
    out.mkdir()
    out.chmod(0o777)  # the image's user is not root
    count = 10
    sidecar = run_image("sniff", "capture", "eth0", "-c", str(count), "-w", "/out/web.pcap", "tcp", "port", "80",
                        network_mode=f"container:{web.id}", volumes={str(out): {"bind": "/out", "mode": "rw"}})
    wait_log(sidecar, "listening on eth0")
    for _ in range(10):  # each fetch is ~10 TCP packets; stop once the sidecar has its count
        with urllib.request.urlopen(f"http://{web_ip}/index.html", timeout=5) as resp:
            assert resp.status == 200
        sidecar.reload()
        if sidecar.status != "running":
            break
        time.sleep(0.3)
    assert wait_exit(sidecar, timeout=30) == 0, logs(sidecar)
    assert f"{count} packets captured" in logs(sidecar)

    pcap = out / "web.pcap"
    read = subprocess.run(["tcpdump", "-n", "-r", str(pcap)], capture_output=True, text=True, timeout=30)
    assert read.returncode == 0, read.stderr
    lines = read.stdout.splitlines()
    assert len(lines) == count
    assert all(f"{web_ip}.80" in line for line in lines)
    ascii_dump = subprocess.run(["tcpdump", "-n", "-A", "-r", str(pcap)], capture_output=True, text=True).stdout
    assert "GET /index.html HTTP/1.1" in ascii_dump


def test_start_up_to_first_captured_packet(run_image, dockerlab, capsys):
    """From `docker run` to the first packet printed, with traffic already flowing (the figure in docker/README).

    With every capability dropped but NET_RAW: that one is all the image needs.
    """
    talker = dockerlab.run("talker")
    talker.sdk.exec_run(["ping", "-i", "0.2", "-c", "600", talker.gateway()], detach=True)  # 2 min at most
    started = time.monotonic()
    box = run_image("first", "eth0", "false", "icmp", network_mode=f"container:{talker.id}",
                    environment={"PCAP4PY_COUNT": "1"}, cap_drop=["ALL"], cap_add=["NET_RAW"])
    wait_log(box, PACKET_HEADER, timeout=60)
    first_packet = time.monotonic() - started
    assert wait_exit(box, timeout=30) == 0
    with capsys.disabled():
        print(f"\n[image] docker run -> first captured packet: {first_packet:.2f} s")
    assert first_packet < 30


# --------------------------------------------------------------------------- errors and pass-through


@pytest.mark.parametrize("args, message", [
    (("nosuch0", "false"), "pcap4py: no such interface: 'nosuch0'"),
    (("eth0", "false", "tcp", "port", "nope"), "pcap4py: bad filter expression 'tcp port nope'"),
    # in wait mode a bad filter fails at once, not after somebody has pinged
    (("eth1", "true", "tcp", "port", "nope"), "pcap4py: bad filter expression 'tcp port nope'"),
    (("eth0", "maybe"), "'maybe' is not a valid boolean"),
    (("read", "/nonexistent.pcap"), "pcap4py: /nonexistent.pcap: no such file"),
])
def test_bad_arguments_exit_non_zero_with_a_clear_error(run_image, args, message):
    box = run_image("bad", *args)
    status = wait_exit(box, timeout=60)
    out = logs(box)
    assert status != 0, out
    assert message in out
    assert "Traceback" not in out


def test_image_runs_unprivileged_and_passes_subcommands_through(run_image, docker_engine, pcap4py_image):  # noqa: F811
    client = docker_engine.client()
    try:
        config = client.images.get(pcap4py_image).attrs["Config"]
    finally:
        client.close()
    assert config["User"] == "pcap4py"
    assert config["Cmd"] == ["eth0", "false"]
    box = run_image("ifaces", "interfaces")
    assert wait_exit(box, timeout=60) == 0, logs(box)
    listed = logs(box)
    assert re.search(r"^\d+\.eth0 \[Up, Running\] ", listed, re.M), listed
    assert re.search(r"^\d+\.lo \[", listed, re.M), listed



def test_without_net_raw_the_image_says_why(run_image):
    box = run_image("nonetraw", "eth0", "false", cap_drop=["NET_RAW"])
    assert wait_exit(box, timeout=60) == 2
    assert "pcap4py: this container lacks CAP_NET_RAW" in logs(box)


# --------------------------------------------------------------------------- hardened runs and footprint


@pytest.mark.parametrize("hardening", ["read-only", "read-only, noexec tmpfs"])
def test_a_hardened_container_captures(run_image, dockerlab, hardening):
    """`--read-only` (no writable temporary folder at all) and `--read-only --tmpfs /tmp` (a
    noexec one): JNA's library is mapped from the image, the JVM's messages go to memory."""
    talker = dockerlab.run("rotalk")
    talker.sdk.exec_run(["ping", "-i", "0.2", "-c", "300", talker.gateway()], detach=True)  # 1 min at most
    extra = {"tmpfs": {"/tmp": "rw,noexec,nosuid,size=16m"}} if "tmpfs" in hardening else {}
    box = run_image("ro", "capture", "eth0", "-c", "2", "icmp", read_only=True,
                    network_mode=f"container:{talker.id}", **extra)
    status = wait_exit(box, timeout=90)
    out = logs(box)
    assert status == 0, out
    assert "2 packets captured" in out
    assert "Traceback" not in out and "UnsatisfiedLinkError" not in out and "temporary" not in out


def test_a_sidecar_starts_fast_and_stays_small(run_image, dockerlab, capsys):
    """The sidecar workflow: the class-data archive baked into the image is mapped, and the
    capture's resident memory is read from the host while it runs."""
    talker = dockerlab.run("smalltalk")
    talker.sdk.exec_run(["ping", "-i", "0.05", "-c", "1200", talker.gateway()], detach=True)  # 1 min at most
    box = run_image("sidecar", "capture", "eth0", "icmp", network_mode=f"container:{talker.id}")
    wait_log(box, "ICMP", timeout=60)
    time.sleep(3)  # a few hundred packets through it
    box.reload()
    pid = box.attrs["State"]["Pid"]
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f)
    with open(f"/proc/{pid}/maps") as f:
        archive = any(line.rstrip().endswith(".jsa") for line in f)
    threads = thread_names(pid)
    peak_mb = int(status["VmHWM"].split()[0]) / 1024
    with capsys.disabled():
        print(f"\n[image] sidecar peak RSS: {peak_mb:.0f} MB, archive mapped: {archive}")
    assert archive
    # the image's small footprint (PCAP4PY_FOOTPRINT=small): C1 only, even for an open-ended capture
    assert "C1 CompilerThre" in threads and "C2 CompilerThre" not in threads, threads
    assert peak_mb < 72  # ~64 MB measured (72 with C2 and a 4 MiB ring, 105 before the batch sizes changed)
