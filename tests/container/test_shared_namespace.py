"""Containers that share one network namespace are captured once; Compose services across projects.

Real containers on the test session's dockerd (``docker run --network container:X``), files read
back by tshark and tcpdump.  Each test labels its own containers with its lab's tag.
"""

from __future__ import annotations

import pytest

import pcap4py

from tests.fixtures.cli import run_cli
from tests.container.test_container_capture import CaptureProcess
from tests.container.test_multi import LABEL, frames, label_of, labelled, on
from tests.sinks.test_pcapng import tcpdump_count, tshark

pytestmark = pytest.mark.docker


def _ping(client, ip: str, n: int) -> None:
    code, out = client.exec("ping", "-c", str(n), "-i", "0.2", "-W", "1", ip)
    assert code == 0, out


def test_two_selected_containers_in_one_namespace_are_one_capture_named_after_both(dockerlab, tmp_path):
    web = labelled(dockerlab, "web", "httpd", "-f", "-p", "80", "-h", "/www")
    side = dockerlab.run("side", network=f"container:{web.id}", labels={LABEL: dockerlab.tag})
    client = dockerlab.run("client")  # not labelled: it pings the shared namespace
    out = tmp_path / "shared.pcapng"
    proc = CaptureProcess("--label", label_of(dockerlab), "-w", str(out), handles=2)
    _ping(client, web.ip(), 3)
    _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    shared = f"{web.name}+{side.name}"
    rows = frames(out)
    assert {r[0] for r in rows} <= {f"{shared}/eth0", f"{shared}/lo"}, sorted({r[0] for r in rows})
    requests = tshark(out, "frame.interface_name", display_filter="icmp.type == 8")
    assert len(requests) == 3, requests  # each packet once, not once per container
    assert tcpdump_count(out) == len(rows)
    (about,) = {r[0] for r in tshark(out, "frame.interface_description", display_filter="icmp")}
    assert web.name in about and side.name in about and "docker" in about, about


def test_text_lines_name_the_shared_namespace_once_per_packet(dockerlab):
    """Lines name sources by label when two namespaces each have an eth0: the shared one by both names."""
    web = labelled(dockerlab, "web", "httpd", "-f", "-p", "80", "-h", "/www")
    side = dockerlab.run("side", network=f"container:{web.id}", labels={LABEL: dockerlab.tag})
    client = labelled(dockerlab, "client")
    proc = CaptureProcess("--label", label_of(dockerlab), "icmp", handles=4)
    _ping(client, web.ip(), 2)
    text, err = proc.stop()
    assert proc.proc.returncode == 0, err
    requests = [l for l in text.splitlines() if "ICMP echo request" in l and " In " in l]
    assert len(requests) == 2, text  # received once by the shared namespace, not once per container
    assert all(f" {web.name}+{side.name}/eth0 " in l for l in requests), text
    sent = [l for l in text.splitlines() if "ICMP echo request" in l and " Out " in l]
    assert len(sent) == 2 and all(f" {client.name}/eth0 " in l for l in sent), text


def test_a_container_joining_a_captured_namespace_is_not_captured_twice(dockerlab, tmp_path):
    web = labelled(dockerlab, "web", "httpd", "-f", "-p", "80", "-h", "/www")
    client = dockerlab.run("client")
    out = tmp_path / "joined.pcapng"
    proc = CaptureProcess("--label", label_of(dockerlab), "--follow", "-w", str(out), handles=2)
    side = dockerlab.run("side", network=f"container:{web.id}", labels={LABEL: dockerlab.tag})
    proc.wait_for(lambda: any(f"+ container {side.name} (shares the network namespace of {web.name}" in l
                              for l in proc.err), "the join line")
    _ping(client, web.ip(), 3)
    side.sdk.kill()
    proc.wait_for(lambda: any(f"- container {side.name} stopped (its network namespace stays" in l
                              for l in proc.err), "the leave line")
    _ping(client, web.ip(), 2)
    _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    requests = tshark(out, "frame.interface_name", display_filter="icmp.type == 8")
    assert [r[0] for r in requests] == [f"{web.name}/eth0"] * 5, requests


# --------------------------------------------------------------------------- Compose projects


def _compose(lab, name: str, service: str, project: str):
    return lab.run(name, labels={"com.docker.compose.service": service, "com.docker.compose.project": project})


def test_a_compose_service_in_two_projects_says_so_and_compose_project_picks_one(dockerlab):
    service = f"api-{dockerlab.tag}"
    one = _compose(dockerlab, "api1", service, f"one-{dockerlab.tag}")
    two = _compose(dockerlab, "api2", service, f"two-{dockerlab.tag}")
    proc = CaptureProcess("--compose-service", service, handles=4)
    _, err = proc.stop(linger=0.2)
    warning = [l for l in err.splitlines() if "is in 2 projects" in l]
    assert warning and f"one-{dockerlab.tag}, two-{dockerlab.tag}" in warning[0] and "--compose-project" in warning[0], err
    assert f"{one.name}/eth0" in err and f"{two.name}/eth0" in err

    proc = CaptureProcess("--compose-service", service, "--compose-project", f"two-{dockerlab.tag}", handles=2)
    _, err = proc.stop(linger=0.2)
    assert proc.proc.returncode == 0 and "projects" not in err, err
    with pcap4py.open_containers(compose_service=service, compose_project=f"two-{dockerlab.tag}") as cap:
        assert [c.name for c in cap.follower.containers] == [two.name]


def test_an_empty_compose_project_is_a_usage_error(dockerlab):
    res = run_cli("capture", "--compose-project", "", "-c", "1")
    assert res.returncode == 2 and res.stderr.startswith("pcap4py: empty Compose project name"), res.stderr
