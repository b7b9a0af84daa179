"""Every rule between the options of ``pcap4py capture``, checked in one place before anything is
opened (``CaptureRequest.check``): each refusal is one usage line, exit status 2, nothing opened."""

from __future__ import annotations

import pytest

from tests.fixtures.cli import run_cli

REFUSED = [
    (["lo", "-W", "3"], "-W needs -C or -G (it acts on rotated files)"),
    (["lo", "-z", "gzip"], "-z needs -C or -G (it acts on rotated files)"),
    (["lo", "-C", "1", "-w", "-"], "-C and -G rotate files: give -w FILE (not stdout)"),
    (["-r", "x.pcap", "-G", "5", "-w", "y.pcap"], "-C, -G, -W and -z rotate live captures: drop them with -r"),
    (["--container", "web", "-i", "eth0"], "--container picks its own interfaces and directions"),
    (["--label", "a=b", "-Q", "in"], "--container picks its own interfaces and directions"),
    (["--label", "a=b", "--follow", "-Z", "nobody"], "--follow opens handles as containers start"),
    (["lo", "--follow"], "--follow needs a container selection"),
    (["--container", "web", "--all-containers"], "--container/--pod and --all-containers exclude each other"),
    (["--pid", "1", "--netns", "x"], "--pid, --netns and a container selection exclude each other"),
    (["--pid", "1", "-i", "lo"], "--container picks its own interfaces and directions"),
    ([], "name an interface: capture IFACE [EXPRESSION...]"),
    (["lo", "-f", "udp", "tcp"], "give the filter either with -f or as trailing words, not both"),
    (["-r", "x.pcap", "-f", "udp", "tcp"], "give the filter either with -f or as trailing words, not both"),
]


@pytest.mark.parametrize("args, message", REFUSED, ids=[" ".join(a) or "(none)" for a, _ in REFUSED])
def test_a_combination_that_cannot_work_is_refused_before_anything_opens(args, message, tmp_path):
    proc = run_cli("capture", *args, env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "listening on" not in proc.stderr
