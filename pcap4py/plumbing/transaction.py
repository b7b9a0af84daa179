"""Netlink changes as a transaction: named steps, each with its undo, undone newest first.

attach, detach, mirror build and mirror teardown each run their kernel changes
as steps of one :class:`Transaction`::

    with Transaction("attach", "attach failed, rolled back") as tx:
        idx = tx.step("create", make_link, undo=delete_link, doing="create a macvlan on eth0")
        tx.step("up", lambda: bring_up(idx), doing="bring eth1 up")

* A step that fails (a kernel refusal becomes a one-line pcap4py error through
  :func:`pcap4py.plumbing.rtnl.netlink_errors`), or anything raised between
  steps, undoes every step done so far, newest first, best effort.
* The stop signals (:mod:`pcap4py.signals`: SIGINT, SIGTERM, SIGHUP) are
  deferred while a transaction runs: the current step
  finishes (its undo is registered), then everything is rolled back and
  :class:`Interrupted` is raised (exit status 128 + the signal number).  A signal
  that kills the process half-way through a step is what left temporary macvlans
  behind before (issue 15).
* A transaction made with ``on_signal="finish"`` (teardowns: their steps remove
  things and have no sensible undo) completes its remaining steps instead, then
  raises :class:`Interrupted`.
* :data:`HOOKS` is a test seam (documented, not a mock): callables run after
  each step with the step's name; one that raises makes the transaction fail
  right there, on real kernel objects, and one that sends a signal interrupts it.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, Mapping, Optional, TypeVar

from ..errors import Interrupted
from ..signals import deferred_stop_signals, signal_name, take_pending
from .rtnl import netlink_errors

__all__ = ["Transaction", "HOOKS"]

T = TypeVar("T")

#: Test seam: called with each step's name once the step is done (see the module notes).
HOOKS: list[Callable[[str], None]] = []


# --------------------------------------------------------------------------- transaction


class Transaction:
    """Named steps with undos; see the module notes.

    ``failure`` starts every error message (``"attach failed, rolled back"``);
    ``what`` names the operation in the interruption message (``"attach"``).
    """

    def __init__(self, what: str, failure: str, *, on_signal: str = "rollback"):
        if on_signal not in ("rollback", "finish"):
            raise ValueError(f"on_signal must be 'rollback' or 'finish', not {on_signal!r}")
        self.what = what
        self.failure = failure
        self.on_signal = on_signal
        self.done: list[str] = []
        self._undo: list[tuple[str, Callable[[], None]]] = []
        self._signals = deferred_stop_signals()
        self._interrupt: Optional[int] = None

    def __enter__(self) -> "Transaction":
        self._signals.__enter__()
        try:
            self._check_signal()  # a signal that came before the first step: nothing to undo yet
        except BaseException:
            self._signals.__exit__(None, None, None)  # __exit__ does not run when __enter__ raises
            raise
        return self

    def step(self, name: str, do: Callable[[], T], undo: Optional[Callable[[T], None]] = None, *,
             doing: Optional[str] = None, messages: Optional[Mapping[int, str]] = None) -> T:
        """Run ``do()``; register ``undo(result)``; run the hooks; then act on a pending signal.

        ``doing`` names the step in an error (``"cannot {doing}"``, default the
        step's name); ``messages`` maps an errno to a message of its own.
        """
        with netlink_errors(f"{self.failure}: cannot {doing or name}", messages):
            result = do()
        if undo is not None:
            self._undo.append((name, partial(undo, result)))
        self.done.append(name)
        for hook in list(HOOKS):
            hook(name)
        self._check_signal()
        return result

    def _check_signal(self) -> None:
        signum = take_pending()
        if signum is None:
            return
        if self.on_signal == "finish":
            self._interrupt = self._interrupt or signum  # reported once the last step is done
            return
        if not self._undo:
            raise Interrupted(f"interrupted by {signal_name(signum)} before {self.what} changed anything", signum)
        raise Interrupted(f"interrupted by {signal_name(signum)}: {self.what} rolled back", signum)

    def rollback(self) -> None:
        """Undo every registered step, newest first; a failing undo must not stop the others."""
        while self._undo:
            _name, undo = self._undo.pop()
            try:
                undo()
            except Exception:  # noqa: BLE001 - best effort: the next undo may still succeed
                pass

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc is None:
                self._check_signal()  # a signal after the last step's own check still counts
        except Interrupted:
            exc = True  # roll back below, then let it propagate
            raise
        finally:
            if exc is not None:
                self.rollback()  # still deferring signals: a second Ctrl-C cannot cut the rollback short
            self._signals.__exit__(None, None, None)
        if exc is None and self._interrupt is not None:
            raise Interrupted(f"interrupted by {signal_name(self._interrupt)}: {self.what} finished first",
                              self._interrupt)
