"""Containers as Wireshark interfaces: the real tshark runs the launcher ``pcap4py extcap install`` wrote.

Every test works in a throw-away HOME and XDG_CONFIG_HOME, so Wireshark's real
personal folders are never touched.  The world: ``web`` (busybox httpd) and
``client``, which fetches from web and pings it in a bounded loop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli import run_cli
from tests.fixtures.dockerlab import LabContainer

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(not Path("/usr/bin/tshark").exists(), reason="tshark is not installed")]

TSHARK_TIMEOUT = 90
LOOP = 300  # client's fetches: at most LOOP rounds of 0.2 s


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def wireshark_env(tmp_path) -> dict:
    """An environment whose Wireshark personal folders live under ``tmp_path``."""
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


@pytest.fixture
def installed(wireshark_env) -> Path:
    res = run_cli("extcap", "install", env=wireshark_env)
    assert res.returncode == 0, res.stderr
    launcher = Path(wireshark_env["XDG_CONFIG_HOME"]) / "wireshark" / "extcap" / "pcap4py"
    assert f"installed {launcher}" in res.stdout
    return launcher


def tshark(*args: str, env: dict, timeout: float = TSHARK_TIMEOUT, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["tshark", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **env}, stdin=subprocess.DEVNULL, **kw)


def interfaces(env: dict) -> list[str]:
    """``tshark -D`` lines, numbers stripped."""
    res = tshark("-D", env=env)
    assert res.returncode == 0, res.stderr
    return [line.split(". ", 1)[1] for line in res.stdout.splitlines() if ". " in line]


def extcap_processes(marker: str) -> list[int]:
    """PIDs of pcap4py extcap processes whose command line holds ``marker`` (pgrep -f, but exact)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv]
        if "pcap4py" in words and "extcap" in words and any(marker in w for w in words):
            pids.append(int(entry))
    return pids


def wait_until(cond, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout}s")
        time.sleep(0.1)


def serve_and_fetch(dockerlab) -> LabContainer:
    """web serves HTTP; client fetches a page every 0.2 s and pinger pings web every 0.02 s (60 s at most)."""
    web = dockerlab.httpd()
    loop = f"i=0; while [ $i -lt {LOOP} ]; do wget -q -O /dev/null http://{web.ip()}/; i=$((i+1)); sleep 0.2; done"
    dockerlab.run("client", "sh", "-c", loop)
    dockerlab.run("pinger", "ping", "-q", "-c", str(LOOP * 10), "-i", "0.02", web.ip())
    return web


def frames(path: Path) -> list[bytes]:
    """The frames of a pcapng file, read with dpkt (not with pcap4py or tshark)."""
    import dpkt

    with open(path, "rb") as f:
        return [bytes(buf) for _, buf in dpkt.pcapng.Reader(f)]


def is_tcp_port_80(frame: bytes) -> bool:
    import dpkt

    ip = dpkt.ethernet.Ethernet(frame).data
    return isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.tcp.TCP) and 80 in (ip.data.sport, ip.data.dport)


# --------------------------------------------------------------------------- the answers


def test_extcap_answers(dockerlab):
    web = dockerlab.httpd()
    res = run_cli("extcap", "--extcap-interfaces", "--extcap-version=4.0")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("extcap {version=")
    assert f"interface {{value=pcap4py-{web.name}}}{{display={web.name} (docker container, pcap4py)}}" in lines
    assert lines[-1] == "interface {value=pcap4py-all}{display=All running containers (pcap4py)}"

    res = run_cli("extcap", "--extcap-dlts", "--extcap-interface", f"pcap4py-{web.name}")
    assert res.stdout == "dlt {number=1}{name=EN10MB}{display=Ethernet}\n"

    mine = run_cli("extcap", "--extcap-config", "--extcap-interface", f"pcap4py-{web.name}").stdout.splitlines()
    everyone = run_cli("extcap", "--extcap-config", "--extcap-interface", "pcap4py-all").stdout.splitlines()
    assert "value {arg=0}{value=netns}" in "\n".join(mine) and "{call=--direction}" in mine[4]
    assert [l for l in mine if "{type=integer}" in l] == [
        "arg {number=2}{call=--snaplen}{display=Snapshot length}{tooltip=Bytes to capture per packet}"
        "{type=integer}{range=1,262144}{default=262144}"]
    assert not any("--containers" in l for l in mine)
    assert everyone[:len(mine)] == mine
    assert "{call=--containers}" in everyone[len(mine)] and "{type=multicheck}" in everyone[len(mine)]
    assert f"value {{arg=3}}{{value={web.name}}}{{display={web.name}}}{{default=false}}" in everyone


def test_filter_check_says_nothing_when_valid_and_where_it_goes_wrong_when_not():
    good = run_cli("extcap", "--extcap-capture-filter", "tcp port 80")
    assert (good.returncode, good.stdout) == (0, "")
    bad = run_cli("extcap", "--extcap-capture-filter", "port and and")
    # Wireshark 4.0 reads the message from stdout and ignores it unless the exit status is 0
    assert bad.returncode == 0
    assert bad.stdout == "pcap4py: bad filter expression 'port and and' at column 6: syntax error\n"


# --------------------------------------------------------------------------- install, tshark -D


def test_tshark_lists_the_running_containers_and_one_started_later(dockerlab, wireshark_env):
    web = dockerlab.httpd()
    assert not any(l.startswith("pcap4py-") for l in interfaces(wireshark_env))  # not installed yet
    run_cli("extcap", "install", env=wireshark_env).check_returncode()

    listed = interfaces(wireshark_env)
    assert f"pcap4py-{web.name} ({web.name} (docker container, pcap4py))" in listed
    assert "pcap4py-all (All running containers (pcap4py))" in listed
    later = dockerlab.run("later")
    assert f"pcap4py-{later.name} ({later.name} (docker container, pcap4py))" in interfaces(wireshark_env)


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) + ("/" if p.is_dir() else "") for p in root.rglob("*")}


