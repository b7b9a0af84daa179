"""The capture sidecar of one container on a remote Docker host: created, attached, streamed, removed.

The sidecar is the bundled image running :mod:`pcap4py.remote.agent` in the network namespace of
the container it captures (``network_mode=container:ID``), with every capability dropped but
``NET_RAW`` and ``NET_ADMIN``, removed by the engine when it exits (``auto_remove``) and by us
when the capture closes, whatever ended it.

Its pcapng comes back through an attach (``POST /containers/ID/attach``, a hijacked HTTP
connection carrying the container's standard streams in frames of an 8-byte header and the bytes
as written), never through its log: the log driver stores output as lines of text in JSON, and
pcapng is not text.  The attach is made before the start and the agent writes nothing before the
first byte of its standard input, so no byte is written before anyone reads.  Standard input is
the lifeline: pcap4py dying closes it, the agent stops and the engine removes the sidecar.
A clean end (Ctrl-C, SIGTERM, ``-c``) is a SIGTERM to the agent, which then writes its counters
(statistics blocks) and exits, ending the stream.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import struct
import time
from typing import Any, Iterator, Optional

from ..errors import SidecarError
from .targets import SIDECAR_LABEL, Target

AGENT = ["python3", "-m", "pcap4py.remote.agent"]
NAME_PREFIX = "pcap4py-sidecar-"
CAPABILITIES = ["NET_RAW", "NET_ADMIN"]
GONE_WAIT = 15.0  # seconds to see the sidecar removed
READ_SIZE = 1 << 16
# bytes gathered from the connection before they are handed on: under load one TLS record
# (16 KiB, a dozen packets) per read made every record cost a demultiplexing pass, a parse, a
# push to Java and a wake-up of the capture; what is already there is taken in one go
GATHER_SIZE = 1 << 18
STDOUT = 1


class Sidecar:
    """The capture sidecar of ``target`` on the engine of ``client`` (see the module).

    ``pod`` and ``name`` make it look like a pod's ephemeral capture to :mod:`.pods`.
    """

    def __init__(self, client: Any, target: Target, image: str, *, filter: Optional[str] = None,
                 snaplen: int = 262144, buffer_kib: Optional[int] = None):
        self.client = client
        self.target = target
        self.pod = target
        self.image = image
        self.name = NAME_PREFIX + os.urandom(4).hex()
        self.id: Optional[str] = None
        self._args = (["--snaplen", str(snaplen)] + (["--filter", filter] if filter else [])
                      + (["--buffer-size", str(buffer_kib)] if buffer_kib else []))  # -B, per interface
        self._sock: Any = None
        self._closed = False

    # --- the steps a stream takes (pods.PodStream: add, wait_running, open_stream) -----------
    def add(self) -> None:
        """Create the sidecar in the target's network namespace (not started yet)."""
        from docker.errors import DockerException

        api = self.client.api
        host_config = api.create_host_config(network_mode=f"container:{self.target.id}", cap_drop=["ALL"],
                                             cap_add=CAPABILITIES, auto_remove=True,
                                             # the engine would also keep every byte of the stream as
                                             # JSON lines in the container's log: half a core of the
                                             # engine's at 30,000 packets/s, and its disk filling up
                                             log_config={"Type": "none", "Config": {}})
        try:
            created = api.create_container(self.image, command=self._args, entrypoint=AGENT, name=self.name,
                                           stdin_open=True, tty=False, detach=False,  # the SDK adds StdinOnce
                                           labels={SIDECAR_LABEL: self.target.id}, host_config=host_config)
        except (DockerException, OSError, ValueError) as e:  # requests' errors are OSErrors
            raise SidecarError(f"{self._where()}: cannot create the capture sidecar: {_first_line(e)}") from None
        self.id = created["Id"]
        if self._closed:  # closed while creating: nothing may stay behind
            self.remove()
            raise SidecarError(f"{self._where()}: the capture was closed")

    def wait_running(self) -> None:
        """Attach to the sidecar's standard streams, then start it."""
        from docker.errors import DockerException

        api = self.client.api
        try:
            self._sock = api.attach_socket(self.id, params={"stdin": 1, "stdout": 1, "stderr": 0, "stream": 1})
            api.start(self.id)
        except (DockerException, OSError, ValueError) as e:
            self.remove()
            raise SidecarError(f"{self._where()}: cannot start the capture sidecar: {_first_line(e)}") from None

    def open_stream(self) -> Iterator[bytes]:
        """Tell the agent to start; its standard output (the pcapng) as it comes, until it ends."""
        try:
            _send(self._sock, b"\n")
        except OSError as e:
            raise SidecarError(f"{self._where()}: cannot reach the capture sidecar: {e}") from None
        return self._read()

    def _read(self) -> Iterator[bytes]:
        """The stdout frames' payloads (the attach multiplexes stdout and stderr)."""
        buf = bytearray()
        try:
            while True:
                data = _recv(self._sock, READ_SIZE)
                if not data:
                    if buf:
                        raise SidecarError(f"the attach stream ends inside a frame ({len(buf)} bytes)")
                    return
                buf += data
                out = bytearray()
                while len(buf) >= 8:
                    kind, length = struct.unpack_from(">BxxxL", buf)
                    if len(buf) < 8 + length:
                        break
                    if kind == STDOUT:
                        out += buf[8:8 + length]
                    del buf[:8 + length]
                if out:
                    yield bytes(out)
        except OSError:
            if not self._closed:
                raise

    # --- the end ----------------------------------------------------------------------------
    def end_input(self) -> None:
        """Ask the agent to finish (SIGTERM): it writes its counters and exits, ending the stream."""
        if self.id is None:
            self._closed = True
            return
        try:
            self.client.api.kill(self.id, signal="SIGTERM")
        except Exception:  # noqa: BLE001 - already exited (and removed): the stream ends anyway
            pass

    def close(self) -> None:
        """End the stream and remove the sidecar (waited for, bounded)."""
        self._closed = True
        sock, self._sock = self._sock, None
        if sock is not None:
            _shut(sock)
        self.remove()

    def remove(self) -> None:
        """Remove the sidecar if it is still there, and wait until the engine no longer lists it."""
        from docker.errors import DockerException, NotFound

        if self.id is None:
            return
        deadline = time.monotonic() + GONE_WAIT
        while time.monotonic() < deadline:
            try:
                self.client.api.remove_container(self.id, force=True)
            except NotFound:
                return
            except DockerException:
                pass  # 409: the engine is removing it already (auto_remove)
            try:
                self.client.api.inspect_container(self.id)
            except NotFound:
                return
            except Exception:  # noqa: BLE001 - the host went away: nothing more can be done from here
                return
            time.sleep(0.2)

    def _where(self) -> str:
        return f"host {self.target.host}: container {self.target.name}"


