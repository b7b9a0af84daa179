"""capture --kube's command line without a cluster: what it refuses before asking one, the
Kubernetes client imported only on this path, and an unreachable configuration as one line."""

from __future__ import annotations

import subprocess
import sys

from tests.fixtures.cli import run_cli


def test_pod_options_need_kube():
    proc = run_cli("capture", "--selector", "app=web", "-c", "1")
    assert proc.returncode == 2
    assert "pcap4py: --selector select pods: add --kube" in proc.stderr


def test_kube_needs_pods():
    proc = run_cli("capture", "--kube")
    assert proc.returncode == 2
    assert "--kube needs pods: --pod NAME (repeatable) or --selector KEY=VALUE" in proc.stderr


def test_kube_refuses_a_pcap_file_and_container_options():
    proc = run_cli("capture", "--kube", "--pod", "web", "-w", "x.pcap")
    assert proc.returncode == 2 and "--kube writes pcapng" in proc.stderr
    proc = run_cli("capture", "--kube", "--pod", "web", "-i", "eth0")
    assert proc.returncode == 2 and "drop -i" in proc.stderr


def test_no_configuration_is_one_line(tmp_path):
    proc = run_cli("capture", "--kube", "--pod", "web", env={"KUBECONFIG": str(tmp_path / "absent"),
                                                           "KUBERNETES_SERVICE_HOST": ""})
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pcap4py: no Kubernetes configuration: "), proc.stderr


def test_the_kubernetes_client_is_imported_only_by_the_kube_path():
    code = ("import sys, pcap4py.cli, pcap4py.remote.pods, pcap4py.remote.agent;"
            "assert 'kubernetes' not in sys.modules, 'imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
