"""Capturing real containers: the three modes, loopback, directions, output formats, privilege drop.

The world: ``web`` (busybox httpd), ``client`` (which fetches a page from web and
pings it) and ``other`` (which does the same at the same time, and must never
show up in a capture of client).  All on Docker networks of a dockerd started by
the test session, with ``--iptables=false --ip-masq=false``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

import pytest

import pcap4py
from pcap4py.container import Container, get_container
from pcap4py.container.capture import open_container
from tests.fixtures.cli import run_cli, start_cli
from tests.fixtures.dockerlab import INDEX_HTML, LabContainer

pytestmark = pytest.mark.docker

GET = b"GET / HTTP/1.1"
OK = b"HTTP/1.1 200 OK"


@dataclass
class Trio:
    web: LabContainer
    client: LabContainer
    other: LabContainer
    network: str = "bridge"

    def fetch(self, who: LabContainer) -> None:
        out = who.fetch(f"http://{self.web.ip(self.network)}/")
        assert out.encode() == INDEX_HTML, out

    def ping(self, who: LabContainer, count: int = 2) -> None:
        code, out = who.exec("ping", "-c", str(count), "-i", "0.2", "-W", "1", self.web.ip(self.network))
        assert code == 0, out

    def exchange(self) -> None:
        """client fetches and pings; other does the same before and after (the noise)."""
        self.fetch(self.other)
        self.ping(self.other, 1)
        self.fetch(self.client)
        self.ping(self.client)
        self.fetch(self.other)


@pytest.fixture
def trio(dockerlab) -> Trio:
    return Trio(dockerlab.httpd(), dockerlab.run("client"), dockerlab.run("other"))


def collect(cap: pcap4py.Capture, linger: float = 1.5, limit: int = 5000) -> list:
    """Everything the capture holds: stop it ``linger`` seconds from now (bounded in time and count)."""
    timer = threading.Timer(linger, cap.stop)
    timer.start()
    try:
        pkts = []
        for pkt in cap:
            pkts.append(pkt)
            if len(pkts) >= limit:
                break
        return pkts
    finally:
        timer.cancel()
        cap.close()


def captured(name: str, trio: Trio, **kwargs) -> list:
    cap = open_container(name, **kwargs)
    trio.exchange()
    return collect(cap)


def find(pkts: list, pred) -> list:
    return [p for p in pkts if pred(p)]


def is_icmp(p, icmp_type: int) -> bool:
    return p.proto == "ICMP" and p.icmp_type == icmp_type


BROADCAST = "ff:ff:ff:ff:ff:ff"


def assert_only_client_traffic(pkts: list, trio: Trio, broadcasts_ok: bool = False) -> None:
    """Nothing of ``other`` in a capture of ``client``.

    Except, where ``broadcasts_ok`` (on client's own eth0 or veth), the ARP
    broadcasts other sends: client's interface really receives those.
    """
    net = trio.network
    other_ip, other_mac = trio.other.ip(net), trio.other.mac(net)
    strays = find(pkts, lambda p: (other_ip in (p.src, p.dst) or other_mac in (p.eth_src, p.eth_dst))
                  and not (broadcasts_ok and p.eth_dst == BROADCAST))
    assert not strays, f"packets of the unrelated container: {strays[:5]}"


# --------------------------------------------------------------------------- the three modes


@pytest.mark.parametrize("via", ["netns", "veth", "bridge"])
def test_each_mode_captures_the_exchange_and_nothing_of_a_third_container(trio, via):
    c = get_container(trio.client.name)
    client_ip, web_ip = trio.client.ip(), trio.web.ip()
    pkts = captured(c.name, trio, via=via)

    expected_ifaces = {"netns": {"eth0"}, "veth": {c.interface("eth0").host_peer}, "bridge": {"docker0"}}[via]
    assert {p.interface for p in pkts if p.src == client_ip or p.dst == client_ip} == expected_ifaces

    get = find(pkts, lambda p: p.payload.startswith(GET))
    assert len(get) == 1
    assert (get[0].src, get[0].dst, get[0].dport, get[0].direction) == (client_ip, web_ip, 80, "out")
    reply = find(pkts, lambda p: p.payload.startswith(OK))
    assert len(reply) == 1
    assert (reply[0].src, reply[0].sport, reply[0].dst, reply[0].direction) == (web_ip, 80, client_ip, "in")
    assert any(INDEX_HTML in p.payload for p in pkts)

    requests = find(pkts, lambda p: is_icmp(p, 8))
    replies = find(pkts, lambda p: is_icmp(p, 0))
    assert [(p.src, p.dst, p.direction) for p in requests] == [(client_ip, web_ip, "out")] * 2
    assert [(p.src, p.dst, p.direction) for p in replies] == [(web_ip, client_ip, "in")] * 2
    assert_only_client_traffic(pkts, trio, broadcasts_ok=via != "bridge")


def test_bridge_mode_on_a_user_defined_network_uses_its_br_bridge(dockerlab):
    net = dockerlab.network("lan")
    trio = Trio(dockerlab.httpd(network=net.name), dockerlab.run("client", network=net.name),
                dockerlab.run("other", network=net.name), network=net.name)
    cap = open_container(trio.client.name, via="bridge")
    assert [h.name for h in cap.handles] == [f"br-{net.id[:12]}"]
    trio.exchange()
    pkts = collect(cap)
    assert len(find(pkts, lambda p: p.payload.startswith(GET) and p.direction == "out")) == 1
    assert len(find(pkts, lambda p: p.payload.startswith(OK) and p.direction == "in")) == 1
    assert_only_client_traffic(pkts, trio)


def test_netns_mode_sees_the_container_loopback(dockerlab):
    web = dockerlab.httpd()
    home = os.stat("/proc/self/ns/net").st_ino
    cap = open_container(web.name, via="netns", filter="tcp port 80")
    assert sorted(h.name for h in cap.handles) == ["eth0", "lo"]
    # the handles were opened on a thread that entered the container's namespace and came back,
    # and no thread (of Python or of the JVM, such as JNA's) was born there and stayed
    theirs = os.stat(f"/proc/{web.pid}/ns/net").st_ino
    assert theirs != home == os.stat("/proc/thread-self/ns/net").st_ino
    tasks = {t: os.stat(f"/proc/self/task/{t}/ns/net").st_ino for t in os.listdir("/proc/self/task")}
    assert [t for t, ino in tasks.items() if ino == theirs] == []
    out = web.fetch("http://127.0.0.1/")
    assert out.encode() == INDEX_HTML, out
    pkts = collect(cap)

    assert pkts and {p.interface for p in pkts} == {"lo"}
    (get,) = find(pkts, lambda p: p.payload.startswith(GET))
    assert (get.src, get.dst, get.dport, get.direction) == ("127.0.0.1", "127.0.0.1", 80, "out")
    assert any(INDEX_HTML in p.payload for p in pkts)


def test_veth_mode_does_not_see_the_loopback(trio):
    """The loopback fetch inside web is missing from a veth capture of web; client's fetch over eth0 is there."""
    web, client_ip, web_ip = trio.web, trio.client.ip(), trio.web.ip()
    host_peer = get_container(web.name).interface("eth0").host_peer
    cap = open_container(web.name, via="veth", filter="tcp port 80")
    out = web.fetch("http://127.0.0.1/")
    assert out.encode() == INDEX_HTML, out
    trio.fetch(trio.client)  # the positive control: the same capture sees the veth
    pkts = collect(cap, linger=1.0)

    assert find(pkts, lambda p: "127.0.0.1" in (p.src, p.dst)) == []
    assert pkts and {p.interface for p in pkts} == {host_peer}
    assert all({p.src, p.dst} == {client_ip, web_ip} for p in pkts), pkts[:5]
    (get,) = find(pkts, lambda p: p.payload.startswith(GET))
    assert (get.src, get.dst, get.dport, get.direction) == (client_ip, web_ip, 80, "in")
    assert any(INDEX_HTML in p.payload and p.direction == "out" for p in pkts)


@pytest.mark.parametrize("via", ["netns", "veth", "bridge"])
@pytest.mark.parametrize("direction", ["egress", "ingress"])
def test_one_direction_selects_only_that_direction(trio, via, direction):
    client_mac, client_ip, web_ip = trio.client.mac(), trio.client.ip(), trio.web.ip()
    pkts = captured(trio.client.name, trio, via=via, capture=(direction,))
    assert pkts
    sent = direction == "egress"
    assert {p.direction for p in pkts} == {"out" if sent else "in"}
    assert all((p.eth_src == client_mac) == sent for p in pkts)
    gets = find(pkts, lambda p: p.payload.startswith(GET))
    oks = find(pkts, lambda p: p.payload.startswith(OK))
    echo_req, echo_rep = find(pkts, lambda p: is_icmp(p, 8)), find(pkts, lambda p: is_icmp(p, 0))
    if sent:
        assert (len(gets), len(oks), len(echo_req), len(echo_rep)) == (1, 0, 2, 0)
        assert all(p.src == client_ip for p in gets + echo_req)
    else:
        assert (len(gets), len(oks), len(echo_req), len(echo_rep)) == (0, 1, 0, 2)
        assert all(p.dst == client_ip and p.src == web_ip for p in oks + echo_rep)
    assert_only_client_traffic(pkts, trio, broadcasts_ok=via != "bridge")


# --------------------------------------------------------------------------- the CLI


class CaptureProcess:
    """``python -m pcap4py capture ...`` running in the background, its output read by threads."""

    def __init__(self, *args: str, handles: int):
        self.args = args
        self.proc = start_cli("capture", *args, text=True)
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._pump, args=(s, b), daemon=True)
                         for s, b in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for t in self._readers:
            t.start()
        self.wait_for(lambda: sum("listening on" in l for l in self.err) >= handles, "listening on")

    @staticmethod
    def _pump(stream, into: list) -> None:
        for line in stream:
            into.append(line)

    def wait_for(self, cond, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if self.proc.poll() is not None:
                for t in self._readers:
                    t.join(5)
                raise AssertionError(f"capture {self.args} exited ({self.proc.returncode}) before {what}: "
                                     f"{''.join(self.err)}")
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"no {what} within {timeout}s: {''.join(self.err)}")
            time.sleep(0.05)

    def stop(self, linger: float = 1.0) -> tuple[str, str]:
        """SIGINT after ``linger`` seconds (the packets in flight arrive), then wait."""
        time.sleep(linger)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for t in self._readers:
            t.join(5)
        return "".join(self.out), "".join(self.err)


