"""``pcap4py capture`` as a user runs it: output formats, pcap files read by tcpdump and tshark,
stops by count, duration and signals, the wait-for-ping trigger."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from tests.fixtures.cli import capture_then_signal, run_cli, start_cli, wait_listening, wait_output


def tcpdump_lines(path) -> list[str]:
    proc = subprocess.run(["tcpdump", "-n", "-tt", "-r", str(path)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def tshark_fields(path, *fields: str) -> list[list[str]]:
    args = ["tshark", "-n", "-r", str(path), "-T", "fields"] + [x for f in fields for x in ("-e", f)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [line.split("\t") for line in proc.stdout.splitlines()]


def capture_during(args, action, timeout=30):
    """Start ``pcap4py capture``, wait until it listens, run ``action``, and collect its output."""
    proc = start_cli("capture", *args, text=False)
    head = wait_listening(proc)
    action()
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, head + err.decode()


def test_text_lines_and_stats(veth):
    rc, out, err = capture_during([veth.host_if, "-c", "3", "udp", "port", "5555"],
                                  lambda: veth.send_udp(veth.host_ip, 5555, b"abc", count=3))
    assert rc == 0, err
    lines = out.decode().splitlines()
    assert len(lines) == 3
    assert all(f"IP {veth.peer_ip}.40000 > {veth.host_ip}.5555: UDP, length 3" in line for line in lines)
    assert f"listening on {veth.host_if}, link-type EN10MB (Ethernet)" in err
    assert "3 packets captured" in err and "0 packets dropped by kernel" in err


def test_jsonl_and_json_fields(veth):
    send = lambda: veth.send_udp(veth.host_ip, 5555, b"GET / HTTP/1.1", count=2)  # noqa: E731
    rc, out, err = capture_during([veth.host_if, "-c", "2", "--format", "jsonl", "udp"], send)
    assert rc == 0, err
    rows = [json.loads(line) for line in out.decode().splitlines()]
    assert len(rows) == 2
    assert rows[0]["src"] == veth.peer_ip and rows[0]["dst_port"] == 5555 and rows[0]["protocol"] == "UDP"
    assert bytes.fromhex(rows[0]["payload"]) == b"GET / HTTP/1.1"
    rc, out, err = capture_during([veth.host_if, "-c", "2", "--json", "udp"], send)
    array = json.loads(out.decode())
    assert [r["src_port"] for r in array] == [40000, 40000] and array[1]["interface"] == veth.host_if


def test_hexdump_shows_offsets_hex_and_ascii(veth):
    rc, out, err = capture_during([veth.host_if, "-c", "1", "--format", "hexdump", "udp"],
                                  lambda: veth.send_udp(veth.host_ip, 5555, b"hexdump-me"))
    text = out.decode()
    assert rc == 0, err
    assert "\t0x0000:  " in text and "hexdump-me"[:6] in text.replace("\n", "")


def test_pcap_file_matches_tcpdump_and_tshark(veth, tmp_path):
    path = tmp_path / "out.pcap"
    rc, out, err = capture_during([veth.host_if, "-c", "6", "-w", str(path), "icmp"],
                                  lambda: veth.ns.ping(veth.host_ip, 3))
    assert rc == 0, err
    assert "6 packets captured" in err
    lines = tcpdump_lines(path)
    assert len(lines) == 6
    assert sum("ICMP echo request" in line for line in lines) == 3
    shark = tshark_fields(path, "frame.time_epoch", "frame.len", "ip.src")
    assert len(shark) == 6
    # the same timestamps and lengths in both readers, and in pcap4py's own
    import pcap4py

    with pcap4py.open_offline(str(path)) as h:
        mine = [(p.ts_ns // 1000, p.length) for p in h]
    assert [(round(float(t) * 1e6), int(n)) for t, n, _ in shark] == mine
    assert [int(line.split()[0].replace(".", "")) for line in lines] == [t for t, _ in mine]


def test_pcap_to_stdout_pipes_into_tshark(veth):
    cap = start_cli("capture", veth.host_if, "-c", "4", "-w", "-", "icmp")
    wait_listening(cap)
    shark = subprocess.Popen(["tshark", "-n", "-r", "-", "-T", "fields", "-e", "icmp.type"],
                             stdin=cap.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cap.stdout.close()
    veth.ns.ping(veth.host_ip, 2)
    out, err = shark.communicate(timeout=60)
    assert cap.wait(timeout=30) == 0
    assert sorted(out.split()) == ["0", "0", "8", "8"], err


def test_duration_stops_an_idle_capture(veth):
    start = time.monotonic()
    proc = run_cli("capture", veth.host_if, "--duration", "1.5", "udp port 1")
    assert proc.returncode == 0, proc.stderr
    assert "0 packets captured" in proc.stderr
    assert time.monotonic() - start < 15


def _stop_with(signum, veth, tmp_path):
    path = tmp_path / "sig.pcap"
    rc, err = capture_then_signal(veth, path, signum)
    return rc, err, path


def test_sigint_leaves_a_complete_file_and_prints_stats(veth, tmp_path):
    rc, err, path = _stop_with(signal.SIGINT, veth, tmp_path)
    assert rc == 0, err
    assert "20 packets captured" in err
    assert len(tcpdump_lines(path)) == 20


def test_sigterm_leaves_a_complete_file_and_prints_stats(veth, tmp_path):
    rc, err, path = _stop_with(signal.SIGTERM, veth, tmp_path)
    assert rc == 0, err
    assert "20 packets captured" in err
    assert len(tshark_fields(path, "udp.dstport")) == 20


def test_wait_ping_starts_only_after_the_ping(veth):
    proc = start_cli("capture", veth.host_if, "-c", "1", "--wait-ping", "--wait-iface", veth.host_if,
                     "--immediate", "udp", "port", "5555")
    waiting = wait_output(proc, "waiting for a ping", timeout=20)
    time.sleep(1.0)  # the trigger's handle is open once the JVM has started
    veth.send_udp(veth.host_ip, 5555, b"before-ping", count=3)
    time.sleep(0.5)
    assert proc.poll() is None
    veth.ns.ping(veth.host_ip, 1)
    time.sleep(2.0)  # let the capture handle open
    veth.send_udp(veth.host_ip, 5555, b"after-ping")
    out, err = proc.communicate(timeout=30)
    err = waiting + err.decode()
    assert proc.returncode == 0, err
    assert f"triggered by an echo request from {veth.peer_ip}" in err
    assert len(out.splitlines()) == 1 and b"length 10" in out  # len(b"after-ping") == 10, not 11


def test_wait_ping_timeout_exits_nonzero(veth):
    proc = run_cli("capture", veth.host_if, "--wait-ping", "--wait-iface", veth.host_if, "--wait-timeout", "1")
    assert proc.returncode == 3
    assert f"pcap4py: no ping arrived on {veth.host_if} within 1 s" in proc.stderr


def test_version_and_help():
    assert run_cli("--version").stdout.startswith("pcap4py, version ")
    helptext = run_cli("capture", "--help").stdout
    for flag in ("-i", "-f", "-c", "-w", "-s", "-B", "-Q", "--immediate", "-n", "--duration", "--format",
                 "--wait-ping", "--container", "-Z"):
        assert f" {flag}" in helptext


def test_live_counter_on_a_terminal_while_writing(veth, tmp_path):
    """With stderr on a terminal, -w shows a running 'Got N' counter, and the stats at the end."""
    import os
    import pty
    import select

    master, slave = pty.openpty()
    proc = start_cli("capture", veth.host_if, "-c", "5", "-w", str(tmp_path / "t.pcap"), "udp", stderr=slave)
    os.close(slave)

    def read_until(needle: bytes, seen: bytes) -> bytes:
        deadline = time.monotonic() + 30  # a silent child must not hang the test
        while needle not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the child closed its side
                    break
                if not chunk:
                    break
                seen += chunk
        return seen

    seen = read_until(b"listening on", b"")
    veth.send_udp(veth.host_ip, 5555, b"tty", count=5)
    seen = read_until(b"packets captured", seen)
    os.close(master)
    assert proc.wait(timeout=30) == 0
    text = seen.decode()
    assert "Got 5" in text and "5 packets captured" in text


def test_dash_r_reads_a_file_like_tcpdump(veth, tmp_path):
    path = tmp_path / "r.pcap"
    rc, _, err = capture_during([veth.host_if, "-c", "2", "-w", str(path), "udp"],
                                lambda: veth.send_udp(veth.host_ip, 5555, b"r", count=2))
    assert rc == 0, err
    proc = run_cli("capture", "-r", str(path), "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["dst_port"] for line in proc.stdout.splitlines()] == [5555, 5555]
