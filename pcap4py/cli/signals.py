"""SIGINT and SIGTERM while a command runs: stop a capture cleanly, or leave a wait."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Any, Callable, Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def on_stop_signals(handler: Callable[[int, Any], None]) -> Iterator[None]:
    """Run the body with ``handler`` installed for SIGINT and SIGTERM, then restore the old ones."""
    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def stopping(capture: Any) -> "contextmanager[None]":
    """SIGINT/SIGTERM stop ``capture`` (its files are then flushed and its stats printed)."""
    return on_stop_signals(lambda signum, frame: capture.stop())


def exiting() -> "contextmanager[None]":
    """SIGINT/SIGTERM end the program (as PID 1 in a container they would be ignored)."""
    def leave(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    return on_stop_signals(leave)
