"""Entering a network namespace on one thread, and always coming back.

``setns(CLONE_NEWNET)`` changes only the calling OS thread, and a socket keeps
the namespace it was created in.  So pcap4py opens handles on a short-lived
thread that enters the target namespace, opens what it must, returns home and
ends: the interpreter's and the JVM's other threads never leave home.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar, Union

from .errors import NotFound, PermissionDenied, Pcap4pyError

CLONE_NEWNET = 0x40000000

T = TypeVar("T")
NetnsRef = Union[str, int]  # a PID (int or digits), a name under /run/netns, or a namespace file path

SELF = "/proc/thread-self/ns/net"  # the calling thread's own namespace

# the process's own symbols (libc is linked in): no find_library, which runs ldconfig at import
_libc = ctypes.CDLL(None, use_errno=True)


def netns_path(ref: NetnsRef) -> str:
    """The namespace file for a PID (an int or a string of digits), a name under /run/netns, or a path.

    Pure: it looks at nothing; :func:`resolve_netns` checks the file.
    """
    if isinstance(ref, int) or ref.isdigit():
        return f"/proc/{int(ref)}/ns/net"
    if os.sep not in ref:
        return f"/run/netns/{ref}"
    return ref


def _nsfs_device() -> int:
    """The device of the kernel's namespace filesystem: every namespace file (/proc/PID/ns/*, and the
    bind mounts of ``ip netns`` under /run/netns) is an inode on it."""
    return os.stat(SELF).st_dev


def _file_kind(mode: int) -> str:
    for test, word in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return word
    return "an ordinary file"


def _missing(ref: NetnsRef, path: str) -> NotFound:
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        return NotFound(f"no process {int(ref)} (so no network namespace {path})")
    return NotFound(f"no network namespace at {path}")


def _check_namespace_file(st: os.stat_result, path: str) -> None:
    if not stat.S_ISREG(st.st_mode) or st.st_dev != _nsfs_device():
        raise Pcap4pyError(f"{path} is not a network namespace ({_file_kind(st.st_mode)}): "
                           f"give a PID, a name under /run/netns or a namespace file such as /proc/PID/ns/net")


def _os_failure(ref: NetnsRef, path: str, err: OSError) -> Pcap4pyError:
    if err.errno == errno.ENOENT or err.errno == errno.ESRCH:
        return _missing(ref, path)
    if err.errno in (errno.EACCES, errno.EPERM):
        return PermissionDenied(f"cannot open {path}: permission denied (run as root)")
    return Pcap4pyError(f"cannot open {path}: {err.strerror}")


def resolve_netns(ref: NetnsRef) -> str:
    """The checked namespace file of ``ref`` (see :func:`netns_path`).

    Only ``stat`` is used, never ``open``, so a FIFO or a device named by mistake
    is refused at once instead of blocking or acting.  Raises :class:`NotFound`
    (no such process or file), :class:`PermissionDenied` (EACCES: the file
    exists but is not ours to look at) or :class:`Pcap4pyError` (not a
    namespace file).
    """
    if not isinstance(ref, (int, str)) or isinstance(ref, bool) or ref == "":
        raise NotFound(f"bad network namespace {ref!r}: give a PID, a name under /run/netns or a path")
    path = netns_path(ref)
    try:
        st = os.stat(path)
    except OSError as e:
        raise _os_failure(ref, path, e) from e
    _check_namespace_file(st, path)
    return path


def open_netns(ref: NetnsRef) -> int:
    """A read-only file descriptor on the namespace ``ref`` (checked by :func:`resolve_netns`).

    The open is non-blocking and the descriptor is checked again with ``fstat``,
    so a file swapped for a FIFO between the two looks still cannot hang it.
    The caller closes the descriptor.
    """
    path = resolve_netns(ref)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as e:
        raise _os_failure(ref, path, e) from e
    try:
        _check_namespace_file(os.fstat(fd), path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _setns(fd: int, what: str) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        if err == errno.EPERM:
            raise PermissionDenied(f"no permission to enter network namespace {what}: CAP_SYS_ADMIN is missing "
                                   f"(run as root; a rootless container: as the user who owns it)")
        raise Pcap4pyError(f"cannot enter network namespace {what}: {os.strerror(err)}")


@contextmanager
def entered(ref: NetnsRef) -> Iterator[None]:
    """Run the body with the *current thread* inside the namespace ``ref``.

    Prefer :func:`run_in_netns`, which confines the switch to a thread of its own.
    """
    path = netns_path(ref)
    target = open_netns(ref)
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


@contextmanager
def pinned(ref: NetnsRef) -> Iterator[str]:
    """Open namespace ``ref`` once and yield a path to *that* open file (``/proc/self/fd/N``).

    Every later open of the yielded path reaches the namespace that was open at
    the start, even if the process ``ref`` named has exited and its PID has
    been reused meanwhile: nothing can land in the wrong process's namespace.
    """
    fd = open_netns(ref)
    try:
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def other_namespaces() -> Iterator[str]:
    """A path to every other network namespace reachable here, each once: the names under
    /run/netns, then those of running processes (a namespace nobody holds that way is missed)."""
    seen = {netns_key()}
    candidates = [os.path.join("/run/netns", n) for n in _listdir("/run/netns")]
    candidates += [f"/proc/{p}/ns/net" for p in _listdir("/proc") if p.isdigit()]
    for path in candidates:
        try:
            st = os.stat(path)
        except OSError:
            continue  # the process ended meanwhile, or the name was removed
        key = (st.st_dev, st.st_ino)
        if key not in seen:
            seen.add(key)
            yield path


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []
