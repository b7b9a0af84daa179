"""CRI pods (a private containerd with its CRI plugin): listing, --pod, --label, the end on stop, --follow.

Every test runs on the session's containerd (tests/fixtures/containerdlab.py) and points pcap4py
at it alone (``PCAP4PY_RUNTIME=cri``, ``CONTAINER_RUNTIME_ENDPOINT``).  The HTTP exchanges go
from the host to the pod's address over the CNI bridge; packets are read back by tshark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import pcap4py
from pcap4py.errors import DockerUnavailable
from tests.fixtures.cli import run_cli
from tests.fixtures.containerdlab import BRIDGE
from tests.container.test_container_capture import CaptureProcess
from tests.sinks.test_pcapng import tshark

pytestmark = pytest.mark.cri


def _get(ip: str, n: int = 1) -> None:
    for _ in range(n):
        proc = subprocess.run(["curl", "-s", "--max-time", "5", f"http://{ip}/"], capture_output=True, text=True,
                              timeout=15)
        assert "hello from the pcap4py test httpd" in proc.stdout, proc.stderr


def _names(path, display_filter: str) -> list[str]:
    return [r[0] for r in tshark(path, "frame.interface_name", display_filter=display_filter)]


def test_containers_lists_a_pod_naming_the_runtime(crilab):
    pod = crilab.pod("cweb", labels={"app": "web"})
    c = pcap4py.get_container("test/cweb")
    eth0 = c.interface("eth0")
    assert (c.runtime, c.name, c.pod, c.pid) == ("cri", "test/cweb", "test/cweb", pod.pid)
    assert pod.ip in eth0.ips and eth0.host_bridge == BRIDGE
    assert os.path.basename(os.readlink(f"/sys/class/net/{eth0.host_peer}/master")) == BRIDGE
    (net,) = c.networks
    assert (net.ip, net.interface, net.bridge) == (pod.ip, "eth0", BRIDGE)
    assert pcap4py.get_container("httpd").id == pod.id  # a container's name: its pod
    assert pcap4py.get_container(pod.id[:12]).name == "test/cweb"

    res = run_cli("containers")
    assert res.returncode == 0, res.stderr
    line = next(l for l in res.stdout.splitlines() if l.startswith("test/cweb ") and " eth0 " in l)
    assert line.split()[1] == "cri" and line.split()[-1] == BRIDGE, line
    (mine,) = [d for d in json.loads(run_cli("containers", "--json").stdout) if d["name"] == "test/cweb"]
    assert (mine["runtime"], mine["pod"], mine["pid"]) == ("cri", "test/cweb", pod.pid)


def test_pod_captures_its_http_exchange_named_namespace_and_name(crilab, tmp_path):
    pod = crilab.pod("cweb", labels={"app": "web"})
    out = tmp_path / "pod.pcapng"
    proc = CaptureProcess("--pod", "test/cweb", "-w", str(out), "tcp port 80", handles=2)
    _get(pod.ip, 2)
    _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    rows = tshark(out, "frame.interface_name", "frame.interface_description", "http.response.code",
                  display_filter="http")
    assert [r[0] for r in rows] == ["test/cweb/eth0"] * 4, rows  # two requests, two answers, each once
    assert [r[2] for r in rows].count("200") == 2 and "cri pod test/cweb" in rows[0][1], rows


def test_label_selects_pods(crilab, tmp_path):
    web = crilab.pod("cweb", labels={"app": "web", "p4t": crilab.tag})
    other = crilab.pod("cother", labels={"app": "other", "p4t": crilab.tag})
    out = tmp_path / "label.pcapng"
    proc = CaptureProcess("--label", "app=web", "-w", str(out), "tcp port 80", handles=2)
    _get(web.ip)
    _get(other.ip)
    _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    names = _names(out, "tcp")
    assert names and set(names) == {"test/cweb/eth0"}, names
    assert not tshark(out, "ip.src", display_filter=f"ip.addr == {other.ip}")


def test_all_containers_takes_every_pod(crilab, tmp_path):
    web = crilab.pod("cweb")
    other = crilab.pod("cother", namespace="other")
    out = tmp_path / "all.pcapng"
    proc = CaptureProcess("--all-containers", "-w", str(out), "tcp port 80", handles=4)
    _get(web.ip)
    _get(other.ip)
    _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    names = _names(out, "http")
    assert names.count("test/cweb/eth0") == 2 and names.count("other/cother/eth0") == 2, names


@pytest.mark.parametrize("select", [("--pod", "test/cweb"), ("--container", "httpd")])
def test_stopping_the_pod_ends_the_capture_cleanly(crilab, tmp_path, select):
    pod = crilab.pod("cweb", labels={"app": "web"})
    out = tmp_path / "stop.pcapng"
    proc = CaptureProcess(*select, "-w", str(out), "tcp port 80", handles=2)
    _get(pod.ip)
    # stopped at once: the exchange still in the ring's unretired block is read before the end
    crilab.stop(pod)
    try:
        proc.proc.wait(timeout=30)
    finally:
        _, err = proc.stop(linger=0)
    assert proc.proc.returncode == 0, err
    assert "test/cweb stopped" in err and "packets captured" in err, err
    assert "failed" not in err and "Traceback" not in err, err
    assert len(_names(out, "http")) == 2


def test_follow_picks_up_a_second_pod(crilab, tmp_path):
    first = crilab.pod("cweb", labels={"app": "web", "p4t": crilab.tag})
    out = tmp_path / "follow.pcapng"
    proc = CaptureProcess("--label", f"p4t={crilab.tag}", "--follow", "-w", str(out), "tcp port 80", handles=2)
    second = crilab.pod("cweb2", labels={"app": "web", "p4t": crilab.tag})
    proc.wait_for(lambda: any("+ container test/cweb2 (" in l for l in proc.err), "the join line")
    _get(second.ip)
    _get(first.ip)
    crilab.stop(first)
    proc.wait_for(lambda: any("- container test/cweb stopped" in l for l in proc.err), "the leave line")
    _get(second.ip)
    _, err = proc.stop()
    assert proc.proc.returncode == 0, err
    names = _names(out, "http")
    assert names.count("test/cweb2/eth0") == 4 and names.count("test/cweb/eth0") == 2, names


def test_an_unknown_pod_is_one_line(crilab):
    res = run_cli("capture", "--pod", "nosuch", "-c", "1")
    assert res.returncode != 0 and res.stderr.strip().splitlines() == ["pcap4py: no such pod: nosuch"], res.stderr
    res = run_cli("capture", "--container", "nosuch", "-c", "1")
    assert res.returncode != 0 and res.stderr.strip().splitlines() == ["pcap4py: no such container: nosuch"]


def test_a_pod_name_in_two_namespaces_asks_for_the_namespace(crilab):
    crilab.pod("cweb")
    crilab.pod("cweb", namespace="other")
    res = run_cli("capture", "--pod", "cweb", "-c", "1")
    lines = res.stderr.strip().splitlines()
    assert res.returncode != 0 and len(lines) == 1 and "give NAMESPACE/cweb" in lines[0], res.stderr


# runs the CLI with the generated stubs hidden from imports, as on a machine where they were never built
WITHOUT_STUBS = """
import runpy, sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.startswith("pcap4py.container.runtimes.gen"):
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Hide())
sys.argv = ["pcap4py", *sys.argv[1:]]
runpy.run_module("pcap4py", run_name="__main__")
"""


@pytest.mark.parametrize("runtime", ["cri", "containerd"])
def test_missing_stubs_are_one_clear_line(tmp_path, runtime):
    from pcap4py.container.runtimes.rpc import stubs

    with pytest.raises(DockerUnavailable, match=r"gRPC stubs are not built: run `python3 proto/stubs.py`"):
        stubs("nosuch", "cri")
    env = {**os.environ, "PCAP4PY_RUNTIME": runtime, "CONTAINER_RUNTIME_ENDPOINT": f"unix://{tmp_path}/s.sock",
           "CONTAINERD_ADDRESS": f"unix://{tmp_path}/s.sock"}
    res = subprocess.run([sys.executable, "-c", WITHOUT_STUBS, "containers"], capture_output=True, text=True,
                         timeout=60, env=env)
    assert res.returncode != 0 and res.stderr.strip().splitlines() == [
        f"pcap4py: the {runtime} runtime's gRPC stubs are not built: run `python3 proto/stubs.py` in pcap4py's "
        "source tree (needs Go and grpcio-tools)"], res.stderr


def test_an_endpoint_without_a_runtime_is_one_line(tmp_path):
    res = run_cli("containers", env={"PCAP4PY_RUNTIME": "cri",
                                     "CONTAINER_RUNTIME_ENDPOINT": f"unix://{tmp_path}/none.sock"})
    assert res.returncode != 0 and res.stderr.strip().splitlines() == [
        f"pcap4py: cannot reach the CRI runtime at unix://{tmp_path}/none.sock (CONTAINER_RUNTIME_ENDPOINT): "
        "no such socket"], res.stderr


@pytest.fixture
def containerd_without_cri(containerd_service, tmp_path):
    """A second private containerd whose CRI plugin is disabled (as Docker's is): its socket."""
    import signal
    import time

    (tmp_path / "config.toml").write_text(
        f'version = 2\nroot = "{tmp_path}/root"\nstate = "{tmp_path}/state"\n'
        f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "{tmp_path}/c.sock"\n'
        f'[ttrpc]\n  address = "{tmp_path}/c.sock.ttrpc"\n[debug]\n  address = ""\n[metrics]\n  address = ""\n')
    proc = subprocess.Popen(["containerd", "--config", str(tmp_path / "config.toml")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "c.sock").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        yield f"unix://{tmp_path}/c.sock"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        subprocess.run(["umount", "-R", str(tmp_path / "state")], capture_output=True)


def test_a_containerd_without_cri_is_one_line_when_named_and_silent_beside_others(crilab, containerd_without_cri,
                                                                                 monkeypatch):
    crilab.pod("cweb")
    res = run_cli("containers", env={"CONTAINER_RUNTIME_ENDPOINT": containerd_without_cri})
    lines = res.stderr.strip().splitlines()
    assert res.returncode != 0 and len(lines) == 1 and "does not serve this API" in lines[0], res.stderr

    from pcap4py.container.lookup import each_runtime
    from pcap4py.container.runtimes.cri import CriRuntime

    warnings: list[str] = []
    monkeypatch.setattr("pcap4py.container.lookup.chosen", lambda runtime=None: [
        CriRuntime(containerd_without_cri), CriRuntime(crilab.svc.endpoint)])
    names = each_runtime(lambda rt: [item.name for item in rt.listed()], warn=warnings.append)
    assert names == ["test/cweb"] and warnings == []
