"""Persisted attachments read back as untrusted input (issue 25 rows 12, 22-24), and the interface's
own record (the ifalias) likewise.

The fake LAN and the attach target are test_attach's; the containers are the private Docker
Engine's (tests/fixtures/dockerlab.py).  A restart is stood in for by removing eth1 inside the
running container (``nsenter``): what `reattach` sees is the same, a container without the
interface its record names.
"""

from __future__ import annotations

import json
import math

import pytest

from pcap4py.container import persist
from pcap4py.container.plumbing import attach, restore
from pcap4py.errors import OutOfRange, StateFileError
from pcap4py.plumbing.dhcp import LeaseRecord
from pcap4py.plumbing.record import IFALIAS_MAX, AttachRecord
from tests.fixtures.cli import run_cli
from tests.fixtures.netlab import sh
from tests.plumbing.test_attach import guest, lan  # noqa: F401 - fixtures

FAKE_ID = "f" * 64

GOOD = {"host_iface": "p4veth0", "address": "198.18.0.77/24@198.18.0.2", "name": "eth1",
        "options": {"mac": "02:00:c6:12:00:4d", "dhcp_timeout": 15.0}}

# what a record may hold that the command line would refuse (row 23), with the words of the refusal
BAD_OPTIONS = [
    ({"dhcp_timeout": -5}, "bad DHCP timeout -5"),
    ({"dhcp_timeout": math.nan}, "bad DHCP timeout nan"),
    ({"dhcp_timeout": math.inf}, "bad DHCP timeout inf"),
    ({"vlan": 5000}, "bad VLAN id 5000"),
    ({"vlan": True}, "True is not a whole number"),
    ({"family": 5}, "bad address family 5"),
    ({"family": 6}, "IPv4 but IPv6 was asked for"),
    ({"mac": "01:00:5e:00:00:01"}, "multicast MAC"),
    ({"promisc": "yes"}, "'yes' is not true or false"),
    ({"colour": "red"}, "unknown fields ['colour']"),
]


def _write(run_dir, container_id: str, text: str) -> None:
    (run_dir / "attach").mkdir(parents=True, exist_ok=True)
    (run_dir / "attach" / f"{container_id}.json").write_text(text)


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PCAP4PY_RUN_DIR", str(tmp_path))
    return tmp_path


# --------------------------------------------------------------------------- the persisted records


@pytest.mark.parametrize("options,words", BAD_OPTIONS)
def test_a_record_is_checked_as_the_command_line_checks(run_dir, options, words):
    """Row 23: what --dhcp-timeout, --vlan, -a, --mac... refuse is no attach record either."""
    entry = {**GOOD, "options": {**GOOD["options"], **options}}
    _write(run_dir, FAKE_ID, json.dumps({"eth1": entry, "eth2": {**GOOD, "name": "eth2"}}))
    requests, problems = persist.read_requests(FAKE_ID)
    assert [r.name for r in requests] == ["eth2"]  # the other entry still stands
    assert len(problems) == 1 and "entry 'eth1': not an attach record" in problems[0], problems
    assert words in problems[0], problems


@pytest.mark.parametrize("text,words", [
    ("[1, 2, 3]", "a JSON list, not an object of interface names"),
    ('{"eth1": null}', "entry 'eth1': not an attach record (not an object with host_iface and address)"),
    ("[" * 100_000 + "]" * 100_000, "not an attach record (nested too deeply)"),
    ('{"eth1": ' + "[" * 100_000 + "]" * 100_000 + "}", "not an attach record (nested too deeply)"),
    ("NaN", "a JSON float"),
    ("{", "not JSON"),
    ('{"eth1": {"host_iface": "p4veth0", "address": "198.18.0.77/²"}}', "bad prefix length /²"),
    ('{"eth1": {"host_iface": "p4veth0", "address": "198.18.0.77/24", "name": "eth2"}}', "another interface"),
])
def test_records_of_the_wrong_shape_are_not_attach_records(run_dir, text, words):
    """Row 12 at the reader: valid JSON of the wrong shape is one problem line, never an exception."""
    _write(run_dir, FAKE_ID, text)
    requests, problems = persist.read_requests(FAKE_ID)
    assert requests == [] and len(problems) == 1 and "not an attach record" in problems[0], problems
    assert words in problems[0], problems


