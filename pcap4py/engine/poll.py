"""The reading loop's view of a capture's handles between two changes to them."""

from __future__ import annotations

import select


class Poll:
    """The reading loop's view of the handles: indexes of the ``live`` ones and of the ``files``
    left, the live ones ``by_fd``, their ``poller``, those known ready (``hot``: read once before
    sleeping, packets may already be buffered) and whether a read failure moved the indexes."""

    def __init__(self, live: list[int], files: list[int]):
        self.live = live
        self.files = files
        self.by_fd: dict[int, int] = {}
        self.poller = select.poll()
        self.hot = set(live)
        self.failed = False