def test_uninstall_removes_exactly_what_install_wrote(wireshark_env):
    home = Path(wireshark_env["HOME"])
    (home / ".config").mkdir()
    (home / ".config" / "unrelated").write_text("keep me\n")
    before = tree(home)
    res = run_cli("extcap", "install", env=wireshark_env)
    assert res.returncode == 0, res.stderr
    launcher = home / ".config" / "wireshark" / "extcap" / "pcap4py"
    assert tree(home) - before == {".config/wireshark/", ".config/wireshark/extcap/",
                                   ".config/wireshark/extcap/pcap4py"}
    text = launcher.read_text()
    assert text.startswith("#!/bin/sh\n# pcap4py extcap launcher") and os.access(launcher, os.X_OK)
    assert text.rstrip().endswith('-m pcap4py extcap "$@"')

    res = run_cli("extcap", "uninstall", env=wireshark_env)
    assert res.returncode == 0 and f"removed {launcher}" in res.stdout, res.stderr
    assert tree(home) == before


def test_uninstall_leaves_a_launcher_it_did_not_write(wireshark_env):
    folder = Path(wireshark_env["XDG_CONFIG_HOME"]) / "wireshark" / "extcap"
    folder.mkdir(parents=True)
    foreign = folder / "pcap4py"
    foreign.write_text("#!/bin/sh\nexec someone-elses-tool \"$@\"\n")
    for action in ("uninstall", "install"):
        res = run_cli("extcap", action, env=wireshark_env)
        assert res.returncode == 1 and res.stderr.startswith("pcap4py: ") and "not written by pcap4py" in res.stderr
    assert foreign.read_text() == "#!/bin/sh\nexec someone-elses-tool \"$@\"\n"


# --------------------------------------------------------------------------- capturing with tshark


@pytest.mark.parametrize("cfilter", [None, "tcp port 80"], ids=["everything", "tcp-port-80"])
def test_tshark_captures_ten_packets_of_the_container(dockerlab, wireshark_env, installed, tmp_path, cfilter):
    web = serve_and_fetch(dockerlab)
    out = tmp_path / "out.pcapng"
    res = tshark("-i", f"pcap4py-{web.name}", *(["-f", cfilter] if cfilter else []),
                 "-a", "packets:10", "-a", "duration:60", "-w", str(out), env=wireshark_env)
    assert res.returncode == 0, res.stderr
    got = frames(out)
    assert len(got) == 10
    if cfilter:  # the pings (most of the traffic) are filtered out
        assert all(is_tcp_port_80(f) for f in got)
    # the fifo carried pcapng: tshark kept pcap4py's interface names and the directions
    fields = subprocess.run(["tshark", "-r", str(out), "-T", "fields", "-e", "frame.interface_name",
                             "-e", "frame.packet_flags_direction"], capture_output=True, text=True, timeout=60)
    rows = [line.split("\t") for line in fields.stdout.splitlines()]
    assert {name for name, _ in rows} <= {f"{web.name}/eth0", f"{web.name}/lo"}, fields.stdout
    assert {direction for _, direction in rows} == {"0x00000001", "0x00000002"}, fields.stdout  # in and out
    # tshark closed the fifo after 10 packets: the extcap noticed and is gone
    wait_until(lambda: not extcap_processes(web.name), "exit of the extcap after tshark", 5)


def test_tshark_reports_a_bad_filter_with_its_position(dockerlab, wireshark_env, installed, tmp_path):
    web = dockerlab.httpd()
    res = tshark("-i", f"pcap4py-{web.name}", "-f", "port and and", "-a", "duration:20",
                 "-w", str(tmp_path / "bad.pcapng"), env=wireshark_env)
    assert res.returncode != 0
    assert "bad filter expression 'port and and' at column 6: syntax error" in res.stderr, res.stderr


def test_sigterm_to_tshark_leaves_no_pcap4py_behind(dockerlab, wireshark_env, installed, tmp_path):
    web = serve_and_fetch(dockerlab)
    out = tmp_path / "long.pcapng"
    proc = subprocess.Popen(["tshark", "-i", f"pcap4py-{web.name}", "-a", "duration:120", "-w", str(out)],
                            env={**os.environ, **wireshark_env}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: extcap_processes(web.name), "pcap4py extcap process", 30)
        wait_until(lambda: out.exists() and len(frames(out)) >= 3, "packets in the file", 30)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wait_until(lambda: not extcap_processes(web.name), "exit of the extcap after SIGTERM", 5)
    assert len(frames(out)) >= 3


def test_missing_privilege_is_named_in_the_error_tshark_shows(dockerlab, wireshark_env, installed, tmp_path):
    """Root without CAP_SYS_ADMIN (taken out of the bounding set) cannot enter the container's namespace."""
    web = dockerlab.httpd()
    res = subprocess.run(
        ["setpriv", "--bounding-set=-sys_admin", "tshark", "-i", f"pcap4py-{web.name}", "-a", "duration:20",
         "-w", str(tmp_path / "x.pcapng")],
        capture_output=True, text=True, timeout=TSHARK_TIMEOUT, env={**os.environ, **wireshark_env},
        stdin=subprocess.DEVNULL)
    assert res.returncode != 0
    assert "CAP_SYS_ADMIN and CAP_NET_RAW" in res.stderr and "docker group" in res.stderr, res.stderr