def _table_text(rows: list[str]) -> bytes:
    """The ASCII column of docker-network-capture's payload table rows, joined."""
    return "".join(r[51:67] for r in rows).encode()


def hexdump_blocks(text: str) -> list[tuple[str, list[str]]]:
    """(OUT:/IN: line, its table rows) pairs of docker-network-capture's layout."""
    blocks, current = [], None
    for line in text.splitlines():
        if line.startswith(("OUT: ", "IN:  ")):
            current = (line, [])
            blocks.append(current)
        elif current is not None and line.startswith("| "):
            current[1].append(line)
    return blocks


def test_cli_hexdump_shows_the_request_and_reply_from_the_container_view(trio):
    web_ip = trio.web.ip()
    cap = CaptureProcess("--container", trio.client.name, "--format", "hexdump", "tcp", "port", "80", handles=2)
    trio.exchange()
    out, err = cap.stop()
    assert cap.proc.returncode == 0, err

    blocks = hexdump_blocks(out)
    assert blocks and all(head in (f"OUT: {web_ip}:80", f"IN:  {web_ip}:80") for head, _ in blocks), out[:2000]
    (get,) = [b for b in blocks if _table_text(b[1]).startswith(b"GET / HTTP/1.1..")]
    assert get[0] == f"OUT: {web_ip}:80"
    assert "| 47 45 54 20 2F 20 48 54 54 50 2F 31 2E 31 0D 0A |GET / HTTP/1.1..|" in get[1][0]
    (ok,) = [b for b in blocks if _table_text(b[1]).startswith(b"HTTP/1.1 200 OK")]
    assert ok[0] == f"IN:  {web_ip}:80"
    assert "  00 01 02 03 04 05 06 07 08 09 10 11 12 13 14 15" in out
    assert "+-------------------------------------------------+----------------+" in out
    assert trio.other.ip() not in out


