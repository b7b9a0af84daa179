"""Several containers in one capture: by name and by label, containers joining (--follow) and leaving.

Real containers on the test session's dockerd; each test labels its own containers with its lab's
tag (``p4t.multi=<tag>``), so other tests' containers on the shared daemon are never selected.
Files are read back by real tshark.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest

import pcap4py
from tests.fixtures.cli import run_cli
from tests.fixtures.dockerlab import INDEX_HTML
from tests.container.test_container_capture import CaptureProcess
from tests.sinks.test_pcapng import tshark

pytestmark = pytest.mark.docker

LABEL = "p4t.multi"


def labelled(lab, name: str, *cmd: str, value: str = "") -> object:
    return lab.run(name, *cmd, labels={LABEL: value or lab.tag})


def label_of(lab) -> str:
    return f"{LABEL}={lab.tag}"


def fetch_and_ping(client, web) -> None:
    assert client.fetch(f"http://{web.ip()}/").encode() == INDEX_HTML
    code, out = client.exec("ping", "-c", "2", "-i", "0.2", "-W", "1", web.ip())
    assert code == 0, out


def frames(path) -> list[tuple[str, str, float]]:
    """(interface name, protocols, time) of each frame of the file, as tshark reads it."""
    return [(row[0], row[1], float(row[2]))
            for row in tshark(path, "frame.interface_name", "frame.protocols", "frame.time_epoch")]


def on(rows, iface: str, proto: str) -> list:
    return [r for r in rows if r[0] == iface and proto in r[1].split(":")]


def wait_err(proc: CaptureProcess, needle: str, timeout: float = 30) -> None:
    proc.wait_for(lambda: any(needle in line for line in proc.err), repr(needle), timeout)


# --------------------------------------------------------------------------- two containers, one file


def test_two_containers_in_netns_mode_to_pcapng_name_both_interfaces(dockerlab, tmp_path):
    web = dockerlab.httpd()
    client = dockerlab.run("client")
    out = tmp_path / "two.pcapng"
    proc = CaptureProcess("--container", web.name, "--container", client.name, "-w", str(out), handles=4)
    fetch_and_ping(client, web)
    code, text = client.exec("ping", "-c", "1", "-W", "1", "127.0.0.1")
    assert code == 0, text
    _, err = proc.stop()  # SIGINT: the file must be whole
    assert proc.proc.returncode == 0, err
    rows = frames(out)
    for who in (web, client):
        assert on(rows, f"{who.name}/eth0", "http"), (who.name, sorted({r[0] for r in rows}))
        assert on(rows, f"{who.name}/eth0", "icmp")
    assert on(rows, f"{client.name}/lo", "icmp")
    names = {line[0] for line in tshark(out, "frame.interface_name")}
    assert names <= {f"{w.name}/{i}" for w in (web, client) for i in ("eth0", "lo")}


def test_label_selection_takes_exactly_the_labelled_containers(dockerlab):
    a = labelled(dockerlab, "a")
    b = labelled(dockerlab, "b")
    other = labelled(dockerlab, "other", value="not-" + dockerlab.tag)
    dockerlab.run("plain")
    service = dockerlab.run("svc", labels={"com.docker.compose.service": f"svc-{dockerlab.tag}"})
    with pcap4py.open_containers(labels=[label_of(dockerlab)]) as cap:
        assert {s.display_name for s in cap.sources} == {f"{c.name}/{i}" for c in (a, b) for i in ("eth0", "lo")}
        assert other.name not in {c.name for c in cap.follower.containers}
    with pcap4py.open_containers(labels=[LABEL]) as cap:  # KEY alone: any value
        assert {c.name for c in cap.follower.containers} >= {a.name, b.name, other.name}
    with pcap4py.open_containers(compose_service=f"svc-{dockerlab.tag}") as cap:
        assert [c.name for c in cap.follower.containers] == [service.name]
    with pytest.raises(pcap4py.ContainerNotFound, match="no running container matches"):
        pcap4py.open_containers(labels=[f"{LABEL}=nothing-{dockerlab.tag}"])


def test_each_container_has_its_own_point_of_view(dockerlab):
    """web's reply is 'out' on web/eth0 and 'in' on client/eth0: one view per container."""
    web = labelled(dockerlab, "web", "httpd", "-f", "-p", "80", "-h", "/www")
    client = labelled(dockerlab, "client")
    cap = pcap4py.open_containers(labels=[label_of(dockerlab)])
    timer = threading.Timer(2.5, cap.stop)
    timer.start()
    fetch_and_ping(client, web)
    try:
        pkts = [p for p, _ in zip(cap, range(2000))]
    finally:
        timer.cancel()
        cap.close()
    replies = [p for p in pkts if p.proto == "ICMP" and p.icmp_type == 0]
    by_iface = {(p.source.display_name, p.direction) for p in replies}
    assert (f"{web.name}/eth0", "out") in by_iface and (f"{client.name}/eth0", "in") in by_iface, by_iface


