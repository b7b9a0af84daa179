"""Dropping root once every capture handle and output file is open.

Like tcpdump's ``-Z USER``: the process takes USER's uid and USER's *own*
primary group from the password database (Debian's ``nobody`` has group
``nogroup``, not ``nobody``), drops every supplementary group, and ends with no
capabilities at all: none permitted, effective, inheritable or ambient, an empty
bounding set, and ``no_new_privs`` set, so that not even an ``exec`` of a
set-uid or file-capability program can give any back.  (The bounding set, the
inheritable set and ``no_new_privs`` belong to the calling thread and the
threads it starts later; the uid and gid change for every thread.)  Open handles and files keep working: the kernel checked
the privilege when they were opened.

Load the JVM, JNA's native stub and open every handle *before* the drop:
JNA unpacks a library into a temporary directory on first use.  Likewise any
Python module imported after the drop must be readable by USER; pcap4py
imports what its exit path needs before dropping.
"""

from __future__ import annotations

import ctypes
import grp
import os
import pwd
import subprocess
import sys
from dataclasses import dataclass
from typing import Union

from .errors import NotFound, PermissionDenied, Pcap4pyError

__all__ = ["DroppedTo", "drop_privileges", "capabilities", "require_can_create"]

DEFAULT_USER = "nobody"
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


@dataclass(frozen=True)
class DroppedTo:
    """Who the process is after :func:`drop_privileges`."""

    user: str
    uid: int
    group: str
    gid: int


def _lookup(user: Union[str, int]) -> pwd.struct_passwd:
    try:
        if isinstance(user, int) or (isinstance(user, str) and user.isdigit()):
            return pwd.getpwuid(int(user))
        return pwd.getpwnam(user)
    except KeyError:
        raise NotFound(f"cannot drop privileges: no such user {user!r}") from None


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def capabilities() -> dict[str, int]:
    """The calling thread's capability sets (CapInh, CapPrm, CapEff, CapBnd, CapAmb) as integers."""
    caps = {}
    with open("/proc/thread-self/status") as f:
        for line in f:
            if line.startswith("Cap"):
                key, value = line.split(":", 1)
                caps[key] = int(value.strip(), 16)
    return caps


def _preload() -> None:
    """Import now what would be imported lazily later, from places USER may not read.

    Python may live where only root can look (``/root/.pyenv``, a root-owned
    virtualenv).  JPype's exit hook imports ``jpype.config``: failing there,
    after the drop, aborts the JVM (SIGABRT, "exception not rethrown") as the
    capture ends.
    """
    if "jpype" in sys.modules:
        import jpype.config  # noqa: F401


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, arg: int) -> None:
    if _libc().prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _empty_bounding_set() -> None:
    """No capability may be gained again through exec (needs CAP_SETPCAP: call while root)."""
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for cap in range(last + 1):
        _prctl(_PR_CAPBSET_DROP, cap)


def _empty_inheritable_set() -> None:
    """setresuid clears the permitted, effective and ambient sets, but not the inheritable one."""
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # two {effective, permitted, inheritable} words, all zero
    if _libc().capset(header, data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def drop_privileges(user: Union[str, int] = DEFAULT_USER) -> DroppedTo:
    """Become ``user`` (a name or uid) for good: no supplementary groups, its primary group, no capabilities.

    Raises :class:`NotFound` for an unknown user, :class:`PermissionDenied` when
    the process may not change its ids (not root), :class:`Pcap4pyError` if any
    capability survives.  Dropping to the user the process already is changes
    nothing.
    """
    entry = _lookup(user)
    uid, gid = entry.pw_uid, entry.pw_gid
    target = DroppedTo(entry.pw_name, uid, _group_name(gid), gid)
    if os.getresuid() == (uid, uid, uid) and os.getresgid() == (gid, gid, gid):
        return target
    _preload()
    try:
        # groups first, then gid, then uid: after setuid nothing else may change
        # (glibc applies each call to every thread of the process, JVM threads included)
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        if uid != 0:
            _empty_bounding_set()
            _prctl(_PR_SET_NO_NEW_PRIVS, 1)
        os.setresuid(uid, uid, uid)
        if uid != 0:
            _empty_inheritable_set()
    except PermissionError:
        raise PermissionDenied(
            f"cannot drop privileges to {entry.pw_name}: this process (uid {os.getuid()}) "
            f"may not change its user and groups (run as root)") from None
    if uid != 0:
        left = {k: v for k, v in capabilities().items() if v}
        if left:  # e.g. SECBIT_KEEP_CAPS was set by someone: refuse to carry on privileged
            raise Pcap4pyError(f"capabilities survived the drop to {entry.pw_name}: {left}")
    return target


def ids_of(user: Union[str, int]) -> tuple[int, int]:
    """The uid and primary gid that :func:`drop_privileges` would take for ``user``."""
    entry = _lookup(user)
    return entry.pw_uid, entry.pw_gid


def require_can_create(user: Union[str, int], directory: str) -> None:
    """Raise :class:`PermissionDenied` unless ``user``, as :func:`drop_privileges` leaves it (its uid,
    its primary group, no other group), may create files in ``directory``.

    Asked of the kernel by a child that has dropped to those ids (``test -w -a -x``, which calls
    access(2)), so that modes, ACLs and read-only mounts all count: files rotated after ``-Z`` are
    created by that user (tcpdump issue 448: there the capture fails at its first rotation).
    """
    uid, gid = ids_of(user)
    if os.geteuid() == uid:
        return
    try:
        ok = subprocess.run(["test", "-w", directory, "-a", "-x", directory], user=uid, group=gid,
                            extra_groups=[], timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError) as e:
        raise PermissionDenied(f"cannot check whether {user} may create files in {directory}: {e}") from e
    if not ok:
        raise PermissionDenied(f"-Z {user}: {user} (uid {uid}, gid {gid}) may not create files in "
                               f"{directory}, where the rotated files go")
