"""pcap4py's exception hierarchy.

Every error pcap4py raises on purpose derives from :class:`Pcap4pyError`, so a
caller can catch one class; the subclasses say what went wrong, in the style of
the Docker SDK (``NotFound``, ``APIError``).  Each message is one line that a
user can act on; the CLI prints it as ``pcap4py: <message>`` and exits non-zero.
"""

from __future__ import annotations

__all__ = [
    "Pcap4pyError",
    "NotFound",
    "InterfaceNotFound",
    "ContainerNotFound",
    "RuntimeNotServed",
    "SelectionError",
    "JarsNotFound",
    "NoJavaFound",
    "LibpcapNotFound",
    "JvmStartError",
    "PermissionDenied",
    "FilterError",
    "CaptureFileError",
    "CaptureWriteError",
    "CaptureError",
    "HandleClosed",
    "HandleBusy",
    "PacketParseError",
    "OutOfRange",
    "TimeoutExpired",
    "DockerError",
    "DockerUnavailable",
    "ContainerNotRunning",
    "HostNetworkContainer",
    "NetlinkError",
    "AddressError",
    "DhcpError",
    "Interrupted",
    "StateFileError",
    "RemoteHostError",
    "SidecarError",
]


class Pcap4pyError(Exception):
    """Base class of every pcap4py error."""

    #: process exit status the CLI uses for this kind of error
    exit_code = 1


class NotFound(Pcap4pyError):
    """Something named by the user does not exist."""


class InterfaceNotFound(NotFound):
    """No network interface of that name (in the namespace that was searched)."""


class ContainerNotFound(NotFound):
    """No Docker container matches the name or id prefix."""


class JarsNotFound(NotFound):
    """The Pcap4J jars are missing (not built, or ``PCAP4PY_JARS`` points nowhere)."""


class NoJavaFound(NotFound):
    """No Java runtime could be found to start the JVM."""


class LibpcapNotFound(NotFound):
    """libpcap cannot be loaded (not installed, or ``org.pcap4j.core.pcapLibName`` names no library)."""


class JvmStartError(Pcap4pyError):
    """A Java runtime was found but the JVM would not start (a broken runtime, a bad JVM option)."""


class PermissionDenied(Pcap4pyError):
    """The process lacks a privilege (usually ``CAP_NET_RAW`` or ``CAP_NET_ADMIN``)."""

    exit_code = 2


class FilterError(Pcap4pyError):
    """A BPF filter expression does not compile.

    ``expression`` is the filter, ``position`` the 0-based character offset of
    the token where it stops making sense (or ``None``), ``reason`` libpcap's own
    message.
    """

    def __init__(self, expression: str, reason: str, position: int | None = None):
        self.expression = expression
        self.reason = reason
        self.position = position
        where = f" at column {position + 1}" if position is not None else ""
        super().__init__(f"bad filter expression {expression!r}{where}: {reason}")

    def caret_line(self) -> str:
        """The expression with a ``^`` under the offending token, for terminals (control
        characters escaped, the caret under the token still)."""
        from .text import printable

        if self.position is None:
            return printable(self.expression)
        return f"{printable(self.expression)}\n{' ' * len(printable(self.expression[:self.position]))}^"


class CaptureFileError(Pcap4pyError):
    """A capture file cannot be read or written (missing, unreadable, not pcap)."""


class CaptureWriteError(CaptureFileError):
    """Writing a capture file failed: the disk is full, the reader of a pipe has gone, an I/O error.

    ``path`` is the file, ``errno`` the system's error number, ``written`` how
    many packets the file holds intact (``None`` if not known).
    """

    def __init__(self, path: str, errno: int, written: int | None = None):
        import os

        self.path = path
        self.errno = errno
        self.written = written
        count = "" if written is None else f" ({written} packets written)"
        super().__init__(f"cannot write {path}: {os.strerror(errno)}{count}")


class CaptureError(Pcap4pyError):
    """libpcap refused an operation on an open handle."""


class HandleClosed(CaptureError):
    """An operation on a handle or capture that was already closed."""


class HandleBusy(CaptureError):
    """A handle read by a second iteration (another thread's) while one is reading it."""


class PacketParseError(Pcap4pyError):
    """Pcap4J could not parse a frame (a malformed or truncated packet)."""


class OutOfRange(Pcap4pyError, ValueError):
    """A number given by the caller (a count, a duration, a buffer size...) is outside its limits."""


class TimeoutExpired(Pcap4pyError):
    """A wait (for example :func:`pcap4py.wait_for_ping`) ran out of time."""

    exit_code = 3


class SelectionError(Pcap4pyError, ValueError):
    """A container selection that cannot be understood (a bad ``--label``, names with ``all``):
    a usage error."""

    exit_code = 2


class DockerError(Pcap4pyError):
    """Base class of Docker-related errors."""


class DockerUnavailable(DockerError):
    """The Docker daemon cannot be reached."""


class RuntimeNotServed(DockerUnavailable):
    """A runtime's socket is there but does not serve that runtime's API (a containerd whose CRI
    plugin is disabled, as Docker's is): found by discovery, it is skipped without a warning."""


class ContainerNotRunning(DockerError):
    """The container exists but is not running, so it has no network namespace."""


class HostNetworkContainer(DockerError):
    """The container shares the host's network namespace."""


class NetlinkError(Pcap4pyError):
    """A netlink operation (attach, detach, mirror) failed."""


class AddressError(Pcap4pyError, ValueError):
    """An IP address, prefix, gateway or MAC given by the user is malformed or inconsistent."""


class DhcpError(Pcap4pyError):
    """No DHCP lease: no server answered in time, or its answer was unusable."""


class Interrupted(Pcap4pyError):
    """A stop signal (SIGINT, SIGTERM, SIGHUP) arrived while attach, detach or a mirror changed the
    kernel: the change was rolled back (or, for a teardown, finished).  Exit status 128 + the
    signal number."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


class StateFileError(Pcap4pyError):
    """A file pcap4py keeps about what it made (under ``/run/pcap4py``) cannot be read, or is not
    what pcap4py writes there (not JSON, or not an attach record).  ``reason`` is the message
    without the file's name."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message


class KubeError(Pcap4pyError):
    """The Kubernetes API refused or failed a request (or its client is not installed)."""


class PodUnreachable(KubeError):
    """One pod cannot be captured (no ephemeral containers, RBAC refusal, image absent, ...)."""


class RemoteHostError(DockerError):
    """A remote Docker host (``capture --host``, ``--context``) cannot be reached or used: a bad
    URL or context, TLS material missing, the engine not answering."""


class SidecarError(DockerError):
    """One container on a remote host cannot be captured (not found, not running, the capture
    sidecar refused or failed to start, the image could not be loaded)."""
