"""Seeded mutations of attach's two records, as tests/engine/test_fuzz.py mutates capture files.

* the persisted requests (``/run/pcap4py/attach/ID.json``, :mod:`pcap4py.container.persist`):
  every mutation reads back as valid requests plus one line per problem, never an exception;
  every request read back passes the same checks again; and through the command line
  (``pcap4py reattach``, in this process, a stopped container's file) exit 0 or 1, every error
  line one ``pcap4py:`` line, no traceback;
* the interface's alias (:class:`pcap4py.plumbing.record.AttachRecord`): a record or None,
  never an exception, and what it gives back is what attach could have written.

Mutations: JSON values replaced by others of every type (null, booleans, huge and negative
numbers, NaN, infinity, long strings, control characters, non-ASCII digits, deep nesting),
keys added and removed, and bit flips and cuts of the text itself.
"""

from __future__ import annotations

import copy
import json
import math
import random
from dataclasses import asdict
from typing import Any

import pytest

from pcap4py.container import persist
from pcap4py.plumbing.address import parse_address
from pcap4py.plumbing.record import ALIAS_TAG, IFALIAS_MAX, AttachRecord

SEEDS = range(400)
CLI_SEEDS = range(60)
DEEP = 100_000

PALETTE: list[Any] = [
    None, True, False, 0, 1, -5, 4095, 2**70, 0.25, 15.0, math.nan, math.inf, -math.inf, "", "x" * 300,
    "\x1b]0;p\x07", "eth0", "p4veth0", "02:00:00:00:00:01", "01:00:5e:00:00:01", "198.18.0.77/24",
    "198.18.0.77/²", "fd00::5/64@fd00::1", "0/0", "dhcp", "dhcp:h", "U:", [], {}, [1, 2, 3], {"a": 1},
    ["198.18.0.2", "0200c6120002", 3600, 1], "p4s0123abcd", "p4v0123abcd",
]

PERSISTED = {
    "eth1": {"host_iface": "p4veth0", "address": "198.18.0.77/24@198.18.0.2", "name": "eth1",
             "options": {"mac": "02:00:c6:12:00:4d", "promisc": True, "family": 4}},
    "eth2": {"host_iface": "p4veth0", "address": "dhcp:guest", "name": "eth2",
             "options": {"mac": "02:00:c6:12:00:4e", "vlan": 7, "dhcp_timeout": 5.0, "host_shim": False}},
}

ALIASES = [
    {"host": "p4veth0", "hidx": 7, "addr": "198.18.0.77/24", "gw": "198.18.0.2",
     "prev": [{"gw": "198.18.9.1", "dev": "eth0", "metric": None, "proto": 3}], "promisc": True},
    {"host": "p4veth0", "hidx": 7, "addr": "198.18.0.120/24", "gw": "198.18.0.2", "prev": [], "promisc": False,
     "vlan": 7, "lidx": 9, "shim": "p4s0123abcd", "dhcp": ["198.18.0.2", "0200c6120002", 3600, 1700000000]},
    {"host": "br-p4", "hidx": 3, "addr": None, "gw": None, "prev": [], "promisc": False, "peer": "p4v0123abcd"},
]


