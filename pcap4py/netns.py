"""Entering a network namespace on one thread, and always coming back.

``setns(CLONE_NEWNET)`` changes only the calling OS thread, and a socket keeps
the namespace it was created in.  So pcap4py opens handles on a short-lived
thread that enters the target namespace, opens what it must, returns home and
ends: the interpreter's and the JVM's other threads never leave home.
"""

from __future__ import annotations

import ctypes
import os
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar, Union

from .errors import NotFound, PermissionDenied, Pcap4pyError

CLONE_NEWNET = 0x40000000

T = TypeVar("T")
NetnsRef = Union[str, int]  # a path such as /run/netns/NAME or /proc/PID/ns/net, or a PID

SELF = "/proc/thread-self/ns/net"  # the calling thread's own namespace

# the process's own symbols (libc is linked in): no find_library, which runs ldconfig at import
_libc = ctypes.CDLL(None, use_errno=True)


def netns_path(ref: NetnsRef) -> str:
    """The namespace file for a PID, a name under /run/netns, or a path."""
    if isinstance(ref, int):
        return f"/proc/{ref}/ns/net"
    if os.sep not in ref:
        return f"/run/netns/{ref}"
    return ref


def _setns(fd: int, what: str) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        if err == 1:  # EPERM
            raise PermissionDenied(f"cannot enter network namespace {what}: CAP_SYS_ADMIN is missing")
        raise Pcap4pyError(f"cannot enter network namespace {what}: {os.strerror(err)}")


@contextmanager
def entered(ref: NetnsRef) -> Iterator[None]:
    """Run the body with the *current thread* inside the namespace ``ref``.

    Prefer :func:`run_in_netns`, which confines the switch to a thread of its own.
    """
    path = netns_path(ref)
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFound(f"no network namespace at {path}") from None
    except PermissionError:
        raise PermissionDenied(f"cannot open {path}: permission denied (run as root)") from None
    home = os.open(SELF, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target, path)
        try:
            yield
        finally:
            # failing to return home would leave this thread capturing the wrong world
            _setns(home, f"of origin ({SELF})")
    finally:
        os.close(target)
        os.close(home)


def run_in_netns(ref: NetnsRef, fn: Callable[..., T], *args, **kwargs) -> T:
    """Call ``fn(*args, **kwargs)`` on a new thread inside namespace ``ref`` and return its result.

    Exceptions propagate to the caller.  Handles and sockets made by ``fn`` stay
    bound to that namespace after the thread has gone home.
    """
    box: dict = {}

    def body() -> None:
        try:
            with entered(ref):
                box["result"] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - handed to the calling thread
            box["error"] = e

    worker = threading.Thread(target=body, name=f"pcap4py-netns-{ref}", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


def netns_key(ref: NetnsRef | None = None) -> tuple[int, int]:
    """(device, inode) of namespace ``ref`` (None: the calling thread's); equal keys mean the
    same namespace."""
    st = os.stat(netns_path(ref) if ref is not None else SELF)
    return st.st_dev, st.st_ino


def thread_netns_id() -> int:
    """The inode of the calling thread's network namespace (to compare two namespaces)."""
    return netns_key()[1]
