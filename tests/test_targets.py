"""Namespace targets (issue 15 rows 5 and 6), the netlink error boundary, and imports one way.

A target is a PID, a name under /run/netns or a namespace file; anything else is
refused after a ``stat``, before any ``open`` (a FIFO would block ``open`` for
ever).  A namespace that exists but is not ours to look at says "permission
denied", not "no process".
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time

import pytest

from pcap4py.errors import NotFound, Pcap4pyError, PermissionDenied
from pcap4py.netns import netns_path, open_netns, resolve_netns
from tests.fixtures.cli import run_cli

ADDR = "198.18.7.2/24"


def test_fifo_target_is_refused_at_once(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    res = run_cli("attach", "lo", str(fifo), ADDR, timeout=20)  # blocked in open() for ever before
    assert time.monotonic() - started < 15
    assert res.returncode == 1
    assert res.stderr == f"pcap4py: {fifo} is not a network namespace (a FIFO): give a PID, a name under " \
                         f"/run/netns or a namespace file such as /proc/PID/ns/net\n"
    # the same check guards every way in: attach, detach, open_netns (and so capture with netns=)
    for call in (lambda: resolve_netns(str(fifo)), lambda: open_netns(str(fifo))):
        with pytest.raises(Pcap4pyError, match="is not a network namespace .a FIFO."):
            call()


def test_other_files_are_not_namespaces(tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("")
    with pytest.raises(Pcap4pyError, match="is not a network namespace .an ordinary file."):
        resolve_netns(str(plain))
    with pytest.raises(Pcap4pyError, match="is not a network namespace .a directory."):
        resolve_netns(str(tmp_path))
    with pytest.raises(NotFound, match=f"no network namespace at {tmp_path}/none"):
        resolve_netns(str(tmp_path / "none"))


def test_namespace_references(netns):
    assert resolve_netns(netns.name) == netns.path == netns_path(netns.name)
    assert resolve_netns(netns.path) == netns.path
    me = os.getpid()
    assert resolve_netns(me) == resolve_netns(str(me)) == f"/proc/{me}/ns/net"
    with pytest.raises(NotFound, match="no process 4194304 .so no network namespace /proc/4194304/ns/net."):
        resolve_netns(4194304)
    fd = open_netns(netns.name)
    try:
        assert os.fstat(fd).st_ino == os.stat(netns.path).st_ino
    finally:
        os.close(fd)


# run as root, then become nobody with everything imported (the interpreter may live where nobody cannot read)
_AS_NOBODY = (
    "import os, sys, pwd\n"
    "import pcap4py.cli, pcap4py.cli.plumbing, pcap4py.container.plumbing, pcap4py.plumbing.macvlan\n"
    "from pcap4py.netns import resolve_netns\n"
    "nobody = pwd.getpwnam('nobody')\n"
    "os.setgroups([]); os.setresgid(nobody.pw_gid, nobody.pw_gid, nobody.pw_gid)\n"
    "os.setresuid(nobody.pw_uid, nobody.pw_uid, nobody.pw_uid)\n"
    "target = int(sys.argv[1])\n"
    "try:\n    resolve_netns(target)\n"
    "except Exception as e:\n    print(type(e).__name__, e, type(e.__cause__).__name__, flush=True)\n"
    "pcap4py.cli.main(['detach', str(target)])\n")


def test_permission_denied_is_not_no_such_process():
    """An unprivileged user naming a root process's namespace: EACCES, said as such (issue 15 row 6)."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to become nobody and look at a root process")
    target = os.getpid()  # runs as root: its namespace file is not nobody's to look at
    res = subprocess.run([sys.executable, "-c", _AS_NOBODY, str(target)], capture_output=True, text=True,
                         timeout=60)
    assert res.stdout == (f"PermissionDenied cannot open /proc/{target}/ns/net: permission denied "
                          f"(run as root) PermissionError\n"), res.stderr
    # the CLI: one line, exit status 2
    assert res.stderr == f"pcap4py: cannot open /proc/{target}/ns/net: permission denied (run as root)\n"
    assert res.returncode == PermissionDenied.exit_code


def test_netlink_errors_name_the_errno_and_keep_the_cause():
    from pyroute2 import NetlinkError as KernelRefusal

    from pcap4py.plumbing.rtnl import netlink_errors, rtnl

    with rtnl() as ipr:
        with pytest.raises(NotFound, match="^remove link 4194303: no such device$") as caught:
            with netlink_errors("remove link 4194303"):
                ipr.link("del", index=4194303)  # a real refusal: ENODEV
        assert isinstance(caught.value.__cause__, KernelRefusal) and caught.value.__cause__.code == errno.ENODEV
        with pytest.raises(Pcap4pyError, match="^lo exists$"):
            with netlink_errors("add lo", {errno.EEXIST: "lo exists"}):
                ipr.link("add", ifname="lo", kind="dummy")  # EEXIST, with a message of its own
    with pytest.raises(ZeroDivisionError):  # not a kernel refusal: passes through
        with netlink_errors("anything"):
            1 / 0


def test_layers_import_one_way():
    """Plumbing imports neither Docker nor the container layer; the engine and discovery never import capture."""
    code = (
        "import sys\n"
        "import pcap4py.plumbing.macvlan, pcap4py.plumbing.mirror, pcap4py.plumbing.transaction, pcap4py.netns\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('docker', 'requests') "
        "or m.startswith('pcap4py.container'))\n"
        "import pcap4py.container.model, pcap4py.engine.capture, pcap4py.engine.handle\n"
        "bad += [m for m in ('pcap4py.container.capture', 'pcap4py.container.plumbing', 'docker') "
        "if m in sys.modules]\n"
        "print(bad)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.stdout.strip() == "[]", res.stderr


@pytest.mark.docker
def test_run_netns_name_wins_over_a_container_of_the_same_name(dockerlab):
    from pcap4py.container.plumbing import namespace_of

    box = dockerlab.run("nsname")
    assert namespace_of(box.name) == f"/proc/{box.pid}/ns/net"
    subprocess.run(["ip", "netns", "add", box.name], check=True, timeout=30)
    try:
        assert namespace_of(box.name) == box.name
        assert resolve_netns(namespace_of(box.name)) == f"/run/netns/{box.name}"
    finally:
        subprocess.run(["ip", "netns", "del", box.name], timeout=30)
    assert namespace_of(str(box.pid)) == str(box.pid)