@pytest.mark.parametrize("via", ["netns", "bridge"])
def test_cli_json_holds_the_request_with_direction_and_peer(trio, via):
    client_ip, web_ip = trio.client.ip(), trio.web.ip()
    cap = CaptureProcess("--container", trio.client.name, "--via", via, "--json", "tcp port 80",
                         handles=2 if via == "netns" else 1)
    trio.exchange()
    out, err = cap.stop()
    assert cap.proc.returncode == 0, err
    records = json.loads(out)
    assert isinstance(records, list) and records
    (get,) = [r for r in records if bytes.fromhex(r["payload"]).startswith(GET)]
    assert (get["src"], get["dst"], get["dst_port"], get["direction"], get["protocol"]) == \
        (client_ip, web_ip, 80, "out", "TCP")
    assert get["interface"] == ("eth0" if via == "netns" else "docker0")
    assert isinstance(get["src_port"], int) and get["timestamp"]
    (ok,) = [r for r in records if bytes.fromhex(r["payload"]).startswith(OK)]
    assert (ok["src"], ok["src_port"], ok["dst"], ok["direction"]) == (web_ip, 80, client_ip, "in")
    assert all(trio.other.ip() not in (r["src"], r["dst"]) for r in records)


def test_cli_jsonl_streams_while_capturing_and_capture_flag_selects(trio):
    client_ip = trio.client.ip()
    cap = CaptureProcess("--container", trio.client.name, "--via", "veth", "--capture", "egress",
                         "--format", "jsonl", handles=1)
    trio.exchange()
    # a line per packet, printed while the capture still runs
    cap.wait_for(lambda: any('"direction": "out"' in l and GET.hex() in l for l in cap.out), "the GET line")
    assert cap.proc.poll() is None
    out, err = cap.stop()
    assert cap.proc.returncode == 0, err
    records = [json.loads(l) for l in out.splitlines()]
    assert records and {r["direction"] for r in records} == {"out"}
    assert all(r["eth_src"] == trio.client.mac() for r in records)
    assert any(r["protocol"] == "ICMP" and r["src"] == client_ip for r in records)