def _raw(sock: Any) -> Any:
    """The object to read and write: a socket (plain or TLS) or the ssh transport."""
    return getattr(sock, "_sock", sock)


def _send(sock: Any, data: bytes) -> None:
    _raw(sock).sendall(data)


def _recv(sock: Any, n: int) -> bytes:
    raw = _raw(sock)
    proc = getattr(raw, "proc", None)
    if proc is not None:  # ssh: the ssh program's output, as much as is there (never wait for n)
        return proc.stdout.read1(n)
    data = raw.recv(n)
    if not data or not _waiting(raw):
        return data
    pieces, size = [data], len(data)
    while size < GATHER_SIZE and _waiting(raw):
        more = raw.recv(n)
        if not more:
            break  # the end: the next read says so again
        pieces.append(more)
        size += len(more)
    return b"".join(pieces)


def _waiting(raw: Any) -> bool:
    """Whether a read of ``raw`` would find bytes at once (TLS: decrypted, or more arrived)."""
    if isinstance(raw, ssl.SSLSocket) and raw.pending():
        return True
    try:
        return bool(select.select([raw], [], [], 0)[0])
    except (OSError, ValueError, TypeError):
        return False  # closed meanwhile (the next read says so), or no descriptor to ask


def _shut(sock: Any) -> None:
    """Close the attach connection, waking a read blocked on it."""
    raw = _raw(sock)
    if getattr(raw, "proc", None) is not None:
        try:
            raw.close()
        except Exception:  # noqa: BLE001
            pass
        return
    try:
        raw.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        raw.close()
    except OSError:
        pass


def _first_line(error: Any) -> str:
    explanation = getattr(error, "explanation", None)
    return (str(explanation or error).strip().splitlines() or [type(error).__name__])[0]
