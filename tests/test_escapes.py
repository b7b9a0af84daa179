"""Names from the kernel, Docker or a file never reach the terminal with their control characters.

An interface name may hold ESC and BEL (the kernel refuses only '/', ':', NUL and white space): a
container given NET_ADMIN can call its eth0 ``"\\x1b]0;p\\x07"`` (a window-title sequence), and a
pcapng file's interface names and packet contents are whatever its writer chose.  Every text
output escapes them as ``\\xNN`` (pcap4py.text.printable); JSON output carries the real name,
JSON-escaped.  The names are made for real: busybox ``ip`` renames a veth end in a namespace the
test made and eth0 inside a container of the test dockerd; the pcapng file is built with struct.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import time
from typing import Optional

import pytest

from pcap4py.text import printable
from tests.fixtures.cli import pcap4py_cmd, start_cli, wait_listening
from tests.fixtures.netlab import sh
from tests.fixtures.pcapfiles import A4, B4, ethernet, ipv4_udp, pcapng_epb, pcapng_shb

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, capture)")

TITLE = "\x1b]0;p\x07"      # OSC 0: sets the window title; BEL ends it (6 bytes)
COLOUR = "\x1b[31mX\x07"    # SGR red, then a bell (7 bytes)
FORMATS = ("text", "hexdump", "jsonl")
RAW_CONTROLS = (b"\x1b", b"\x07", b"\xc2\x9b")  # ESC, BEL, and CSI as a UTF-8 C1 character


def assert_no_controls(*outputs: bytes) -> None:
    for out in outputs:
        for raw in RAW_CONTROLS:
            assert raw not in out, f"raw {raw!r} reached the terminal: {out[:400]!r}"


def run(*args: str, netns: Optional[str] = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """The CLI run to completion, its output kept as bytes (what a terminal would get)."""
    cmd = pcap4py_cmd(*args)
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    return subprocess.run(cmd, capture_output=True, timeout=timeout)


def finish(proc: subprocess.Popen, timeout: float = 30) -> tuple[bytes, bytes]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the capture did not stop: {err[-400:]!r}")
    assert proc.returncode == 0, err
    return out, err


def in_every_format(args: tuple, traffic, netns: Optional[str] = None, timeout: float = 30) -> tuple[dict, dict]:
    """``capture *args --format F`` for every format at once while ``traffic()`` runs; returns what
    each said until 'listening on' and (stdout, stderr) of each once it has stopped by itself."""
    procs = {fmt: start_cli("capture", *args, "--format", fmt, netns=netns) for fmt in FORMATS}
    try:
        said = {fmt: wait_listening(p, timeout=timeout).encode() for fmt, p in procs.items()}
        traffic()
        return said, {fmt: finish(p) for fmt, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()


def jsonl_interfaces(out: bytes) -> set[str]:
    return {json.loads(line)["interface"] for line in out.decode().splitlines()}


# --- the one function ---------------------------------------------------------------------------
def test_printable_escapes_c0_del_c1_and_non_utf8_bytes_and_nothing_else():
    assert printable(TITLE) == "\\x1b]0;p\\x07"
    assert printable("a\x00b\x7fc\u009bd\te\n") == "a\\x00b\\x7fc\\x9bd\\x09e\\x0a"
    assert printable(b"ab\xffcd".decode("utf-8", "surrogateescape")) == "ab\\xffcd"
    assert printable("a\u2028b\u2029c") == "a\\u2028b\\u2029c"  # line breaks to str.splitlines and dialogs
    assert printable("eth0 été \\x1b web/eth0") == "eth0 été \\x1b web/eth0"  # unchanged
    assert printable("line 1\n\x1b[2J line 2", keep="\n") == "line 1\n\\x1b[2J line 2"


# --- a plain interface, renamed in a namespace the test made -----------------------------------
def rename(ns, old: str, new: str) -> None:
    """busybox ip, as a container's root would do it (the link must be down to be renamed)."""
    ns.run("busybox", "ip", "link", "set", old, "down")
    ns.run("busybox", "ip", "link", "set", old, "name", new)
    ns.run("busybox", "ip", "link", "set", new, "up")


