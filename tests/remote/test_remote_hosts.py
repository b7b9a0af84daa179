"""``capture --host``: containers on another Docker Engine, captured by a sidecar there and merged.

The other engine is real and remote in every way that matters here (tests/fixtures/remotelab.py):
its own daemon, data root and containerd, in a network namespace of its own, reached over a veth
pair by TCP with TLS (client certificates) and by ssh.  It starts without pcap4py's image, which
the first capture loads there from the local engine.  tshark reads every file written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.fixtures.cli import run_cli, start_cli, wait_output
from tests.fixtures.imagelab import IMAGE_TAG, pcap4py_image  # noqa: F401  (session fixture)
from tests.fixtures.remotelab import REMOTE_IP, remote_engine, remotelab  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PINGS = 400  # bounded: 0.1 s apart, 40 s at most


def _fields(path, *fields: str, filter: str = "") -> list[list[str]]:
    cmd = ["tshark", "-r", str(path), "-T", "fields", *sum((["-e", f] for f in fields), [])]
    out = subprocess.run(cmd + (["-Y", filter] if filter else []), capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def _pinger(lab, name: str = "ping") -> tuple:
    """A web container and a container pinging it (bounded), on the remote engine."""
    web = lab.run(f"{name}web", "httpd", "-f", "-p", "80", "-h", "/www")
    ip = web.attrs["NetworkSettings"]["IPAddress"]
    client = lab.run(f"{name}cli", "ping", "-c", str(PINGS), "-i", "0.1", ip)
    return web, client


def _capture(engine, *args: str, via: str = "tcp", timeout: float = 240) -> subprocess.CompletedProcess:
    host = ["--host", engine.tcp_url, *engine.tls_args] if via == "tcp" else ["--host", engine.ssh_url]
    return run_cli("capture", *host, "--image", IMAGE_TAG, *args, timeout=timeout,
                   env=engine.ssh_env if via == "ssh" else None)


def test_a_missing_image_is_loaded_then_the_container_is_captured_over_tls(remotelab, pcap4py_image, tmp_path):
    client = remotelab.client
    try:
        client.images.remove(IMAGE_TAG, force=True)  # the engine may have it from an earlier test
    except Exception:
        pass
    web, _ = _pinger(remotelab)
    path = tmp_path / "web.pcapng"
    res = _capture(remotelab.engine, "--container", web.name, "-c", "20", "-w", str(path), "icmp")
    assert res.returncode == 0, res.stderr
    said = [line for line in res.stderr.splitlines() if "has no image" in line]
    assert said == [f"pcap4py: host {REMOTE_IP} has no image {IMAGE_TAG}: loading it there from the local "
                    f"engine ({said[0].split('(')[1].split(' MB')[0]} MB, no registry)"], res.stderr
    assert client.images.get(IMAGE_TAG)
    rows = _fields(path, "frame.interface_name", "frame.interface_description", "frame.packet_flags_direction",
                   "icmp.type")
    assert len(rows) == 20, res.stderr
    assert {r[0] for r in rows} == {f"{REMOTE_IP}/{web.name}/eth0"}
    assert all(f"container {web.name} (id {web.id[:12]}) on host {REMOTE_IP}" in r[1] for r in rows)
    # the web container's point of view: requests come in, replies go out
    assert {(r[3], int(r[2], 16)) for r in rows} == {("8", 1), ("0", 2)}, rows  # 1 inbound, 2 outbound
    assert "20 packets captured" in res.stderr
    assert remotelab.sidecars() == []


def test_ssh_host_json_lines_and_the_sidecar_removed(remotelab, pcap4py_image):
    web, _ = _pinger(remotelab, "s")
    res = _capture(remotelab.engine, "--container", web.name, "-c", "6", "--format", "jsonl", "icmp", via="ssh")
    assert res.returncode == 0, res.stderr
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(records) == 6, res.stdout + res.stderr
    assert {r["interface"] for r in records} == {f"{REMOTE_IP}/{web.name}/eth0"}, records[0]
    assert remotelab.sidecars() == []


def test_sigterm_mid_capture_leaves_a_valid_file_and_no_sidecar(remotelab, pcap4py_image, tmp_path):
    web, _ = _pinger(remotelab, "t")
    path = tmp_path / "t.pcapng"
    e = remotelab.engine
    proc = start_cli("capture", "--host", e.tcp_url, *e.tls_args, "--image", IMAGE_TAG, "--container", web.name,
                     "-w", str(path), "icmp")
    try:
        seen = wait_output(proc, "+ container", timeout=120)
        (sidecar,) = remotelab.sidecars()
        # the stream is not kept in the host's logs too (the engine spent half a core on that)
        assert sidecar.attrs["HostConfig"]["LogConfig"]["Type"] == "none"
        time.sleep(2.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = seen + err.decode(errors="replace")
    assert proc.returncode == 0, err
    rows = _fields(path, "frame.interface_name")
    captured = int(next(line for line in err.splitlines() if line.endswith("packets captured")).split()[0])
    assert len(rows) == captured > 0, err
    assert remotelab.sidecars() == []


def test_two_hosts_merged_in_time_order(remotelab, dockerlab, pcap4py_image, tmp_path):
    remote_web, _ = _pinger(remotelab, "m")
    local_web = dockerlab.httpd("lweb")
    local_ping = dockerlab.run("lping", "ping", "-c", str(PINGS), "-i", "0.1", local_web.ip())
    path = tmp_path / "two.pcapng"
    res = _capture(remotelab.engine, "--host", os.environ["DOCKER_HOST"], "--container", remote_web.name,
                   "--container", local_web.name, "-c", "40", "-w", str(path), "icmp")
    # each host lacks the other's container: one line each, and the capture goes on
    assert res.returncode == 0, res.stderr
    missing = [line for line in res.stderr.splitlines() if "no such container" in line]
    assert sorted(missing) == sorted([f"pcap4py: host {REMOTE_IP}: no such container {local_web.name}",
                                      f"pcap4py: host local: no such container {remote_web.name}"]), res.stderr
    rows = _fields(path, "frame.time_epoch", "frame.interface_name")
    assert len(rows) == 40
    names = {r[1] for r in rows}
    assert names == {f"{REMOTE_IP}/{remote_web.name}/eth0", f"local/{local_web.name}/eth0"}, names
    times = [float(r[0]) for r in rows]
    assert times == sorted(times)
    assert local_ping  # kept running for the capture


def test_an_unreachable_host_is_one_line_and_the_others_go_on(remotelab, pcap4py_image):
    web, _ = _pinger(remotelab, "u")
    bad = "tcp://198.18.120.1:1"
    res = _capture(remotelab.engine, "--host", bad, "--container", web.name, "-c", "4", "icmp")
    assert res.returncode == 0, res.stderr
    lines = [line for line in res.stderr.splitlines() if "198.18.120.1" in line]
    assert len(lines) == 1 and lines[0].startswith("pcap4py: host 198.18.120.1 (tcp://198.18.120.1:1): "
                                                   "its Docker Engine does not answer: "), res.stderr
    assert "Traceback" not in res.stderr
    alone = run_cli("capture", "--host", bad, "--container", web.name, "-c", "4", timeout=60)
    assert alone.returncode == 1, alone.stderr
    assert alone.stderr.splitlines()[-1] == "pcap4py: no container to capture on 198.18.120.1", alone.stderr


def test_a_docker_context_names_the_host_and_its_tls(remotelab, pcap4py_image, tmp_path):
    import hashlib
    import shutil

    web, _ = _pinger(remotelab, "c")
    digest = hashlib.sha256(b"p4-remote").hexdigest()
    meta = tmp_path / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    meta.joinpath("meta.json").write_text(json.dumps(
        {"Name": "p4-remote", "Metadata": {}, "Endpoints": {"docker": {"Host": remotelab.engine.tcp_url,
                                                                      "SkipTLSVerify": False}}}))
    tls = tmp_path / "contexts" / "tls" / digest / "docker"
    tls.mkdir(parents=True)
    for f in ("ca.pem", "cert.pem", "key.pem"):
        shutil.copy(remotelab.engine.lab / "tls" / f, tls / f)
    env = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "p4-remote"}
    res = run_cli("capture", "--image", IMAGE_TAG, "--container", web.name, "-c", "4", "icmp", timeout=240, env=env)
    assert res.returncode == 0, res.stderr
    assert f"pcap4py: capturing 1 container (p4-remote/{web.name})" in res.stderr
    assert f"p4-remote/{web.name}/eth0" in res.stdout, res.stdout
    assert len(res.stdout.splitlines()) == 4
    assert remotelab.sidecars() == []


def test_the_image_archive_is_loaded_on_a_host_without_the_image(remotelab, pcap4py_image, tmp_path):
    import docker

    local = docker.from_env()
    try:
        archive = tmp_path / "image.tar"
        with open(archive, "wb") as f:
            for chunk in local.api.get_image(IMAGE_TAG):
                f.write(chunk)
    finally:
        local.close()
    try:
        remotelab.client.images.remove(IMAGE_TAG, force=True)
    except Exception:
        pass
    web, _ = _pinger(remotelab, "a")
    res = _capture(remotelab.engine, "--container", web.name, "-c", "4", "--image-archive", str(archive), "icmp")
    assert res.returncode == 0, res.stderr
    assert f"pcap4py: host {REMOTE_IP} has no image {IMAGE_TAG}: loading it there from {archive}" in res.stderr
    assert len(res.stdout.splitlines()) == 4, res.stdout
    missing = run_cli("capture", "--host", remotelab.engine.tcp_url, *remotelab.engine.tls_args, "--image", "p4-none:x",
                      "--container", web.name, "-c", "1", "--image-archive", str(tmp_path / "nope.tar"), timeout=60)
    assert missing.returncode == 1, missing.stderr
    assert f"pcap4py: cannot read the image archive {tmp_path / 'nope.tar'}: No such file or directory" in missing.stderr


@pytest.mark.parametrize("via", ["tcp", "ssh"])
def test_follow_adds_containers_that_start_and_lets_go_of_ones_that_stop(remotelab, pcap4py_image, tmp_path, via):
    e = remotelab.engine
    label = f"app=f{remotelab.tag}"
    gateway = f"198.19.{e.octet}.1"  # the remote engine's bridge answers pings
    path = tmp_path / "f.pcapng"
    host = ["--host", e.tcp_url, *e.tls_args] if via == "tcp" else ["--host", e.ssh_url]
    proc = start_cli("capture", *host, "--image", IMAGE_TAG, "--label", label, "--follow", "-w", str(path), "icmp",
                     env=e.ssh_env if via == "ssh" else None)
    try:
        # the image is made ready, no container yet
        err = wait_output(proc, f"no container to capture yet: following {REMOTE_IP}", timeout=180)
        pinger = dict(labels={"app": label.split("=")[1]})
        first = remotelab.run("f1", "ping", "-c", str(PINGS), "-i", "0.1", gateway, **pinger)
        err += wait_output(proc, f"+ container {REMOTE_IP}/{first.name} ", timeout=120)
        time.sleep(3.0)  # its packets
        second = remotelab.run("f2", "ping", "-c", str(PINGS), "-i", "0.1", gateway, **pinger)
        err += wait_output(proc, f"+ container {REMOTE_IP}/{second.name} ", timeout=120)
        time.sleep(3.0)
        first.stop(timeout=1)
        err += wait_output(proc, f"- container {REMOTE_IP}/{first.name} stopped", timeout=60)
        assert len(remotelab.sidecars()) <= 2  # the first one's is going: never a sidecar of a sidecar
        time.sleep(2.0)
        proc.send_signal(signal.SIGTERM)
        asked = time.monotonic()
        _, rest = proc.communicate(timeout=90)
        took = time.monotonic() - asked
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err += rest.decode(errors="replace")
    assert proc.returncode == 0, err
    assert took < 7, f"{took:.1f} s from SIGTERM to the end"  # the event streams close at once (ssh too)
    lines = [line for line in err.splitlines() if line.startswith(("pcap4py: +", "pcap4py: -"))]
    assert [line.split(" (")[0].split(" through")[0] for line in lines] == [
        f"pcap4py: + container {REMOTE_IP}/{first.name}", f"pcap4py: + container {REMOTE_IP}/{second.name}",
        f"pcap4py: - container {REMOTE_IP}/{first.name} stopped"], err
    assert "warning" not in err and "Traceback" not in err, err
    rows = _fields(path, "frame.interface_name", "icmp.type")
    names = {r[0] for r in rows}
    assert {f"{REMOTE_IP}/{first.name}/eth0", f"{REMOTE_IP}/{second.name}/eth0"} <= names, names
    captured = int(next(line for line in err.splitlines() if line.endswith("packets captured")).split()[0])
    assert len(rows) == captured, err
    assert remotelab.sidecars() == []
