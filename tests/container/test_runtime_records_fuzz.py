"""What the gRPC runtimes hand back, fuzzed: a CRI pod's verbose info (the runtime's JSON) and
containerd's labels and event payloads.  Whatever arrives, a record or None comes out, never a crash.

Seeded and bounded; pure logic on the generated messages (skipped without the stubs)."""

from __future__ import annotations

import json
import random

import pytest

from pcap4py.container.runtimes import rpc

pytestmark = pytest.mark.skipif(not (rpc.available("cri_pb2") and rpc.available("containerd")),
                                reason="the gRPC stubs are not built (python3 proto/stubs.py)")

SEED, ROUNDS = 2126, 400


def _junk(rng: random.Random, depth: int = 0):
    kinds = ["int", "str", "bool", "none", "float"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "list":
        return [_junk(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == "dict":
        keys = ["pid", "runtimeSpec", "linux", "namespaces", "type", "path", "image", "network", "x"]
        return {rng.choice(keys): _junk(rng, depth + 1) for _ in range(rng.randrange(5))}
    return {"int": lambda: rng.randrange(-5, 1 << 33), "str": lambda: rng.choice(["", "network", "/x", "é\0"]),
            "bool": lambda: rng.random() < 0.5, "none": lambda: None, "float": lambda: rng.random() * 1e6}[kind]()


def test_cri_verbose_info_of_any_shape_gives_a_state_and_attributes():
    from pcap4py.container.runtimes.cri import CriRuntime, _netns_file

    pb = rpc.load("cri_pb2", "cri")
    rt = CriRuntime("unix:///nonexistent.sock")
    rt._pb = pb
    rng = random.Random(SEED)
    for _ in range(ROUNDS):
        info = _junk(rng)
        if rng.random() < 0.3:
            info = {"pid": info, "runtimeSpec": {"linux": {"namespaces": [{"type": "network", "path": info}]}}}
        info = info if isinstance(info, dict) else {}
        status = pb.PodSandboxStatus(id="a" * 64, state=rng.choice([0, 1, 7]),
                                     metadata=pb.PodSandboxMetadata(name="n", namespace="ns"))
        state = rt._state(status, info)
        assert state.pid is None or (type(state.pid) is int and state.pid > 0)
        assert state.running == (status.state == pb.SANDBOX_READY and state.pid is not None)
        attrs = rt._attrs(status, info)
        assert attrs["Name"] == "ns/n" and isinstance(attrs["Config"]["Image"], str)
        path = _netns_file(info)
        assert path is None or (isinstance(path, str) and path)
        json.dumps(attrs)  # plain data


def test_containerd_labels_and_events_of_any_content_are_read_or_refused():
    from pcap4py.container.runtimes.containerd import _networks, _unpack

    events = rpc.load("containerd.events.task_pb2", "containerd")
    anypb = __import__("google.protobuf.any_pb2", fromlist=["Any"])
    rng = random.Random(SEED)
    for _ in range(ROUNDS):
        label = rng.choice([json.dumps(_junk(rng)), "".join(chr(rng.randrange(32, 127)) for _ in range(12)), ""])
        nets = _networks({"nerdctl/networks": label})
        assert isinstance(nets, list) and all(isinstance(n, str) for n in nets)
        good = events.TaskExit(container_id="c", id="c", exit_status=rng.randrange(256))
        value = good.SerializeToString() if rng.random() < 0.5 else bytes(rng.randrange(256) for _ in range(20))
        type_url = rng.choice(["containerd.events.TaskExit", "types.googleapis.com/containerd.events.TaskExit",
                               "containerd.events.TaskStart", ""])
        got = _unpack(anypb.Any(type_url=type_url, value=value), events.TaskExit())
        if not type_url.endswith("containerd.events.TaskExit"):
            assert got is None
        elif value == good.SerializeToString():
            assert got == good