def test_a_good_record_reads_back_and_survives_forget_of_a_bad_neighbour(run_dir):
    _write(run_dir, FAKE_ID, json.dumps({"eth1": GOOD, "eth2": None}))
    assert persist.read_requests(FAKE_ID)[0] == [persist.Request(**GOOD)]
    assert persist.forget(FAKE_ID, "eth2")  # an entry that is no record can still be forgotten
    assert persist.read_requests(FAKE_ID) == ([persist.Request(**GOOD)], [])
    assert persist.forget(FAKE_ID, "eth1") and not (run_dir / "attach" / f"{FAKE_ID}.json").exists()
    _write(run_dir, FAKE_ID, "[1, 2, 3]")
    assert not persist.forget(FAKE_ID, "eth1")  # nothing recognisable: left for reattach to report
    with pytest.raises(StateFileError, match="not an attach record"):
        persist.remember(FAKE_ID, persist.Request(**GOOD))


# --------------------------------------------------------------------------- --dhcp-timeout (row 22)


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "601"])
def test_dhcp_timeout_nan_is_refused_like_inf(value):
    proc = run_cli("attach", "lo", "1", "dhcp", "--dhcp-timeout", value)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith("pcap4py: Invalid value for '--dhcp-timeout'") and value in line, line


def test_the_library_refuses_a_nan_dhcp_timeout_before_touching_anything(lan, guest):
    veth, _gw, _ip = lan
    for value in (math.nan, math.inf, 0.1, True):
        with pytest.raises(OutOfRange, match="bad DHCP timeout"):
            attach(veth.host_if, guest.path, "dhcp", dhcp_timeout=value)
    assert "eth1" not in guest.ns.run("ip", "-o", "link").stdout


# --------------------------------------------------------------------------- reattach, with real containers


def _remove_eth1(box) -> None:
    sh("nsenter", "-t", str(box.pid), "-n", "ip", "link", "del", "eth1")


@pytest.mark.docker
def test_reattach_reports_records_of_the_wrong_shape_and_restores_the_others(lan, dockerlab, run_dir):
    """Row 12 (and 23) end to end: each bad record is one `not an attach record` line, exit 1, no
    traceback; the good record of another container is still restored."""
    veth, gw, ip = lan
    good, other = dockerlab.run("persist-good"), dockerlab.run("persist-bad")
    attach(veth.host_if, good.name, f"{ip}/24@{gw}", persist=True)
    bad_texts = ["[1, 2, 3]", '{"eth1": null}', "[" * 100_000 + "]" * 100_000,
                 json.dumps({"eth1": {"host_iface": veth.host_if, "address": f"{veth.ip(78)}/24",
                                      "options": {"dhcp_timeout": -5}}})]
    for i, text in enumerate(bad_texts):
        _remove_eth1(good)
        _write(run_dir, other.id, text)
        spelling = ("reattach",) if i % 2 else ("attach", "--restore")  # the old spelling still works
        proc = run_cli(*spelling, env={"PCAP4PY_RUN_DIR": str(run_dir)})
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        [line] = proc.stderr.splitlines()
        assert line.startswith(f"pcap4py: skipped {run_dir}/attach/{other.id}.json") and \
            "not an attach record" in line, line
        assert proc.stdout.startswith("attached: eth1 ("), proc.stdout
        code, out = good.exec("ip", "addr", "show", "eth1")
        assert code == 0 and f"inet {ip}/24" in out
    assert other.exec("ip", "link", "show", "eth1")[0] != 0  # nothing attached from a bad record


