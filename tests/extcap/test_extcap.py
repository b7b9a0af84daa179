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

from tests.fixtures.cli import pcap4py_cmd, run_cli
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


# --------------------------------------------------------------------------- pcap4py-all


def loopback_pinger(dockerlab, name: str) -> LabContainer:
    """A container that pings its own loopback every 0.05 s (100 s at most): traffic of its own."""
    return dockerlab.run(name, "ping", "-q", "-c", "2000", "-i", "0.05", "127.0.0.1")


def read_fifo_into(fifo: Path, out: Path) -> "threading.Thread":
    """Wireshark's end of the fifo: a thread copying it into ``out`` until the writer closes it."""
    import threading

    def copy() -> None:
        with open(fifo, "rb") as src, open(out, "wb") as dst:
            while chunk := src.read1(65536):
                dst.write(chunk)
                dst.flush()

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    return thread


def packets_by_interface(path: Path) -> list[tuple[str, float]]:
    """(interface name, time) of each packet tshark reads from ``path`` (a partial last block is ignored)."""
    res = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.interface_name",
                          "-e", "frame.time_epoch"], capture_output=True, text=True, timeout=60)
    rows = [line.split("\t") for line in res.stdout.splitlines()]
    return [(name, float(t)) for name, t in rows if t]


def test_all_goes_on_when_one_container_stops(dockerlab, tmp_path):
    from tests.fixtures.cli import start_cli

    a, b = loopback_pinger(dockerlab, "a"), loopback_pinger(dockerlab, "b")
    fifo, out = tmp_path / "fifo", tmp_path / "all.pcapng"
    os.mkfifo(fifo)
    reader = read_fifo_into(fifo, out)
    proc = start_cli("extcap", "--capture", "--extcap-interface", "pcap4py-all", "--containers",
                     f"{a.name},{b.name}", "--fifo", str(fifo))
    try:
        def seen(name: str, after: float = 0.0) -> bool:
            return any(n == f"{name}/lo" and t > after for n, t in packets_by_interface(out))

        wait_until(lambda: proc.poll() is not None or (seen(a.name) and seen(b.name)), "packets of a and b", 60)
        assert proc.poll() is None, proc.communicate(timeout=10)[1].decode()
        b.sdk.kill()
        stopped = time.time()
        wait_until(lambda: proc.poll() is not None or seen(a.name, after=stopped + 1), "packets of a after b", 30)
        assert proc.poll() is None, proc.communicate(timeout=10)[1].decode()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    reader.join(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err.decode(), err.decode()
    late = [n for n, t in packets_by_interface(out) if t > stopped + 1]
    assert f"{a.name}/lo" in late and f"{b.name}/lo" not in late


def test_all_takes_a_container_that_starts_later(dockerlab, tmp_path):
    """Every running container (the other tests' too: this one looks only at its own)."""
    from tests.fixtures.cli import start_cli

    a = loopback_pinger(dockerlab, "a")
    fifo, out = tmp_path / "fifo", tmp_path / "all.pcapng"
    os.mkfifo(fifo)
    reader = read_fifo_into(fifo, out)
    proc = start_cli("extcap", "--capture", "--extcap-interface", "pcap4py-all", "--fifo", str(fifo))
    try:
        def seen(name: str) -> bool:
            return any(n == f"{name}/lo" for n, _ in packets_by_interface(out))

        wait_until(lambda: proc.poll() is not None or seen(a.name), "packets of a", 60)
        assert proc.poll() is None, proc.communicate(timeout=10)[1].decode()
        later = loopback_pinger(dockerlab, "later")
        wait_until(lambda: proc.poll() is not None or seen(later.name), "packets of the later container", 30)
        assert proc.poll() is None, proc.communicate(timeout=10)[1].decode()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    reader.join(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err.decode(), err.decode()


def test_tshark_captures_pcap4py_all_with_two_containers(dockerlab, wireshark_env, installed, tmp_path):
    a, b = loopback_pinger(dockerlab, "a"), loopback_pinger(dockerlab, "b")
    out = tmp_path / "all.pcapng"
    # the interface's "Containers" option (tshark's -o extcap.IFACE.CALL), so that containers of
    # other tests sharing the Docker daemon stay out
    # -f icmp: a container just started also sends IPv6 ND/MLD on eth0 (seen on a fresh machine)
    res = tshark("-i", "pcap4py-all", "-o", f"extcap.pcap4py_all.containers:{a.name},{b.name}", "-f", "icmp",
                 "-a", "packets:40", "-a", "duration:60", "-w", str(out), env=wireshark_env)
    assert res.returncode == 0, res.stderr
    got = packets_by_interface(out)
    assert len(got) == 40 and {name for name, _ in got} == {f"{a.name}/lo", f"{b.name}/lo"}


def test_a_container_named_all_is_its_own_interface(dockerlab, wireshark_env, installed, tmp_path):
    sdk = dockerlab.client.containers.run(dockerlab.image, ["ping", "-q", "-c", "2000", "-i", "0.05", "127.0.0.1"],
                                          name="all", detach=True, network="bridge")
    dockerlab._containers.append(sdk)  # removed with the lab's own
    res = run_cli("extcap", "--extcap-interfaces")
    assert res.returncode == 0, res.stderr
    values = [line.split("}")[0].split("=", 1)[1] for line in res.stdout.splitlines() if line.startswith("interface")]
    assert len(values) == len(set(values)) and values.count("pcap4py-all") == 1, values
    mine = f"pcap4py-{sdk.id[:12]}"
    assert f"interface {{value={mine}}}{{display=all (docker container, pcap4py)}}" in res.stdout.splitlines()

    out = tmp_path / "all.pcapng"
    # only its pings: a container just started on the bridge also sends IPv6 ND/MLD on its eth0
    res = tshark("-i", mine, "-f", "icmp", "-a", "packets:3", "-a", "duration:60", "-w", str(out),
                 env=wireshark_env)
    assert res.returncode == 0, res.stderr
    assert {name for name, _ in packets_by_interface(out)} == {"all/lo"}


# --------------------------------------------------------------------------- errors Wireshark shows


@pytest.mark.parametrize("where", ["missing-folder", "directory"])
def test_a_fifo_that_cannot_be_opened_is_one_line(tmp_path, where):
    fifo = tmp_path / "no" / "such" / "fifo" if where == "missing-folder" else tmp_path
    res = run_cli("extcap", "--capture", "--extcap-interface", "pcap4py-x", "--fifo", str(fifo))
    reason = "No such file or directory" if where == "missing-folder" else "Is a directory"
    assert (res.returncode, res.stderr) == (1, f"pcap4py: cannot open the fifo {fifo}: {reason}\n")


def test_install_into_a_home_that_is_a_file_is_one_line(tmp_path):
    home = tmp_path / "home"
    home.write_text("not a folder\n")
    env = {"HOME": str(home), "XDG_CONFIG_HOME": ""}
    res = run_cli("extcap", "install", env=env)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr == f"pcap4py: cannot install the launcher into {home}/.config/wireshark/extcap: Not a directory\n"
    res = run_cli("extcap", "uninstall", env=env)
    assert (res.returncode, res.stderr) == (0, "") and res.stdout.startswith("no pcap4py launcher in ")
    assert home.read_text() == "not a folder\n"


def test_install_with_an_empty_home_refuses_and_writes_nothing(tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    res = subprocess.run([*pcap4py_cmd("extcap", "install")], capture_output=True, text=True, timeout=60, cwd=cwd,
                         env={**os.environ, "HOME": "", "XDG_CONFIG_HOME": ""})
    assert res.returncode == 1
    assert res.stderr == ("pcap4py: Wireshark's folder '.config/wireshark' is not an absolute path "
                          "(is HOME empty?): set HOME (or XDG_CONFIG_HOME) to your home folder\n")
    assert not list(cwd.iterdir())
