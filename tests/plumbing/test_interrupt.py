"""SIGINT and SIGTERM during attach and mirror build roll everything back (issue 15 row 2).

Two ways in, both with real kernel objects and real signals:

* deterministic: the transaction's hook sends the signal to this process right
  after step k, for every step of attach and of mirror build, both signals;
* seeded: a long-lived child process runs the CLI command again and again and
  the test sends it a real signal at a seeded random delay across the
  command's run time (calibrated on an uninterrupted run).

After each run nothing may be left: links (no ``p4m...`` macvlan anywhere),
addresses, routes, qdiscs, filters, the promiscuous flag, the mirror bridge,
the mirror's state file; for issue 14's steps the host shim and its route, the
veth pair and the bridge attach made (a VLAN device's step is covered only on
a kernel with 802.1Q: tests/plumbing/test_pipework.py).
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
import uuid

import pytest

from pcap4py.errors import Interrupted
from pcap4py.plumbing import detach as detach_mod
from pcap4py.plumbing import macvlan, mirror
from pcap4py.plumbing.transaction import HOOKS
from tests.fixtures.netlab import delete_namespace, next_subnet
from tests.plumbing.test_attach import Guest, host_snapshot, macvlans_on, ns_snapshot
from tests.plumbing.test_mirror import Lan, link_exists, tc_state

SIGNALS = (signal.SIGINT, signal.SIGTERM)
ATTACH_STEPS = ["promisc", "create", "move", "name", "mac", "up", "address", "gateway", "announce"]
BUILD_STEPS = ["bridge", "bridge up", "promisc", "clsact", "ingress filter", "egress filter", "state"]
SEED = 15  # the number: the delays are the same on every run
RUNS = 50


@pytest.fixture
def attach_world(veth):
    """(host_if, guest, address spec) on the fake LAN of test_attach."""
    veth.ns.run("sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
    guest = Guest(veth)
    try:
        yield veth.host_if, guest, f"{veth.ip(77)}/24@{veth.peer_ip}"
    finally:
        delete_namespace(guest.ns)


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    """A run directory of the test's own for the mirror's state files (this process and its children)."""
    monkeypatch.setenv("PCAP4PY_RUN_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def mirror_world(run_dir):
    lab = Lan(next_subnet())
    try:
        yield lab
    finally:
        lab.close()


def attach_state(host_if: str, guest: Guest) -> tuple:
    return ns_snapshot(guest.ns.name), host_snapshot(host_if), macvlans_on(host_if, [guest.ns.name])


def mirror_state(lab: Lan) -> tuple:
    state_files = sorted(p.name for p in mirror._run_dir().glob("*"))
    return tc_state(lab.src), link_exists(lab.mirror_bridge), state_files


def _signal_after(step: str, signum: int):
    def hook(name: str) -> None:
        if name == step:
            os.kill(os.getpid(), signum)
    return hook


def _interrupted(call, step: str, signum: int) -> Interrupted:
    hook = _signal_after(step, signum)
    before = signal.getsignal(signum)
    HOOKS.append(hook)
    try:
        with pytest.raises(Interrupted) as caught:
            call()
    finally:
        HOOKS.remove(hook)
    assert signal.getsignal(signum) is before  # the deferring handler is gone again
    return caught.value


# --------------------------------------------------------------------------- deterministic: after step k


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("step", ATTACH_STEPS)
def test_signal_after_each_attach_step_rolls_back(attach_world, step, signum):
    host_if, guest, spec = attach_world
    before = attach_state(host_if, guest)
    err = _interrupted(lambda: macvlan.attach(host_if, guest.path, spec, mac="02:00:0a:e7:00:51", promisc=True),
                       step, signum)
    assert str(err) == f"interrupted by {signal.Signals(signum).name}: attach rolled back"
    assert err.exit_code == 128 + signum
    assert attach_state(host_if, guest) == before


@pytest.mark.skipif(signal.getsignal(signal.SIGHUP) == signal.SIG_IGN, reason="run under nohup")
def test_sighup_during_attach_rolls_back_like_the_other_stop_signals(attach_world):
    """SIGHUP stops a capture (pcap4py.signals.STOP_SIGNALS); in a transaction it was not deferred
    and killed the process half-way."""
    host_if, guest, spec = attach_world
    before = attach_state(host_if, guest)
    err = _interrupted(lambda: macvlan.attach(host_if, guest.path, spec), "address", signal.SIGHUP)
    assert str(err) == "interrupted by SIGHUP: attach rolled back" and err.exit_code == 129
    assert attach_state(host_if, guest) == before


SHIM_STEPS = ["promisc", "create", "move", "name", "mac", "up", "address", "gateway", "shim", "announce"]
BRIDGE_STEPS = ["bridge", "promisc", "veth", "move", "name", "mac", "up", "address", "gateway", "announce"]


def host_side(host_if: str) -> tuple:
    """This lab's links in the test namespace (host_if, its VLAN devices, what hangs on them: the shim)
    and the host routes to the guest's address."""
    links = json.loads(subprocess.run(["ip", "-j", "-d", "link", "show"], capture_output=True, text=True).stdout)
    mine = sorted(l["ifname"] for l in links
                  if l["ifname"].startswith(host_if) or str(l.get("link") or "").startswith(host_if))
    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    return mine, sorted(r for r in routes.splitlines() if host_if in r or "dev p4s" in r)  # only shims make p4s*


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("step", SHIM_STEPS)
def test_signal_after_each_host_shim_attach_step_rolls_back(attach_world, step, signum):
    host_if, guest, spec = attach_world
    before = attach_state(host_if, guest), host_side(host_if)
    err = _interrupted(lambda: macvlan.attach(host_if, guest.path, spec, mac="U:", promisc=True, host_shim=True),
                       step, signum)
    assert str(err) == f"interrupted by {signal.Signals(signum).name}: attach rolled back"
    assert (attach_state(host_if, guest), host_side(host_if)) == before


