"""Capturing a rootless container as the user who owns it, without root.

Such a user has no capability on the host, but a rootless container's network namespace belongs
to a user namespace the user owns, and the owner of a user namespace holds every capability in
it.  So the user may enter it: first the user namespace (:func:`join_owner`), then the network
namespace, and capture there.  Two rules of the kernel shape how:

- a process joins a user namespace only while it has one thread (``setns(2)``, EINVAL), and the
  JVM makes threads: the whole process joins before the JVM starts, and stays (it cannot come
  back either: the host's network namespace is not the container's user namespace's to enter);
- once there, the other network namespaces of that user namespace (the user's other
  containers) can still be entered one thread at a time, as usual (:mod:`pcap4py.netns`).

``setns`` is called through ctypes (the process's own libc), as :mod:`pcap4py.netns` does,
rather than by re-running pcap4py under ``nsenter``: the process keeps what it has found and
opened, and nothing outside Python is needed.  Only the namespaces change, not the credentials: files
are still created by the user's own uid (in the container, that uid is ``root``), and paths are the
host's (the mount namespace is not entered).

Listing (``pcap4py containers``) enters nothing for good: each namespace is read by another,
single-threaded process (:func:`in_owned`).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import importlib
import os
import pickle
import struct
import subprocess
import sys
from typing import Callable, TypeVar

from .errors import PermissionDenied, Pcap4pyError
from .netns import CLONE_NEWNET, NetnsRef, netns_path, open_netns

__all__ = ["owner_of", "must_join", "join_owner", "in_owned"]

T = TypeVar("T")
CLONE_NEWUSER = 0x10000000
NS_GET_USERNS = 0xB701  # ioctl on a namespace file: a descriptor on the user namespace that owns it
NS_GET_OWNER_UID = 0xB704  # ioctl on a user namespace: the uid of its creator (its owner)
CAP_SYS_ADMIN = 21
READER_TIMEOUT_S = 60

_libc = ctypes.CDLL(None, use_errno=True)


def _user_namespace(netns_fd: int) -> int:
    """A descriptor on the user namespace owning network namespace ``netns_fd`` (the caller closes it)."""
    return fcntl.ioctl(netns_fd, NS_GET_USERNS)


def owner_of(ref: NetnsRef) -> int:
    """The uid owning the user namespace that network namespace ``ref`` belongs to (0: the host's)."""
    fd = open_netns(ref)
    try:
        user = _user_namespace(fd)
        try:
            return struct.unpack("I", fcntl.ioctl(user, NS_GET_OWNER_UID, b"\0" * 4))[0]
        finally:
            os.close(user)
    finally:
        os.close(fd)


def _has_sys_admin() -> bool:
    """Whether the calling thread may enter namespaces of its own user namespace (CAP_SYS_ADMIN)."""
    with open("/proc/thread-self/status") as f:
        eff = next(int(line.split(":")[1], 16) for line in f if line.startswith("CapEff:"))
    return bool(eff >> CAP_SYS_ADMIN & 1)


def must_join(ref: NetnsRef) -> bool:
    """Whether namespace ``ref`` is reached only through its owner's user namespace: this process
    lacks CAP_SYS_ADMIN where it is, but is that namespace's owner (a user and their rootless
    container).  Root, or a process already inside, enters as usual."""
    if _has_sys_admin():
        return False
    try:
        return owner_of(ref) == os.geteuid() != 0
    except OSError:
        return False  # not ours to look at: entering it says why


def _setns(fd: int, kind: int, what: str) -> None:
    if _libc.setns(fd, kind) != 0:
        err = ctypes.get_errno()
        if err == errno.EPERM:
            raise PermissionDenied(f"no permission to enter {what}: CAP_SYS_ADMIN is missing there")
        raise Pcap4pyError(f"cannot enter {what}: {os.strerror(err)}")


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _enter(ref: NetnsRef) -> None:
    """Move the calling (only) thread into the user namespace owning ``ref``, then into ``ref``."""
    path = netns_path(ref)
    fd = open_netns(ref)
    try:
        user = _user_namespace(fd)
        try:
            _setns(user, CLONE_NEWUSER, f"the user namespace of {path}")
        finally:
            os.close(user)
        _setns(fd, CLONE_NEWNET, f"network namespace {path}")
    finally:
        os.close(fd)


def join_owner(ref: NetnsRef) -> bool:
    """If :func:`must_join` says so, move this whole process into the user namespace owning
    network namespace ``ref``, and into ``ref`` itself, for good; True if it did.

    Call it before the JVM starts: raises :class:`Pcap4pyError` if the process has more than one
    thread by then.
    """
    if not must_join(ref):
        return False
    threads = _threads()
    if threads != 1:
        raise Pcap4pyError(f"cannot enter the user namespace of {netns_path(ref)}: this process has {threads} "
                           f"threads (the JVM is running?); a process joins a user namespace before it "
                           f"starts any, so capture rootless containers before anything else")
    _enter(ref)
    return True


def in_owned(ref: NetnsRef, fn: Callable[[], T]) -> T:
    """``fn()`` (a module-level function), called inside namespace ``ref`` (through its owner's user
    namespace) by another process, its result sent back pickled; the calling process enters nothing.

    For reading a namespace the caller owns but may not enter (see :func:`must_join`).  The other
    process is a fork when this one has a single thread (fast), else a new interpreter: a forked
    copy of a process whose other threads (the JVM's) held a lock at that moment can wait for it
    forever.
    """
    path = netns_path(ref)
    if _threads() == 1:
        answer, status, said = _forked(path, fn)
    else:
        answer, status, said = _interpreter(path, f"{fn.__module__}:{fn.__qualname__}")
    try:
        kind, value = pickle.loads(answer)
    except Exception:  # noqa: BLE001 - it died before answering: its last words say why
        last = said.decode(errors="replace").strip().splitlines()
        raise Pcap4pyError(f"cannot read network namespace {path}: "
                           f"{last[-1] if last else f'its reader ended with status {status}'}") from None
    if kind == "error":
        raise value
    return value


def _forked(path: str, fn: Callable[[], T]) -> tuple[bytes, int, bytes]:
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(reader)
            with os.fdopen(writer, "wb") as out:
                out.write(_answer(path, fn))
        finally:
            os._exit(0)  # never back into the caller's code
    os.close(writer)
    with os.fdopen(reader, "rb") as got:
        answer = got.read()
    return answer, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), b""


def _interpreter(path: str, target: str) -> tuple[bytes, int, bytes]:
    try:
        proc = subprocess.run([sys.executable, "-m", __name__, path, target], capture_output=True,
                              timeout=READER_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Pcap4pyError(f"cannot read network namespace {path}: {e}") from e
    return proc.stdout, proc.returncode, proc.stderr


def _answer(path: str, fn: Callable[[], T]) -> bytes:
    """In the reader: enter ``path``, call ``fn``, the pickled outcome."""
    try:
        _enter(path)
        box = ("ok", fn())
    except Exception as e:  # noqa: BLE001 - carried to the caller
        box = ("error", e if isinstance(e, Pcap4pyError) else Pcap4pyError(f"{type(e).__name__}: {e}"))
    return pickle.dumps(box)


def _reader(path: str, target: str) -> None:
    """The new interpreter of :func:`in_owned`: ``target`` (``module:function``) in ``path``, pickled."""
    module, name = target.split(":")
    sys.stdout.buffer.write(_answer(path, getattr(importlib.import_module(module), name)))


if __name__ == "__main__":
    _reader(*sys.argv[1:3])