def _ids(pid: int) -> list[dict]:
    """Uid, Gid, Groups and capability sets of every thread of ``pid``."""
    result = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            fields = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        result.append({k: fields.get(k, "").split() for k in ("Uid", "Gid", "Groups")} |
                      {k: int(fields[k], 16) for k in ("CapPrm", "CapEff", "CapAmb")})
    return result


@pytest.mark.parametrize("flag", [(), ("-Z", "nobody")], ids=["default-as-root", "explicit-Z"])
def test_cli_drops_to_nobody_and_keeps_capturing(trio, flag):
    cap = CaptureProcess("--container", trio.client.name, *flag, "--format", "jsonl", "tcp port 80", handles=2)
    threads = _ids(cap.proc.pid)  # while it captures
    assert len(threads) > 5  # the JVM's threads included
    for t in threads:
        assert t["Uid"] == ["65534"] * 4 and t["Gid"] == ["65534"] * 4 and t["Groups"] == []
        assert t["CapPrm"] == t["CapEff"] == t["CapAmb"] == 0
    trio.exchange()
    cap.wait_for(lambda: any(GET.hex() in l for l in cap.out), "the GET after the drop")
    out, err = cap.stop()
    assert cap.proc.returncode == 0, err
    assert re.search(r"^\d+ packets captured$", err, re.M)


def test_cli_unknown_user_for_Z(trio):
    res = run_cli("capture", "--container", trio.client.name, "-Z", "p4t-no-such-user", "--duration", "1")
    assert res.returncode == 1
    assert "pcap4py: cannot drop privileges: no such user 'p4t-no-such-user'" in res.stderr