@pytest.mark.docker
def test_reattach_forgets_the_records_of_a_removed_container(lan, dockerlab, run_dir):
    """Row 24: a container removed for good: its records are dropped once, with one line."""
    veth, gw, ip = lan
    box = dockerlab.run("persist-gone")
    attach(veth.host_if, box.name, f"{ip}/24@{gw}", persist=True)
    state = run_dir / "attach" / f"{box.id}.json"
    box.sdk.remove(force=True)

    # Docker unreachable: nothing is concluded, nothing forgotten
    proc = run_cli("reattach", env={"PCAP4PY_RUN_DIR": str(run_dir), "DOCKER_HOST": f"unix://{run_dir}/no.sock"})
    assert proc.returncode != 0 and proc.stderr.startswith("pcap4py: ") and state.exists(), proc.stderr

    proc = run_cli("reattach", env={"PCAP4PY_RUN_DIR": str(run_dir)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"forgot the attachments of {box.id[:12]}: no such container: {box.id}\n"
    assert not state.exists()
    proc = run_cli("attach", "--restore", env={"PCAP4PY_RUN_DIR": str(run_dir)})
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


@pytest.mark.docker
def test_reattach_keeps_and_checks_the_records_of_a_stopped_container(lan, dockerlab, run_dir):
    veth, gw, ip = lan
    box = dockerlab.run("persist-stopped")
    attach(veth.host_if, box.name, f"{ip}/24@{gw}", persist=True)
    box.sdk.stop(timeout=1)
    [done] = restore()
    assert done.failed == 0 and done.lines[0].startswith(f"skipped {box.id[:12]}: container {box.name} is not running")
    assert (run_dir / "attach" / f"{box.id}.json").exists()


# --------------------------------------------------------------------------- the interface's record


def test_attach_record_round_trip_and_fitting():
    lease = LeaseRecord("198.18.0.120/24", "198.18.0.2", "198.18.0.2", "02:00:c6:12:00:02", 3600, 1_700_000_000)
    route = {"gw": "198.18.9.1", "dev": "eth0", "metric": 100, "proto": 3}
    rec = AttachRecord("p4veth0", 7, "198.18.0.120/24", "198.18.0.2", [route], True, lease=lease,
                       shim="p4s0123abcd")
    alias = rec.to_alias()
    assert AttachRecord.from_alias(alias) == rec and rec.spec.dhcp
    many = AttachRecord("p4veth0", 7, "198.18.0.120/24", "198.18.0.2", [route] * 6, lease=lease)
    fitted = AttachRecord.from_alias(many.to_alias())
    assert len(many.to_alias().encode()) <= IFALIAS_MAX and fitted.prev == [route]


@pytest.mark.parametrize("data", [
    [1, 2, 3], None, {"host": "eth0"}, {"host": "eth0", "hidx": "7"}, {"host": "eth0", "hidx": True},
    {"host": "eth0", "hidx": 7, "shim": "eth0"},  # a forged record naming a host link attach did not make
    {"host": "eth0", "hidx": 7, "peer": "docker0"},
    {"host": "eth0", "hidx": 7, "prev": [None]}, {"host": "eth0", "hidx": 7, "prev": [{"oif": 3}]},
    {"host": "eth0", "hidx": 7, "addr": "198.18.0.300/24"}, {"host": "eth0", "hidx": 7, "dhcp": ["x"]},
    {"host": "eth0", "hidx": 7, "dhcp": ["198.18.0.2", "zz", 1, 2]},
])
def test_an_alias_of_the_wrong_shape_is_no_record(data):
    assert AttachRecord.from_alias("pcap4py-attach " + json.dumps(data, separators=(",", ":"))) is None


def test_a_forged_alias_cannot_make_detach_remove_a_host_interface(guest):
    """Whoever holds CAP_NET_ADMIN in the target (a container may) can write eth1's alias: a record
    naming a host link as its shim, or of the wrong shape, is no record, and detach refuses."""
    import uuid

    victim = f"p4x{uuid.uuid4().hex[:8]}"
    sh("ip", "link", "add", victim, "type", "veth", "peer", "name", f"p4y{victim[3:]}")  # a host link of the test
    try:
        guest.ns.run("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p")
        for forged in ({"host": "lo", "hidx": 1, "shim": victim}, [1, 2, 3], {"host": "lo", "hidx": None}):
            guest.ns.run("ip", "link", "set", "eth1", "alias", "pcap4py-attach " + json.dumps(forged))
            proc = run_cli("detach", guest.path)
            assert proc.returncode == 1 and proc.stderr == \
                f"pcap4py: eth1 in {guest.path} was not made by pcap4py attach; not removing it\n", proc.stderr
            assert sh("ip", "link", "show", victim).returncode == 0
        assert guest.ns.run("ip", "link", "show", "eth1").returncode == 0
    finally:
        sh("ip", "link", "del", victim, check=False)
