"""drop_privileges, run in child processes (a test process cannot take its root back)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CHILD = r"""
import json, os, sys
from pcap4py.privileges import drop_privileges, capabilities
from pcap4py.errors import Pcap4pyError
fd = os.open("/proc/self/status", os.O_RDONLY)   # opened as root, read after the drop
try:
    r = drop_privileges(*sys.argv[1:2])
except Pcap4pyError as e:
    print(json.dumps({"error": type(e).__name__, "message": str(e)})); sys.exit(0)
try:
    os.setuid(0); regained = True
except PermissionError:
    regained = False
print(json.dumps({"user": r.user, "group": r.group, "res_uid": os.getresuid(), "res_gid": os.getresgid(),
                  "groups": os.getgroups(), "caps": capabilities(), "regained": regained,
                  "old_fd_readable": bool(os.pread(fd, 64, 0))}))
"""


def _child(*args: str) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.mark.parametrize("who", ["nobody", "65534"])
def test_drop_to_nobody_takes_its_own_group_and_no_capabilities(who):
    r = _child(who)
    assert (r["user"], r["group"]) == ("nobody", "nogroup")  # Debian: nobody's group is nogroup
    assert r["res_uid"] == [65534] * 3 and r["res_gid"] == [65534] * 3
    assert r["groups"] == []
    assert r["caps"]["CapPrm"] == r["caps"]["CapEff"] == r["caps"]["CapAmb"] == 0
    assert r["regained"] is False
    assert r["old_fd_readable"]  # what was open before the drop keeps working


def test_unknown_user_is_a_clear_error():
    r = _child("p4t-no-such-user")
    assert r == {"error": "NotFound", "message": "cannot drop privileges: no such user 'p4t-no-such-user'"}


def test_unprivileged_process_cannot_switch_user():
    # everything the child imports must be imported before the drop (Python may live under /root)
    code = ("import json, os, sys\nfrom pcap4py.errors import Pcap4pyError\n"
            "from pcap4py.privileges import drop_privileges, capabilities\n"
            "drop_privileges('nobody')\n" + CHILD)
    res = subprocess.run([sys.executable, "-c", code, "daemon"], capture_output=True, text=True, timeout=30)
    r = json.loads(res.stdout)
    assert r["error"] == "PermissionDenied"
    assert r["message"].startswith("cannot drop privileges to daemon: this process (uid 65534)")


def _status(pid: int) -> dict:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def test_running_capture_after_the_drop_has_no_capability_and_no_new_privs():
    import signal
    from tests.fixtures.cli import start_cli, wait_listening

    proc = start_cli("capture", "lo", "-Z", "nobody", "icmp")
    try:
        wait_listening(proc)
        st = _status(proc.pid)
        assert st["Uid"].split() == ["65534"] * 4 and st["Gid"].split() == ["65534"] * 4
        for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(st[key], 16) == 0, (key, st[key])
        assert st["NoNewPrivs"].strip() == "1"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert not os.path.exists(f"/tmp/hsperfdata_root/{proc.pid}")  # issue 15 row 7
        assert not os.path.exists(f"/tmp/hsperfdata_nobody/{proc.pid}")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def test_empty_user_is_a_usage_error_not_a_silent_root_capture():
    from tests.fixtures.cli import run_cli

    proc = run_cli("capture", "lo", "-Z", "", "-c", "1", "icmp")
    assert proc.returncode == 2 and "Invalid value for '-Z'" in proc.stderr, proc.stderr


def test_drop_clears_the_bounding_set_and_sets_no_new_privs():
    r = _child("nobody")
    assert r["caps"]["CapBnd"] == 0 and r["caps"]["CapInh"] == 0