def _nodes(value: Any, path: tuple = ()) -> list[tuple]:
    """Every path into ``value`` (keys and indexes), the root included."""
    found = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _nodes(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _nodes(v, path + (i,))
    return found


def _set(root: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = root
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return root


def mutate_value(data: Any, rng: random.Random) -> Any:
    """A few structural changes: a node replaced, a key removed or added."""
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(_nodes(data))
        kind = rng.random()
        if kind < 0.6:
            data = _set(data, path, copy.deepcopy(rng.choice(PALETTE)))
        elif kind < 0.8 and path:
            parent = data
            for step in path[:-1]:
                parent = parent[step]
            del parent[path[-1]]
        else:
            target = data
            for step in path:
                target = target[step]
            if isinstance(target, dict):
                target[rng.choice(["name", "options", "vlan", "shim", "extra", "dhcp", "prev"])] = \
                    copy.deepcopy(rng.choice(PALETTE))
    return data


def mutate_text(text: str, rng: random.Random) -> str:
    """Bit flips and cuts of the text, or a deep nest added."""
    out = bytearray(text.encode())
    mode = rng.choice(("flip", "cut", "deep"))
    if mode == "flip":
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(out))
            out[pos] ^= 1 << rng.randrange(7)  # stays ASCII: the file is text
    elif mode == "cut":
        del out[rng.randrange(len(out)):]
    else:  # a key holding 100,000 nested arrays, after a random "{"
        braces = [i for i, c in enumerate(text) if c == "{"]
        at = rng.choice(braces) + 1 if braces else 0
        return text[:at] + '"deep": ' + "[" * DEEP + "]" * DEEP + ", " + text[at:] if braces else "[" * DEEP + "]" * DEEP
    return out.decode("ascii", errors="replace")


def mutated(base: Any, seed: int) -> str:
    rng = random.Random(seed)
    if rng.random() < 0.65:
        return json.dumps(mutate_value(base, rng))  # NaN and Infinity as Python writes them
    return mutate_text(json.dumps(base), rng)


def _persisted_file(run_dir, container_id: str, text: str) -> None:
    (run_dir / "attach").mkdir(parents=True, exist_ok=True)
    (run_dir / "attach" / f"{container_id}.json").write_text(text)


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PCAP4PY_RUN_DIR", str(tmp_path))
    return tmp_path


def test_mutated_persisted_records_read_back_as_requests_and_problem_lines(run_dir):
    cid = "e" * 64
    kinds = {"requests": 0, "problems": 0}
    for seed in SEEDS:
        _persisted_file(run_dir, cid, mutated(PERSISTED, seed))
        requests, problems = persist.read_requests(cid)  # never raises
        for line in problems:
            assert "not an attach record" in line and "\n" not in line, (seed, line)
        for req in requests:  # what comes back passes the checks again, and its address parses
            assert persist.Request.from_json(req.name, asdict(req)) == req, seed
            parse_address(req.address)
        kinds["requests"] += bool(requests)
        kinds["problems"] += bool(problems)
    # the mutations reach both sides: some records stay valid, many are refused
    assert kinds["requests"] > len(SEEDS) // 10 and kinds["problems"] > len(SEEDS) // 2, kinds


def test_mutated_aliases_are_records_or_none():
    records = 0
    for seed in SEEDS:
        base = ALIASES[seed % len(ALIASES)]
        text = mutated(base, seed)
        rec = AttachRecord.from_alias(ALIAS_TAG + text)  # never raises
        if rec is None:
            continue
        records += 1
        rec.spec  # noqa: B018 - the recorded address and gateway parse
        alias = rec.to_alias()
        if len(alias.encode()) <= IFALIAS_MAX:
            again = AttachRecord.from_alias(alias)
            assert again is not None and again.spec == rec.spec and again.shim == rec.shim, seed
    assert records > len(SEEDS) // 10, records
    assert AttachRecord.from_alias(ALIAS_TAG + "[" * DEEP + "]" * DEEP) is None


@pytest.mark.docker
def test_mutated_records_through_reattach_never_crash(dockerlab, run_dir, capsys):
    """The command line, in this process (a stopped container: records are read and checked,
    nothing is attached)."""
    from pcap4py.cli import main

    box = dockerlab.run("fuzz-stopped")
    box.sdk.stop(timeout=1)
    for seed in CLI_SEEDS:
        _persisted_file(run_dir, box.id, mutated(PERSISTED, 10_000 + seed))
        with pytest.raises(SystemExit) as done:
            main.main(args=["reattach"], prog_name="pcap4py")
        out, err = capsys.readouterr()
        assert done.value.code in (0, 1), (seed, out, err)
        assert out.splitlines()[-1].startswith(f"skipped {box.id[:12]}: container"), (seed, out)
        assert all(line.startswith("pcap4py: skipped ") and "not an attach record" in line
                   for line in err.splitlines()), (seed, err)
        assert (done.value.code == 1) == bool(err), (seed, err)