def ping_from_host(dst: str, count: int = 3) -> None:
    sh("ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-W", "1", "-w", "5", dst, check=False)


def test_live_capture_of_an_interface_named_with_escapes(veth):
    rename(veth.ns, veth.peer_if, COLOUR)
    assert COLOUR.encode() in veth.ns.run("ip", "-o", "link").stdout.encode()  # the kernel took it
    said, results = in_every_format((COLOUR, "-c", "2", "icmp"), lambda: ping_from_host(veth.peer_ip),
                                    netns=veth.ns.name)
    for fmt, (out, err) in results.items():
        assert_no_controls(out, said[fmt], err)
        assert f"listening on {printable(COLOUR)}, link-type EN10MB".encode() in said[fmt]
        assert out, f"{fmt}: no packets printed"
    assert jsonl_interfaces(results["jsonl"][0]) == {COLOUR}


def test_interfaces_list_wait_line_and_errors_escape_the_name(veth):
    rename(veth.ns, veth.peer_if, TITLE)
    listing = run("interfaces", netns=veth.ns.name)
    assert listing.returncode == 0, listing.stderr
    assert_no_controls(listing.stdout, listing.stderr)
    assert printable(TITLE).encode() in listing.stdout

    waited = run("capture", "lo", "--wait-ping", "--wait-iface", TITLE, "--wait-timeout", "0.5",
                 netns=veth.ns.name)
    assert waited.returncode == 3, waited.stderr
    assert_no_controls(waited.stdout, waited.stderr)
    assert f"waiting for a ping on {printable(TITLE)}...".encode() in waited.stderr

    missing = run("capture", COLOUR, "-c", "1", netns=veth.ns.name)
    assert missing.returncode != 0
    assert_no_controls(missing.stdout, missing.stderr)
    assert missing.stderr.startswith(b"pcap4py: ") and missing.stderr.count(b"\n") == 1, missing.stderr


# --- a capture file: interface names, descriptions, comments and contents ----------------------
def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _block(kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", kind, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def idb(name: str, description: str) -> bytes:
    opts = _option(2, name.encode()) + _option(3, description.encode()) + _option(9, b"\x09")
    return _block(1, struct.pack("<HHI", 1, 0, 262144) + opts + struct.pack("<HH", 0, 0))


def epb_with_comment(interface: int, ts: int, frame: bytes, comment: str) -> bytes:
    head = struct.pack("<IIIII", interface, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame))
    body = head + frame + b"\0" * (-len(frame) % 4) + _option(1, comment.encode()) + struct.pack("<HH", 0, 0)
    return _block(6, body)


def dns_query_frame(label: bytes) -> bytes:
    """A DNS query for ``label``.com: Pcap4J renders the name as text."""
    question = bytes([len(label)]) + label + b"\x03com\x00" + struct.pack("!HH", 1, 1)
    dns = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + question
    return ethernet(ipv4_udp(A4, B4, 40000, 53, dns), 0x0800)


@pytest.fixture
def crafted(tmp_path):
    ts = 1_700_000_000 * 10**9
    frame = dns_query_frame(TITLE.encode())
    data = (pcapng_shb() + idb(COLOUR, TITLE) + idb(TITLE, COLOUR)
            + epb_with_comment(0, ts, frame, TITLE) + epb_with_comment(1, ts + 1000, frame, COLOUR)
            + pcapng_epb(0, ts + 2000, frame))
    path = tmp_path / "crafted.pcapng"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("fmt", ["text", "hexdump", "pcap4j"])
def test_reading_a_crafted_pcapng_prints_no_control_characters(crafted, fmt):
    res = run("read", str(crafted), "--format", fmt)
    assert res.returncode == 0, res.stderr
    assert_no_controls(res.stdout, res.stderr)
    if fmt == "pcap4j":
        assert f"QNAME: {printable(TITLE)}.com".encode() in res.stdout
    else:  # two interfaces: each line names its own
        lines = res.stdout.decode().splitlines()
        assert sum(f" {printable(COLOUR)} IP " in line for line in lines) == 2
        assert sum(f" {printable(TITLE)} IP " in line for line in lines) == 1


