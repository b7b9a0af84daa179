"""Looking containers up across the runtimes present: by name or id, or all of them.

Each runtime that :func:`pcap4py.container.runtimes.chosen` picks is asked in turn; a runtime
that does not answer is skipped while another one does (one that was forced, or the only one,
raises :class:`DockerUnavailable` naming where it looked).
"""

from __future__ import annotations

from typing import Callable, Optional, TypeVar

from ..errors import ContainerNotFound, DockerUnavailable, RuntimeNotServed, SelectionError
from .model import Container
from .runtimes import Runtime, backend, chosen

__all__ = ["get_container", "containers", "find", "find_in", "runtime_of", "reachable", "each_runtime"]

T = TypeVar("T")


def find(ref: str, runtime: Optional[str] = None) -> tuple[Runtime, Container]:
    """(the runtime that has it, the running container ``ref``), resolved for capture."""
    if not ref:
        raise ContainerNotFound("no container name or id given")
    runtimes = chosen(runtime)
    found: Optional[Runtime] = None
    try:
        found, container = find_in(ref, runtimes)
        return found, container
    finally:
        for rt in runtimes:
            if rt is not found:
                rt.close()


def find_in(ref: str, runtimes: list[Runtime]) -> tuple[Runtime, Container]:
    """(runtime, container) for ``ref`` in one of ``runtimes``; a name found in two runtimes is
    refused rather than guessed."""
    missing: Optional[ContainerNotFound] = None
    unreachable: Optional[DockerUnavailable] = None
    not_served: Optional[RuntimeNotServed] = None
    hits: list[tuple[Runtime, Container]] = []
    for rt in runtimes:
        try:
            hits.append((rt, rt.get(ref)))
            continue
        except ContainerNotFound as e:
            missing = missing or e
        except RuntimeNotServed as e:
            not_served = not_served or e
        except DockerUnavailable as e:
            unreachable = unreachable or e
    if len(hits) > 1:
        where = " and ".join(f"{rt.name} ({rt.endpoint})" for rt, _ in hits)
        raise SelectionError(f"{ref!r} is a container of {where}: choose one with --runtime")
    if hits:
        return hits[0]
    if unreachable is not None:
        # the runtime that did not answer may have it: "not found" would be a conclusion
        # (reattach forgets the records of containers not found)
        raise unreachable if missing is None else DockerUnavailable(f"{missing}; and {unreachable}")
    raise missing or not_served or ContainerNotFound(f"no such container: {ref}")


def get_container(name_or_id: str, runtime: Optional[str] = None) -> Container:
    """The running container ``name_or_id`` (a name or an id prefix), resolved for capture.

    ``runtime`` (``docker``, ``podman``) asks that one only; by default every runtime present.
    Raises :class:`DockerUnavailable`, :class:`ContainerNotFound`,
    :class:`ContainerNotRunning` or :class:`HostNetworkContainer`.
    """
    rt, container = find(name_or_id, runtime)
    rt.close()
    return container


def each_runtime(fn: Callable[[Runtime], list[T]], runtime: Optional[str] = None,
                 warn: Optional[Callable[[str], None]] = None) -> list[T]:
    """``fn(rt)`` for every runtime chosen, joined; runtimes that do not answer are skipped (each
    told to ``warn``) unless none answers."""
    results: list[T] = []
    errors: list[DockerUnavailable] = []
    runtimes = chosen(runtime)
    for rt in runtimes:
        try:
            results.extend(fn(rt))
        except DockerUnavailable as e:
            errors.append(e)
        finally:
            rt.close()
    if errors and len(errors) == len(runtimes):
        raise errors[0]
    _warn_skipped(errors, warn)
    return results


def _warn_skipped(errors: list[DockerUnavailable], warn: Optional[Callable[[str], None]]) -> None:
    """Tell ``warn`` of the runtimes skipped; a socket that serves another API (Docker's containerd,
    without CRI) is no runtime of that kind: not worth a word."""
    for e in errors:
        if not isinstance(e, RuntimeNotServed):
            (warn or (lambda line: None))(f"warning: skipped: {e}")


def reachable(runtimes: list[Runtime], warn: Optional[Callable[[str], None]] = None) -> list[Runtime]:
    """The runtimes that answer (the others told to ``warn`` and closed); if none does, the first
    one's :class:`DockerUnavailable`."""
    answering, errors = [], []
    for rt in runtimes:
        try:
            rt.client  # connects and pings  # noqa: B018
            answering.append(rt)
        except DockerUnavailable as e:
            errors.append(e)
            rt.close()
    if not answering:
        raise errors[0]
    _warn_skipped(errors, warn)
    return answering


def containers(runtime: Optional[str] = None, warn: Optional[Callable[[str], None]] = None) -> list[Container]:
    """The running containers of every runtime present (or of ``runtime``), resolved, sorted by
    name (host-network ones have no interfaces listed); ``warn`` hears of runtimes that do not answer."""
    def running(rt: Runtime) -> list[Container]:
        found = (rt.resolve(item.id) for item in rt.listed())
        return [c for c in found if c is not None]

    return sorted(each_runtime(running, runtime, warn), key=lambda c: (c.name, c.runtime))


def runtime_of(container: Container) -> Runtime:
    """A connection to the runtime a container record came from (its socket)."""
    return backend(container.runtime)(container.endpoint)