def test_cli_errors_are_one_clear_line(dockerlab, tmp_path):
    stopped = dockerlab.run("stopped", "true")
    stopped.sdk.wait(timeout=30)
    hostnet = dockerlab.run("hostnet", network="host")
    dead = {"DOCKER_HOST": f"unix://{tmp_path}/gone.sock"}
    cases = [
        (("--container", f"p4t-missing-{dockerlab.tag}"), None, f"no such container: p4t-missing-{dockerlab.tag}"),
        (("--container", stopped.name), None, f"container {stopped.name} is not running (state: exited)"),
        (("--container", hostnet.name), None, "uses the host's network"),
        (("--container", "web"), dead, f"cannot reach the Docker daemon at unix://{tmp_path}/gone.sock (DOCKER_HOST)"),
    ]
    for args, env, message in cases:
        res = run_cli("capture", *args, "--duration", "1", env=env)
        assert res.returncode == 1, (args, res.stderr)
        assert res.stderr.startswith("pcap4py: ") and message in res.stderr, res.stderr
        assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1, res.stderr


def test_cli_writes_a_pcap_opened_before_the_drop(trio, tmp_path):
    import dpkt

    os.chmod(tmp_path, 0o700)  # only root may create files here: the file must be open before the drop
    out = tmp_path / "client.pcap"
    cap = CaptureProcess("--container", trio.client.name, "-Z", "nobody", "-w", str(out), "tcp port 80", handles=2)
    assert _ids(cap.proc.pid)[0]["Uid"] == ["65534"] * 4
    trio.exchange()
    _, err = cap.stop()
    assert cap.proc.returncode == 0, err
    with open(out, "rb") as f:
        frames = [bytes(buf) for _, buf in dpkt.pcap.Reader(f)]
    payloads = [dpkt.ethernet.Ethernet(b).data.data.data for b in frames]
    assert sum(p.startswith(GET) for p in payloads) == 1
    assert any(p.startswith(OK) for p in payloads)


@pytest.mark.parametrize("flags", [(), ("-v",)])
def test_cli_lines_are_tcpdump_any_lines_in_the_container_namespace(trio, flags):
    """``capture --container web`` beside ``tcpdump -n -i any`` run in web's namespace: the same
    lines for the client's unicast exchange, the interface column ``web/eth0`` where tcpdump says
    ``eth0`` (tcpdump marks broadcasts B and multicasts M where pcap4py says In)."""
    pid = trio.web.sdk.attrs["State"]["Pid"]
    tcpdump = subprocess.Popen(["nsenter", "-t", str(pid), "-n", "tcpdump", "-n", "-l", *flags, "-i", "any",
                                "--immediate-mode", "tcp or icmp"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        said = ""
        while "listening on" not in said and tcpdump.poll() is None:  # its first lines vary with -v
            said += tcpdump.stderr.readline()
        cap = CaptureProcess("--container", trio.web.name, *flags, "tcp or icmp", handles=2)
        trio.fetch(trio.client)
        trio.ping(trio.client)
        out, err = cap.stop()
    finally:
        time.sleep(0.5)
        tcpdump.send_signal(signal.SIGINT)
        theirs, _ = tcpdump.communicate(timeout=15)
    def norm(line: str) -> str:
        # each handle stamps a packet on its own (microseconds apart): compare what follows the
        # time; the interface column is padded to its name's width
        words = line.replace(f"{trio.web.name}/", "").split()
        return " ".join(words[1:] if line[:1].isdigit() else words)

    ours = [norm(line) for line in out.splitlines() if " lo " not in line]
    theirs = [norm(line) for line in theirs.splitlines() if " lo " not in line]
    assert theirs and any(line.startswith("eth0 Out IP") for line in ours), ours
    same = sum(1 for line in theirs if line in ours)
    # the handles open one after the other: a packet at either end may reach only one of them
    assert same >= len(theirs) - 2, [line for line in theirs if line not in ours]
