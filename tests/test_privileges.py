"""drop_privileges, run in child processes (a test process cannot take its root back)."""

from __future__ import annotations

import json
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
