"""What ``--host``, the TLS flags and Docker contexts name, read as the docker CLI reads them; and the
attach stream's frames taken apart (pure logic: the real engines are in tests/test_remote_hosts.py)."""

from __future__ import annotations

import hashlib
import json
import random
import socket
import struct
import threading

import pytest

from pcap4py.errors import RemoteHostError
from pcap4py.remote.hosts import TlsFiles, context_host, distinct_names, parse_host, tls_from
from pcap4py.remote.sidecar import READ_SIZE, Sidecar, _recv
from pcap4py.remote.targets import Target


def test_host_urls_and_their_names():
    assert parse_host("ssh://root@db1").name == "db1"
    assert parse_host("tcp://198.18.120.2").url == "tcp://198.18.120.2:2375"
    assert parse_host("tcp://198.18.120.2", TlsFiles(True)).url == "tcp://198.18.120.2:2376"
    assert parse_host("unix:///run/docker.sock").name == "local"
    for bad in ("http://x:1", "db1", "tcp://", "unix://"):
        with pytest.raises(RemoteHostError):
            parse_host(bad)
    named = distinct_names([parse_host("tcp://h:2376"), parse_host("ssh://root@h"), parse_host("tcp://h:3000")])
    assert [h.name for h in named] == ["h", "h#2", "h:3000"]


def test_tls_as_the_docker_cli_takes_it(tmp_path):
    assert tls_from({}, {}) is None
    for f in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / f).write_text("x")
    tls = tls_from({}, {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)})
    assert tls == TlsFiles(True, str(tmp_path / "ca.pem"), str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    with pytest.raises(RemoteHostError, match="--tlscacert /nonexistent: no such file"):
        tls_from({"tlsverify": True, "tlscacert": "/nonexistent"}, {})


def test_a_docker_context_and_its_tls_files(tmp_path):
    digest = hashlib.sha256(b"prod").hexdigest()
    meta = tmp_path / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    meta.joinpath("meta.json").write_text(json.dumps(
        {"Name": "prod", "Endpoints": {"docker": {"Host": "tcp://198.18.120.2:2376", "SkipTLSVerify": False}}}))
    tls = tmp_path / "contexts" / "tls" / digest / "docker"
    tls.mkdir(parents=True)
    for f in ("ca.pem", "cert.pem", "key.pem"):
        (tls / f).write_text("x")
    host = context_host("prod", {"DOCKER_CONFIG": str(tmp_path)})
    assert (host.name, host.url, host.origin) == ("prod", "tcp://198.18.120.2:2376", "context prod")
    assert host.tls == TlsFiles(True, str(tls / "ca.pem"), str(tls / "cert.pem"), str(tls / "key.pem"))
    with pytest.raises(RemoteHostError, match="no Docker context 'test'"):
        context_host("test", {"DOCKER_CONFIG": str(tmp_path)})


class _Pieces:
    """A fake attach socket returning ``data`` in the given pieces."""

    def __init__(self, pieces):
        self.pieces = list(pieces)

    def recv(self, n):
        return self.pieces.pop(0) if self.pieces else b""


def test_the_attach_frames_give_back_stdout_byte_for_byte_however_cut():
    rng = random.Random(22)
    payload = bytes(rng.randrange(256) for _ in range(20000))  # CR, LF, NUL: pcapng is binary
    frames, pos = b"", 0
    while pos < len(payload):
        n = rng.randrange(1, 3000)
        frames += struct.pack(">BxxxL", 1, len(payload[pos:pos + n])) + payload[pos:pos + n]
        frames += struct.pack(">BxxxL", 2, 5) + b"noise"  # stderr is dropped
        pos += n
    for _ in range(20):
        cuts = sorted(rng.sample(range(1, len(frames)), 50))
        pieces = [frames[a:b] for a, b in zip([0] + cuts, cuts + [len(frames)])]
        side = Sidecar(None, Target("h", "c", "0" * 64), "img")
        side._sock = _Pieces(pieces)
        assert b"".join(side._read()) == payload


def test_a_read_takes_everything_already_waiting_on_the_connection():
    # under load one read per TLS record (16 KiB) cost a whole pass per dozen packets
    a, b = socket.socketpair()
    try:
        sent = bytes(random.Random(7).randrange(256) for _ in range(3 * READ_SIZE // 2))
        b.sendall(sent[:READ_SIZE])
        b.sendall(sent[READ_SIZE:])
        got = _recv(a, READ_SIZE)
        assert got == sent  # one read, every byte waiting, in order
        b.close()
        assert _recv(a, READ_SIZE) == b""  # then the end, as before
    finally:
        a.close()
        b.close()


def test_the_attach_frames_through_a_real_connection_byte_for_byte():
    rng = random.Random(23)
    payload = bytes(rng.randrange(256) for _ in range(300_000))
    frames, pos = bytearray(), 0
    while pos < len(payload):
        n = rng.randrange(1, 40000)
        frames += struct.pack(">BxxxL", 1, len(payload[pos:pos + n])) + payload[pos:pos + n]
        pos += n
    a, b = socket.socketpair()

    def send() -> None:
        at = 0
        while at < len(frames):  # uneven pieces: reads meet frames cut anywhere
            n = rng.randrange(1, 50000)
            b.sendall(frames[at:at + n])
            at += n
        b.close()

    writer = threading.Thread(target=send)
    writer.start()
    side = Sidecar(None, Target("h", "c", "0" * 64), "img")
    side._sock = a
    try:
        assert b"".join(side._read()) == payload
    finally:
        writer.join(10)
        a.close()
