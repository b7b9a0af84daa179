"""gRPC for the runtimes that speak it (the CRI, containerd): the generated stubs, a channel to a
unix socket, and the one place where gRPC's errors become pcap4py's.

The stubs are built at install time by ``proto/stubs.py`` from pinned Go modules into
``pcap4py/container/runtimes/gen`` (never committed); ``grpcio`` is the optional extra
``pcap4py[cri]``.  Both are imported here only, inside functions: nothing of gRPC is loaded
unless such a runtime is asked.
"""

from __future__ import annotations

import importlib
import importlib.util
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

from ...errors import DockerError, DockerUnavailable, Pcap4pyError, RuntimeNotServed

__all__ = ["stubs", "load", "available", "channel", "rpc_errors", "socket_path", "is_cancelled", "CALL_TIMEOUT_S"]

GEN = f"{__package__}.gen"
CALL_TIMEOUT_S = 10.0  # one unary call; a runtime that takes longer is stuck


def socket_path(endpoint: str) -> str:
    """The file of a ``unix://PATH`` (or plain ``PATH``) endpoint."""
    return endpoint.removeprefix("unix://")


def available(module: str) -> bool:
    """Whether grpcio and the generated ``module`` (``cri_pb2``, ``containerd``...) are installed,
    without importing either."""
    try:
        return importlib.util.find_spec("grpc") is not None and importlib.util.find_spec(f"{GEN}.{module}") is not None
    except (ImportError, ValueError):
        return False


def load(module: str, runtime: str) -> Any:
    """The generated ``module`` (a path under ``gen``); a one-line :class:`DockerUnavailable` saying
    how to get it when grpcio or the generated stubs are missing."""
    try:
        import grpc  # noqa: F401
    except ImportError as e:
        raise DockerUnavailable(f"the {runtime} runtime needs grpcio: pip install 'pcap4py[cri]'") from e
    try:
        return importlib.import_module(f"{GEN}.{module}")
    except ImportError as e:
        raise DockerUnavailable(f"the {runtime} runtime's gRPC stubs are not built: run `python3 proto/stubs.py` "
                                f"in pcap4py's source tree (needs Go and grpcio-tools)") from e


def stubs(api: str, runtime: str) -> tuple[Any, Any]:
    """(messages, services) modules of the one-file ``api`` (``cri``)."""
    return load(f"{api}_pb2", runtime), load(f"{api}_pb2_grpc", runtime)


def channel(endpoint: str) -> Any:
    """A gRPC channel to the unix socket of ``endpoint``."""
    import grpc

    # the runtimes' answers (a pod's verbose status carries its whole OCI spec) exceed 4 MiB rarely
    return grpc.insecure_channel(f"unix://{socket_path(endpoint)}",
                                 options=[("grpc.max_receive_message_length", 64 << 20)])


@contextmanager
def rpc_errors(where: str, what: str, *, not_found: Optional[Callable[[], Pcap4pyError]] = None,
               daemon: str = "runtime") -> Iterator[None]:
    """gRPC errors as pcap4py's: unreachable -> :class:`DockerUnavailable` (naming ``where``), a
    service the socket does not serve -> :class:`RuntimeNotServed`, NOT_FOUND -> ``not_found()``
    (default: :class:`DockerError`), anything else -> ``"{what}: {details}"``."""
    import grpc

    try:
        yield
    except grpc.RpcError as e:
        code = e.code() if hasattr(e, "code") else None
        details = (e.details() if hasattr(e, "details") else "") or str(code)
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise DockerUnavailable(f"cannot reach the {daemon} at {where}: {_first_line(details)}") from e
        if code == grpc.StatusCode.UNIMPLEMENTED:
            raise RuntimeNotServed(f"the {daemon} at {where} does not serve this API ({_first_line(details)})") from e
        if code == grpc.StatusCode.NOT_FOUND and not_found is not None:
            raise not_found() from e
        raise DockerError(f"{what}: {_first_line(details)}") from e


def is_cancelled(err: BaseException) -> bool:
    """Whether ``err`` is a stream's end by our own cancel()."""
    import grpc

    return isinstance(err, grpc.RpcError) and hasattr(err, "code") and err.code() == grpc.StatusCode.CANCELLED


def _first_line(text: str) -> str:
    return (str(text).splitlines() or [""])[0]