def test_json_of_a_crafted_pcapng_carries_the_real_names_json_escaped(crafted):
    res = run("read", str(crafted), "--format", "jsonl")
    assert res.returncode == 0, res.stderr
    assert_no_controls(res.stdout, res.stderr)
    assert [json.loads(line)["interface"] for line in res.stdout.decode().splitlines()] == [COLOUR, TITLE, COLOUR]
    array = run("read", str(crafted), "--json")
    assert_no_controls(array.stdout)
    assert [r["interface"] for r in json.loads(array.stdout)] == [COLOUR, TITLE, COLOUR]


def test_json_escapes_del_and_c1_too(tmp_path):
    name = "a\x7fb\u009bc"
    path = tmp_path / "del.pcapng"
    path.write_bytes(pcapng_shb() + idb(name, "-") + pcapng_epb(0, 10**18, dns_query_frame(b"x")))
    res = run("read", str(path), "--format", "jsonl")
    assert res.returncode == 0, res.stderr
    assert b"\x7f" not in res.stdout and b"\xc2\x9b" not in res.stdout
    assert b'"interface": "a\\u007fb\\u009bc"' in res.stdout
    assert json.loads(res.stdout)["interface"] == name


def test_file_names_and_filters_in_error_messages_are_escaped(crafted, tmp_path):
    missing = run("read", str(tmp_path / f"{TITLE}.pcap"))
    assert missing.returncode != 0
    assert_no_controls(missing.stdout, missing.stderr)
    assert missing.stderr == f"pcap4py: {tmp_path}/{printable(TITLE)}.pcap: no such file\n".encode()

    bad = run("read", str(crafted), f"udp and and {COLOUR}")
    assert bad.returncode != 0
    assert_no_controls(bad.stdout, bad.stderr)
    first, expression, caret = bad.stderr.decode().splitlines()
    assert expression == f"udp and and {printable(COLOUR)}"
    assert first.startswith("pcap4py: bad filter expression") and "\\x1b[31mX\\x07" in first
    assert caret.index("^") == expression.index("and and") + 4  # under the second 'and', escapes or not


# --- a container that renamed its eth0 ---------------------------------------------------------
@pytest.fixture
def renamed(dockerlab):
    c = dockerlab.run("esc", cap_add=["NET_ADMIN"])
    gateway = c.gateway()
    for cmd in (["ip", "link", "set", "eth0", "down"], ["ip", "link", "set", "eth0", "name", TITLE],
                ["ip", "link", "set", TITLE, "up"]):
        code, out = c.exec(*cmd)
        assert code == 0, f"{cmd}: {out}"
    code, out = c.exec("ip", "-o", "link")
    assert TITLE in out, out  # the kernel took the name
    return c, gateway


def test_containers_lists_the_renamed_interface_escaped(renamed):
    c, _ = renamed
    table = run("containers")
    assert table.returncode == 0, table.stderr
    assert_no_controls(table.stdout, table.stderr)
    row = next(line for line in table.stdout.decode().splitlines() if line.startswith(c.name) and "lo" not in line.split())
    assert printable(TITLE) in row.split()
    listed = run("containers", "--json")
    assert_no_controls(listed.stdout)
    mine = next(r for r in json.loads(listed.stdout) if r["name"] == c.name)
    assert TITLE in {i["name"] for i in mine["interfaces"]}


def test_container_capture_escapes_the_renamed_interface(renamed):
    c, gateway = renamed
    def ping_the_gateway() -> None:
        time.sleep(0.5)  # every handle is open once the last 'listening on' line is out
        code, out = c.exec("ping", "-c", "3", "-i", "0.2", "-W", "1", gateway)
        assert code == 0, out

    said, results = in_every_format(("--container", c.name, "-c", "2", "icmp"), ping_the_gateway, timeout=60)
    for fmt, (out, err) in results.items():
        assert_no_controls(out, said[fmt], err)
        assert printable(TITLE).encode() in said[fmt] + err
    text_lines = results["text"][0].decode().splitlines()
    assert text_lines and all(printable(TITLE) in line for line in text_lines), text_lines
    assert all(TITLE in name for name in jsonl_interfaces(results["jsonl"][0]))
