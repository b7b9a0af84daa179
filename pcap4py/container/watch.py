"""Watching a captured container: when it stops, the capture ends, saying why.

A container that exits takes its network with it: in ``netns`` and ``veth`` mode its interfaces
vanish under the handles (a read error), in ``bridge`` mode the bridge stays and a container
started later with the same address would be captured under the old name.  A
:class:`ContainerWatch` follows the container's stop events from its runtime (whatever the
runtime calls them) on a daemon thread and, when it stops, calls ``on_stop(reason)`` (a capture's
``stop``).  :meth:`wait_stopped` lets the reader tell a read error caused by the stop (the stop
event comes first, the runtime tears the network down after it) from a real one.  The thread
ends when :meth:`close` is called.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..errors import Pcap4pyError
from .lookup import runtime_of

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .model import Container
    from .runtimes import Runtime

__all__ = ["ContainerWatch", "ProcessWatch"]

POLL_S = 1.0  # inspect interval once the event stream has failed
JOIN_S = 5.0  # longest wait for the thread at close


class ContainerWatch:
    """Calls ``on_stop(reason)`` once, when ``container`` stops; :meth:`start` it, :meth:`close` it."""

    def __init__(self, container: "Container", on_stop: Callable[[str], None], runtime: "Runtime | None" = None):
        self.container = container
        self._on_stop = on_stop
        self._runtime = runtime
        self._own_runtime = runtime is None
        self._stream: Any = None
        self._thread: Optional[threading.Thread] = None
        self._stopped = threading.Event()  # the container stopped (reason set)
        self._closing = threading.Event()
        self.reason: Optional[str] = None

    def start(self) -> "ContainerWatch":
        """Subscribe to the container's events, then check it still runs (so that a stop between
        the lookup and the subscription is not missed); the events are read on a daemon thread.

        Done before privileges are dropped: the event stream keeps its connection to the daemon.
        """
        if self._runtime is None:
            self._runtime = runtime_of(self.container)
        self._stream = self._runtime.events(container=self.container.id)
        self._check_state()
        self._thread = threading.Thread(target=self._follow, name=f"pcap4py-watch-{self.container.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def wait_stopped(self, timeout: float) -> Optional[str]:
        """The reason once the container has stopped, waiting up to ``timeout`` seconds; else None."""
        self._stopped.wait(timeout)
        return self.reason

    def close(self) -> None:
        """End the thread (bounded wait) and release the connection. Safe to call twice."""
        self._closing.set()
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.close()  # shuts the socket down: the thread's read returns
            except Exception:
                pass  # already closed, or a transport that cannot be cancelled: the thread is a daemon
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(JOIN_S)
        if self._own_runtime and self._runtime is not None:
            self._runtime.close()
            self._runtime = None

    # --- the thread ----------------------------------------------------------------------------
    def _follow(self) -> None:
        stream = self._stream
        try:
            for event in stream or ():
                if event.kind == "stop":
                    self._stop(event.exit_code)
                    return
        except Exception:
            pass  # the stream broke (the daemon restarted) or was closed by close()
        self._poll()

    def _poll(self) -> None:
        """Without events: inspect now and then until the container stops or the watch closes."""
        while not self._closing.is_set() and not self._stopped.is_set():
            try:
                self._check_state()
            except Pcap4pyError:
                return  # the daemon is out of reach (or we may no longer reach it): stop watching
            self._closing.wait(POLL_S)

    def _check_state(self) -> None:
        state = self._runtime.state(self.container.id)
        if state is None:
            self._stop(None)  # gone
        elif not state.still(self.container.pid):
            self._stop(state.exit_code)  # stopped, or restarted (in a namespace of its own)

    def _stop(self, exit_code: Optional[int]) -> None:
        if self._stopped.is_set() or self._closing.is_set():
            return
        code = "" if exit_code is None else f" (exit code {exit_code})"
        self.reason = f"container {self.container.name} stopped{code}"
        self._stopped.set()
        self._on_stop(self.reason)



class ProcessWatch:
    """Calls ``on_stop(reason)`` once, when process ``pid`` exits (a ``--pid`` capture's end).

    Needed because a namespace outlives its last process while our capture sockets hold it: its
    interfaces do not vanish, and nothing else would end the capture.  Waits on a pidfd (no PID
    reuse race) on a daemon thread; :meth:`close` ends it.
    """

    def __init__(self, pid: int, on_stop: Callable[[str], None]):
        import os

        self.pid = pid
        self._on_stop = on_stop
        self._fd = os.pidfd_open(pid)
        self._wake_r, self._wake_w = os.pipe()
        self.reason: Optional[str] = None
        self._thread = threading.Thread(target=self._wait, name=f"pcap4py-watch-pid{pid}", daemon=True)

    def start(self) -> "ProcessWatch":
        self._thread.start()
        return self

    def _wait(self) -> None:
        import select

        ready, _, _ = select.select([self._fd, self._wake_r], [], [])
        if self._fd in ready:
            self.reason = f"process {self.pid} exited"
            self._on_stop(self.reason)

    def close(self) -> None:
        """End the thread (bounded wait) and close the descriptors. Safe to call twice."""
        import os

        if self._wake_w < 0:
            return
        os.write(self._wake_w, b"x")
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(JOIN_S)
        for fd in (self._fd, self._wake_r, self._wake_w):
            os.close(fd)
        self._wake_w = -1