@pytest.fixture
def bridge_name():
    name = f"br{uuid.uuid4().hex[:6]}"
    yield name
    subprocess.run(["ip", "link", "del", name], capture_output=True)


def bridge_state(bridge: str, guest: Guest) -> tuple:
    links = json.loads(subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True).stdout)
    ours = sorted(l["ifname"] for l in links if l["ifname"] == bridge or l.get("master") == bridge
                  or l["ifname"].startswith("p4v"))  # only bridge attaches make p4v* veths
    return ours, ns_snapshot(guest.ns.name)


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("step", BRIDGE_STEPS)
def test_signal_after_each_bridge_attach_step_rolls_back_and_the_bridge_made_goes(attach_world, bridge_name, step,
                                                                                  signum):
    _, guest, spec = attach_world
    before = bridge_state(bridge_name, guest)
    assert before[0] == []
    err = _interrupted(lambda: macvlan.attach(bridge_name, guest.path, spec), step, signum)
    assert str(err) == f"interrupted by {signal.Signals(signum).name}: attach rolled back"
    assert bridge_state(bridge_name, guest) == before


def test_failure_in_a_bridge_attach_keeps_a_bridge_it_did_not_make(attach_world, bridge_name):
    _, guest, spec = attach_world
    subprocess.run(["ip", "link", "add", bridge_name, "type", "bridge"], check=True)
    before = bridge_state(bridge_name, guest)
    err = _interrupted(lambda: macvlan.attach(bridge_name, guest.path, spec), "address", signal.SIGTERM)
    assert "rolled back" in str(err) and bridge_state(bridge_name, guest) == before


def test_signal_during_detach_of_shim_and_bridge_lets_it_finish(attach_world, bridge_name):
    host_if, guest, spec = attach_world
    before = attach_state(host_if, guest), host_side(host_if)
    macvlan.attach(host_if, guest.path, spec, host_shim=True)
    err = _interrupted(lambda: detach_mod.detach(guest.path), "delete", signal.SIGINT)
    assert str(err) == "interrupted by SIGINT: detach finished first"
    assert (attach_state(host_if, guest), host_side(host_if)) == before
    before = bridge_state(bridge_name, guest)
    macvlan.attach(bridge_name, guest.path, spec)
    err = _interrupted(lambda: detach_mod.detach(guest.path), "delete", signal.SIGTERM)
    assert str(err) == "interrupted by SIGTERM: detach finished first"
    assert bridge_state(bridge_name, guest) == before


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("step", BUILD_STEPS)
def test_signal_after_each_mirror_build_step_rolls_back(mirror_world, step, signum):
    lab = mirror_world
    before = mirror_state(lab)
    err = _interrupted(lambda: mirror.mirror_build(lab.src, lab.mirror_bridge), step, signum)
    assert str(err) == f"interrupted by {signal.Signals(signum).name}: mirror build rolled back"
    assert mirror_state(lab) == before
    assert not link_exists(lab.mirror_bridge)


