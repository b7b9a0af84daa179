"""Signals while a command runs: SIGINT, SIGTERM and SIGHUP stop a capture cleanly (or leave a
wait), SIGUSR1 prints a capture's counters and lets it go on, as tcpdump does."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
REPORT_SIGNAL = signal.SIGUSR1


@contextmanager
def on_stop_signals(handler: Callable[[int, Any], None],
                    report: Optional[Callable[[], None]] = None) -> Iterator[None]:
    """Run the body with ``handler`` installed for the stop signals (and ``report`` for SIGUSR1),
    then restore the old handlers.

    A SIGHUP that was ignored when the program started (``nohup``) stays ignored.
    """
    wanted = {s: handler for s in STOP_SIGNALS
              if not (s == signal.SIGHUP and signal.getsignal(s) == signal.SIG_IGN)}
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
