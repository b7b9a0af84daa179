"""``capture --host --follow``'s event reading against a real HTTP server speaking the Engine API's
events and inspect calls through the real Docker SDK: what starts and matches is taken, our own
sidecars never, a die lets go, and a host whose event stream breaks is one warning line while the
other hosts go on (the real engine is in test_remote_hosts.py)."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pcap4py.remote.hostfollow import HostFollower, Matcher
from pcap4py.remote.targets import SIDECAR_LABEL, Target

WEB, SIDE, OTHER = "a" * 64, "b" * 64, "c" * 64


def _event(action: str, cid: str, name: str, **labels: str) -> bytes:
    return json.dumps({"Type": "container", "Action": action, "status": action,
                       "Actor": {"ID": cid, "Attributes": {"name": name, "image": "busybox", **labels}}}).encode()


EVENTS = [_event("start", SIDE, "pcap4py-sidecar-1", **{SIDECAR_LABEL: WEB, "app": "f"}),
          _event("start", OTHER, "other", app="g"),
          _event("start", WEB, "web", app="f"),
          _event("die", WEB, "web", app="f")]


class _Engine(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        if "/events" in self.path:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for e in EVENTS:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(e) + 1, e + b"\n"))
                self.wfile.flush()
                time.sleep(0.05)
            self.wfile.write(b"ffff\r\n{\"Type\"")  # the host goes away inside an event
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        cid = self.path.split("/containers/")[1].split("/")[0]
        body = json.dumps({"Id": cid, "Name": "/web", "State": {"Running": True, "Status": "running"},
                           "HostConfig": {"NetworkMode": "bridge"},
                           "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "198.18.0.9"}}}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Session:
    """What the follower asks of the capture's session, recorded."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.started: list[Target] = []
        self.gone: list[str] = []

    def report(self, line: str) -> None:
        self.lines.append(line)

    def start(self, target: Target) -> None:
        self.started.append(target)

    def stopped(self, uid: str) -> None:
        self.gone.append(uid)


@pytest.fixture
def engine():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Engine)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_starts_that_match_are_taken_a_die_lets_go_and_a_broken_host_is_one_line(engine):
    import docker

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: refused
    clients = [docker.DockerClient(base_url=engine, version="1.41", timeout=10),
               docker.DockerClient(base_url=f"tcp://127.0.0.1:{closed.getsockname()[1]}", version="1.41", timeout=10)]
    session = _Session()
    follower = HostFollower(session, [("h1", clients[0]), ("h2", clients[1])], Matcher(labels=("app=f",)), 0)
    try:
        follower.start()
        deadline = time.monotonic() + 20
        while len(session.lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        follower.close()
        for c in clients:
            c.close()
        closed.close()
    assert session.started == [Target("h1", "web", WEB, ("198.18.0.9",))]
    assert session.gone == [f"h1/{WEB}"]
    assert sorted(line.split(": no longer")[0] for line in session.lines) == ["warning: host h1", "warning: host h2"]
    assert all(len(line.splitlines()) == 1 and "no longer following its containers: " in line
               for line in session.lines), session.lines
    refused = next(line for line in session.lines if "host h2" in line)
    assert refused.endswith("Connection refused") and len(refused) < 120, refused


def test_the_matcher_takes_what_the_listing_takes_and_never_a_sidecar():
    web = {"app": "f", "tier": "back"}
    assert Matcher(labels=("app=f",)).matches("web", WEB, web)
    assert Matcher(labels=("app=f", "tier")).matches("web", WEB, web)
    assert not Matcher(labels=("app=g",)).matches("web", WEB, web)
    assert not Matcher(labels=("app=f", "zone")).matches("web", WEB, web)
    assert Matcher(names=("web",)).matches("web", WEB, {}) and Matcher(names=("aaaa",)).matches("x", WEB, {})
    assert Matcher(all=True).matches("x", WEB, {}) and not Matcher().matches("x", WEB, {})
    for m in (Matcher(all=True), Matcher(labels=("app=f",)), Matcher(names=("web",))):
        assert not m.matches("web", WEB, {**web, SIDECAR_LABEL: OTHER})