def test_signal_during_teardown_and_detach_lets_them_finish(attach_world, mirror_world):
    host_if, guest, spec = attach_world
    before = attach_state(host_if, guest)
    macvlan.attach(host_if, guest.path, spec, promisc=True)
    err = _interrupted(lambda: detach_mod.detach(guest.path), "delete", signal.SIGTERM)
    assert str(err) == "interrupted by SIGTERM: detach finished first"
    assert attach_state(host_if, guest) == before

    lab = mirror_world
    before = mirror_state(lab)
    mirror.mirror_build(lab.src, lab.mirror_bridge)
    err = _interrupted(lambda: mirror.mirror_teardown(lab.src, lab.mirror_bridge), "ingress filter", signal.SIGINT)
    assert str(err) == "interrupted by SIGINT: mirror teardown finished first"
    assert mirror_state(lab) == before


# --------------------------------------------------------------------------- seeded: real signals, real processes


# runs CLI commands read from stdin, one JSON list of arguments a line, and answers with one JSON line each
_DRIVER = r"""
import contextlib, io, json, signal, sys, time
from pcap4py.cli import main
late = []
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, lambda n, f: late.append(n))  # a signal outside the command: noted, not fatal
print(json.dumps("ready"), flush=True)
for line in sys.stdin:
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(json.loads(line), standalone_mode=False)
            code = 0
        except SystemExit as e:
            code = e.code or 0
    print(json.dumps({"code": code, "out": out.getvalue(), "err": err.getvalue(), "late": late[:],
                      "took": time.monotonic() - started}), flush=True)
    late.clear()
"""


class Driver:
    """The child process that runs the commands."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", _DRIVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=dict(os.environ))
        assert self.answer(timeout=30) == "ready"

    def send(self, args: list[str]) -> None:
        self.proc.stdin.write(json.dumps(args) + "\n")
        self.proc.stdin.flush()

    def answer(self, timeout: float = 20):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, f"the driver did not answer within {timeout}s: {self.proc.poll()}"
        line = self.proc.stdout.readline()
        assert line, f"the driver ended: {self.proc.wait(5)} {self.proc.stderr.read()}"
        return json.loads(line)

    def run(self, args: list[str]) -> dict:
        self.send(args)
        return self.answer()

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def driver(run_dir):  # after run_dir: the child inherits PCAP4PY_RUN_DIR
    d = Driver()
    try:
        yield d
    finally:
        d.close()


def interrupt_runs(driver: Driver, args: list[str], undo, check, what: str) -> dict:
    """Run ``args`` RUNS times, each with a real signal at a seeded delay; ``check()`` after each; ``undo()``
    after a run the signal came too late to stop.  Returns how the runs ended."""
    took = []
    for _ in range(4):  # the first run also imports what the command needs: the others say how long it takes
        calibration = driver.run(args)
        assert calibration["code"] == 0, calibration
        took.append(calibration["took"])
        undo()
    span = min(took[1:])
    rng = random.Random(SEED)
    outcome = {"rolled back": 0, "before": 0, "completed": 0}
    for _ in range(RUNS):
        signum, delay = rng.choice(SIGNALS), rng.uniform(0, span)
        name = signal.Signals(signum).name
        driver.send(args)
        time.sleep(delay)
        os.kill(driver.proc.pid, signum)
        res = driver.answer()
        if res["code"] == 0:  # the signal came after the command was done (or before it began)
            outcome["completed"] += 1
            undo()
        elif res["err"] == f"pcap4py: interrupted by {name}: {what} rolled back\n":
            outcome["rolled back"] += 1
        else:
            assert res["err"] == f"pcap4py: interrupted by {name} before {what} changed anything\n", res
            outcome["before"] += 1
        if res["code"]:
            assert res["code"] == 128 + signum and not res["out"], res
        check()
    return outcome


def test_seeded_signals_during_cli_attach(attach_world, driver):
    host_if, guest, spec = attach_world
    before = attach_state(host_if, guest)

    def check():
        assert attach_state(host_if, guest) == before

    outcome = interrupt_runs(driver, ["attach", host_if, guest.path, spec, "--promisc"],
                             lambda: detach_mod.detach(guest.path), check, "attach")
    print("attach:", outcome)
    assert outcome["rolled back"] >= RUNS // 4, outcome  # most signals land inside the transaction


def test_seeded_signals_during_cli_mirror_build(mirror_world, driver):
    lab = mirror_world
    before = mirror_state(lab)

    def check():
        assert mirror_state(lab) == before

    outcome = interrupt_runs(driver, ["mirror", "build", lab.src, lab.mirror_bridge],
                             lambda: mirror.mirror_teardown(lab.src, lab.mirror_bridge), check, "mirror build")
    print("mirror build:", outcome)
    assert outcome["rolled back"] >= RUNS // 4, outcome
