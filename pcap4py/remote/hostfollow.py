"""``capture --host URL --follow``: containers that start on a remote host join the capture, ones
that stop leave it.

One thread per host reads its Engine's container events (``GET /events``, ``start`` and ``die``),
from just before the containers were listed, so a start between the listing and the watch is not
missed (the session takes a container once).  A container that starts and matches the selection
(:class:`Matcher`: names, labels, or all; never a capture sidecar) is inspected and given a
sidecar through the session's own path (:meth:`~.pods.PodSession.start`).  A captured container
that dies leaves in one line (``- container HOST/NAME stopped``): its agent is told to finish and
its sidecar removed.  A host whose event stream breaks is one warning line; the others go on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Sequence

from .hosts import _why
from .pods import PodSession
from .targets import SIDECAR_LABEL, target_of


@dataclass(frozen=True)
class Matcher:
    """Which containers a followed host adds: named (name or id prefix), carrying every label of
    ``labels`` (``KEY`` or ``KEY=VALUE``), or ``all``, as :func:`~.targets.select_containers` does."""

    names: tuple = ()
    labels: tuple = ()
    all: bool = False

    def matches(self, name: str, cid: str, labels: dict) -> bool:
        if SIDECAR_LABEL in labels:
            return False  # our own sidecars are never captured
        if any(name == n or cid.startswith(n) for n in self.names):
            return True
        if self.labels:
            return all(_has(labels, spec) for spec in self.labels)
        return self.all


def _cancel(stream: Any) -> None:
    """Close an event stream, waking the thread reading it.  The SDK cannot cancel one read
    through the ``ssh`` program (it raises): ending that program ends the read."""
    try:
        stream.close()
        return
    except Exception:  # noqa: BLE001 - ssh, or a stream already broken
        pass
    try:
        channel = stream._response.raw._fp.fp.channel  # the SDK's SSHSocket: the ssh program's pipes
    except AttributeError:
        return
    try:
        channel.close()  # terminates the ssh program
    except Exception:  # noqa: BLE001 - it has ended already
        pass


def _has(labels: dict, spec: str) -> bool:
    key, eq, value = spec.partition("=")
    return key in labels and (not eq or labels[key] == value)


class HostFollower:
    """Reads the events of each ``(host name, client)`` and keeps ``session`` in step (see the module)."""

    def __init__(self, session: PodSession, hosts: Sequence[tuple[str, Any]], matcher: Matcher, since: float):
        self.session = session
        self._hosts = list(hosts)
        self._matcher = matcher
        self._since = int(since)
        self._streams: list[Any] = []
        self._threads: list[threading.Thread] = []
        self._closed = False

    def start(self) -> None:
        for name, client in self._hosts:
            thread = threading.Thread(target=self._run, args=(name, client), name=f"pcap4py-events-{name}",
                                      daemon=True)
            self._threads.append(thread)
            thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop reading events (closing a stream wakes its thread)."""
        self._closed = True
        for stream in list(self._streams):
            _cancel(stream)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def _run(self, host: str, client: Any) -> None:
        try:
            stream = client.api.events(since=self._since, decode=True,
                                       filters={"type": "container", "event": ["start", "die"]})
            self._streams.append(stream)
            for event in stream:
                if self._closed:
                    return
                self._on_event(host, client, event)
        except Exception as e:  # noqa: BLE001 - the thread's last word: say why following ended
            if not self._closed:
                why = _why(e)
                self.session.report(f"warning: host {host}: no longer following its containers: {why}")
            return
        if not self._closed:
            self.session.report(f"warning: host {host}: no longer following its containers: its events ended")

    def _on_event(self, host: str, client: Any, event: dict) -> None:
        actor = event.get("Actor") or {}
        cid = actor.get("ID") or event.get("id") or ""
        attrs = dict(actor.get("Attributes") or {})
        name = attrs.pop("name", "")
        action = event.get("Action") or event.get("status")
        if action == "die":
            self.session.stopped(f"{host}/{cid}")
        elif action == "start" and self._matcher.matches(name, cid, attrs):
            self._started(host, client, cid)

    def _started(self, host: str, client: Any, cid: str) -> None:
        from docker.errors import DockerException

        try:
            attrs = client.api.inspect_container(cid)
        except (DockerException, OSError):
            return  # removed already (or the host broke: its event stream says so)
        if not (attrs.get("State") or {}).get("Running"):
            return  # stopped meanwhile: its die event follows
        target, problem = target_of(host, attrs)
        if target is None:
            self.session.report(f"warning: {problem}")
            return
        self.session.start(target)