# --------------------------------------------------------------------------- following


def test_follow_adds_a_started_container_and_outlives_a_stopped_one(dockerlab, tmp_path):
    web = labelled(dockerlab, "web", "httpd", "-f", "-p", "80", "-h", "/www")
    leaving = labelled(dockerlab, "leaving")
    out = tmp_path / "follow.pcapng"
    proc = CaptureProcess("--label", label_of(dockerlab), "--follow", "-w", str(out), handles=4)
    fetch_and_ping(leaving, web)

    late = labelled(dockerlab, "late")
    wait_err(proc, f"pcap4py: + container {late.name} (")
    joined = next(l for l in proc.err if f"+ container {late.name}" in l)
    assert sorted(joined.strip().rsplit("(", 1)[1].rstrip(")").split(", ")) == ["eth0", "lo"], joined
    fetch_and_ping(late, web)

    leaving.sdk.kill()  # sleep as PID 1 ignores SIGTERM: kill it
    wait_err(proc, f"pcap4py: - container {leaving.name} stopped")
    stopped_at = time.time()
    fetch_and_ping(late, web)  # the capture goes on for the others
    _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    assert not [l for l in err.splitlines() if "error" in l.lower() or "failed" in l.lower()], err

    rows = frames(out)
    assert on(rows, f"{late.name}/eth0", "http"), sorted({r[0] for r in rows})
    assert [r for r in on(rows, f"{late.name}/eth0", "http") if r[2] > stopped_at]
    assert [r for r in on(rows, f"{web.name}/eth0", "http") if r[2] > stopped_at]
    assert on(rows, f"{leaving.name}/eth0", "http")
    assert all(r[2] <= stopped_at for r in rows if r[0].startswith(leaving.name + "/"))
    # the late container's interface block comes after packets: tshark names its frames, tcpdump-free
    described = {line[0] for line in tshark(out, "frame.interface_name")}
    assert f"{late.name}/eth0" in described


def test_follow_with_no_match_waits_for_one(dockerlab, tmp_path):
    out = tmp_path / "wait.pcapng"
    proc = CaptureProcess("--label", label_of(dockerlab), "--follow", "--pcapng", "-w", str(out), handles=0)
    wait_err(proc, "waiting for a container matching")
    first = labelled(dockerlab, "first")
    wait_err(proc, f"+ container {first.name}")
    code, text = first.exec("ping", "-c", "2", "-i", "0.2", "-W", "1", "127.0.0.1")
    assert code == 0, text
    _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    assert on(frames(out), f"{first.name}/lo", "icmp")


def test_text_output_names_the_container(dockerlab):
    web = labelled(dockerlab, "web", "httpd", "-f", "-p", "80", "-h", "/www")
    client = labelled(dockerlab, "client")
    proc = CaptureProcess("--label", label_of(dockerlab), "icmp", handles=4)
    fetch_and_ping(client, web)
    text, err = proc.stop()
    assert proc.proc.returncode == 0, err
    lines = text.splitlines()
    assert any(f" {web.name}/eth0 " in l and "ICMP echo" in l for l in lines), text
    assert any(f" {client.name}/eth0 " in l and "ICMP echo" in l for l in lines), text


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("args, words", [
    (("--label", "=x"), "bad label"),
    (("--label", ""), "bad label"),
    (("--container", "a", "--all-containers"), "exclude each other"),
    (("--follow",), "--follow needs a container selection"),
])
def test_bad_selections_are_usage_errors(dockerlab, args, words):
    res = run_cli("capture", *args, "-c", "1")
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pcap4py: ") and words in lines[0], res.stderr
    assert res.stdout == ""


def test_no_match_without_follow_is_one_line(dockerlab):
    res = run_cli("capture", "--label", f"{LABEL}=nothing-{dockerlab.tag}", "-c", "1")
    lines = res.stderr.strip().splitlines()
    assert res.returncode != 0 and len(lines) == 1, res.stderr
    assert lines[0].startswith("pcap4py: no running container matches label"), lines
