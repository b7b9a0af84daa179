"""nerdctl's containers through containerd's own API (the ``containerd`` backend): listing,
--container, --label, the clean end on stop, --follow.

Every test runs on the session's private containerd with nerdctl built from the module proxy
(tests/fixtures/nerdctllab.py) and points pcap4py at that containerd alone
(``PCAP4PY_RUNTIME=containerd``, ``CONTAINERD_ADDRESS``).  The HTTP exchanges go from the host to
the container's address over nerdctl's bridge; packets are read back by tcpdump and tshark.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import pcap4py
from tests.fixtures.cli import run_cli
from tests.fixtures.nerdctllab import NETWORK
from tests.container.test_container_capture import CaptureProcess
from tests.sinks.test_pcapng import tshark

pytestmark = pytest.mark.cri


def _get(ip: str) -> None:
    proc = subprocess.run(["curl", "-s", "--max-time", "5", f"http://{ip}/"], capture_output=True, text=True,
                          timeout=15)
    assert "hello from the pcap4py test httpd" in proc.stdout, proc.stderr


def _http(path) -> list[str]:
    return [r[0] for r in tshark(path, "frame.interface_name", display_filter="http")]


def test_containers_lists_a_nerdctl_container_naming_the_runtime(nerdctllab):
    web = nerdctllab.run("nweb", labels={"tier": "nerd"})
    c = pcap4py.get_container(web)
    eth0 = c.interface("eth0")
    assert (c.runtime, c.name, c.pid) == ("containerd", web, nerdctllab.pid(web))
    assert nerdctllab.ip(web) in eth0.ips
    assert eth0.host_bridge == os.path.basename(os.readlink(f"/sys/class/net/{eth0.host_peer}/master"))
    (net,) = c.networks
    assert (net.name, net.ip, net.interface, net.bridge) == (NETWORK, nerdctllab.ip(web), "eth0", eth0.host_bridge)

    res = run_cli("containers")
    assert res.returncode == 0, res.stderr
    line = next(l for l in res.stdout.splitlines() if l.startswith(web + " ") and " eth0 " in l)
    assert line.split()[1] == "containerd" and line.split()[-1] == eth0.host_bridge, line
    (mine,) = [d for d in json.loads(run_cli("containers", "--json").stdout) if d["name"] == web]
    assert mine["runtime"] == "containerd"


def test_container_captures_its_http_exchange(nerdctllab, tmp_path):
    web = nerdctllab.run("nweb")
    out = tmp_path / "web.pcapng"
    proc = CaptureProcess("--container", web, "-w", str(out), "tcp port 80", handles=2)
    _get(nerdctllab.ip(web))
    _get(nerdctllab.ip(web))
    _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    rows = tshark(out, "http.response.code", "frame.interface_description", display_filter="http.response")
    assert [r[0] for r in rows] == ["200", "200"] and "containerd container" in rows[0][1], rows


def test_label_selects(nerdctllab, tmp_path):
    web = nerdctllab.run("nweb", labels={"p4t.nerd": nerdctllab.tag})
    other = nerdctllab.run("nother")
    out = tmp_path / "label.pcapng"
    proc = CaptureProcess("--label", f"p4t.nerd={nerdctllab.tag}", "-w", str(out), "tcp port 80", handles=2)
    _get(nerdctllab.ip(web))
    _get(nerdctllab.ip(other))
    _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    assert _http(out) == [f"{web}/eth0"] * 2


def test_stop_ends_the_capture_cleanly(nerdctllab, tmp_path):
    web = nerdctllab.run("nweb")
    out = tmp_path / "stop.pcapng"
    proc = CaptureProcess("--container", web, "-w", str(out), "tcp port 80", handles=2)
    _get(nerdctllab.ip(web))
    nerdctllab.svc("stop", "-t", "1", web)
    try:
        proc.proc.wait(timeout=30)
    finally:
        _, err = proc.stop(linger=0)
    assert proc.proc.returncode == 0, err
    assert f"pcap4py: container {web} stopped (exit code 137)" in err and "capture ended" in err, err
    assert "failed" not in err and len(_http(out)) == 2, err


def test_follow_adds_a_started_container_and_outlives_a_stopped_one(nerdctllab, tmp_path):
    label = {"p4t.nerd": nerdctllab.tag}
    web = nerdctllab.run("nweb", labels=label)
    out = tmp_path / "follow.pcapng"
    proc = CaptureProcess("--label", f"p4t.nerd={nerdctllab.tag}", "--follow", "-w", str(out), "tcp port 80",
                          handles=2)
    late = nerdctllab.run("late", labels=label)
    proc.wait_for(lambda: any(f"+ container {late} (" in l for l in proc.err), "the join line")
    _get(nerdctllab.ip(late))
    nerdctllab.svc("kill", web)
    proc.wait_for(lambda: any(f"- container {web} stopped" in l for l in proc.err), "the leave line")
    _get(nerdctllab.ip(late))
    _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    assert _http(out) == [f"{late}/eth0"] * 4, err
