"""The stop signals, and the three things pcap4py does with them while something runs.

SIGINT, SIGTERM and SIGHUP stop whatever runs (:data:`STOP_SIGNALS`; a SIGHUP ignored when the
program started, as under ``nohup``, stays ignored); SIGUSR1 asks a capture for its counters
(:data:`REPORT_SIGNAL`), as with tcpdump.  A stop signal is

* *acted on* by a handler (:func:`on_stop_signals`; :func:`stopping` stops a capture,
  :func:`exiting` ends the program): captures and waits;
* *deferred* (:func:`deferred_stop_signals`: recorded, collected with :func:`take_pending`):
  netlink transactions, which act on it at a step boundary;
* *held* (:func:`held_stop_signals`: blocked by the thread's signal mask, delivered when the
  body ends): the start of the JVM, which a signal half-way would leave broken.

Handlers can only be set, and masks only matter, on the main thread: elsewhere each of these
does nothing.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

__all__ = ["STOP_SIGNALS", "REPORT_SIGNAL", "signal_name", "on_stop_signals", "stopping", "exiting",
           "deferred_stop_signals", "take_pending", "held_stop_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
REPORT_SIGNAL = signal.SIGUSR1

Handler = Callable[[int, Any], None]


def signal_name(signum: int) -> str:
    """``SIGINT`` for 2."""
    return signal.Signals(signum).name


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _stop_signals_taken() -> tuple:
    """The stop signals this process answers: all but a SIGHUP it was started ignoring (nohup)."""
    return tuple(s for s in STOP_SIGNALS if not (s == signal.SIGHUP and signal.getsignal(s) == signal.SIG_IGN))


# --------------------------------------------------------------------------- acted on


@contextmanager
def on_stop_signals(handler: Handler, report: Optional[Callable[[], None]] = None) -> Iterator[None]:
    """Run the body with ``handler`` installed for the stop signals (and ``report`` for SIGUSR1),
    then restore the old handlers."""
    if not _on_main_thread():
        yield
        return
    wanted = {s: handler for s in _stop_signals_taken()}
    if report is not None:
        wanted[REPORT_SIGNAL] = lambda signum, frame: report()
    previous = {s: signal.signal(s, h) for s, h in wanted.items()}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def stopping(capture: Any, report: Optional[Callable[[], None]] = None) -> "contextmanager[None]":
    """Stop signals stop ``capture`` (its files are then flushed and its stats printed);
    SIGUSR1 calls ``report``."""
    return on_stop_signals(lambda signum, frame: capture.stop(), report)


def exiting() -> "contextmanager[None]":
    """Stop signals end the program (as PID 1 in a container they would be ignored)."""
    def leave(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    return on_stop_signals(leave)


# --------------------------------------------------------------------------- deferred


class _Pending:
    """The stop signal received while deferral is on (first one wins), and how deep deferral is nested."""

    signum: Optional[int] = None
    depth = 0
    previous: dict = {}


def _record(signum: int, frame: Any) -> None:
    if _Pending.signum is None:
        _Pending.signum = signum


@contextmanager
def deferred_stop_signals() -> Iterator[None]:
    """Record the stop signals instead of acting on them while the body runs (re-entrant);
    :func:`take_pending` collects the one recorded.

    Off the main thread this does nothing (a KeyboardInterrupt raised in the body still
    propagates, without a boundary to wait for)."""
    if not _on_main_thread():
        yield
        return
    if _Pending.depth == 0:
        _Pending.signum = None
        _Pending.previous = {s: signal.signal(s, _record) for s in _stop_signals_taken()}
    _Pending.depth += 1
    try:
        yield
    finally:
        _Pending.depth -= 1
        if _Pending.depth == 0:
            for s, handler in _Pending.previous.items():
                signal.signal(s, handler)
            _Pending.previous = {}


def take_pending() -> Optional[int]:
    """The stop signal recorded so far (and forget it), or None."""
    signum, _Pending.signum = _Pending.signum, None
    return signum


# --------------------------------------------------------------------------- held


@contextmanager
def held_stop_signals() -> Iterator[None]:
    """Block the stop signals on the main thread for the body, then let any that came through.

    Threads started meanwhile inherit the mask, so that these signals keep reaching Python's
    thread afterwards (the JVM's, with ``-Xrs``, want none of them)."""
    if not _on_main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, set(STOP_SIGNALS))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
