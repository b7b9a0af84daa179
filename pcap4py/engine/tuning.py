"""JVM flags chosen by the size of the job, told before the JVM starts.

Measured (``python -m bench --only startup``): a JVM that compiles with C1 only
(``-XX:TieredStopAtLevel=1``) starts about 0.1 s of CPU sooner and holds ~5 MB less (no C2
compiler threads and arenas), but formats a million packets several times slower once C2 would
have taken over.  So only a job known to be short gets it: a file of at most
:data:`SHORT_FILE_BYTES`, or a live capture of at most :data:`SHORT_PACKETS` packets.  Anything
else (a big file, a stream, an open-ended capture, the Python API) keeps the default tiers.

A short job also gets a 2 MiB young generation (JPype's start allocates ~3 MB, nearly all
garbage: the 4 MiB one was touched whole, ~1.9 MiB more resident on a 100-packet read, no
slower) and a small interned-string table (the default 65,536 buckets are ~0.5 MiB resident; the
table grows by itself when a job interns more).
"""

from __future__ import annotations

import os
from typing import Optional

SHORT_FILE_BYTES = 4 << 20  # ~10,000 packets of a typical capture
SHORT_PACKETS = 10_000
SHORT_JOB_OPTIONS = ("-XX:TieredStopAtLevel=1", "-Xmn2m", "-XX:StringTableSize=4096")
_short = False


def expect_job(*, file: Optional[str] = None, packets: Optional[int] = None) -> None:
    """Say what the coming job is (before the JVM starts): a file to read, or a packet count
    (None: unbounded).  A short one gets :data:`SHORT_JOB_OPTIONS`."""
    global _short
    if file is not None:
        try:
            size = os.stat(file).st_size if os.path.isfile(file) else None
        except (OSError, ValueError):
            size = None
        _short = size is not None and size <= SHORT_FILE_BYTES
    else:
        _short = packets is not None and packets <= SHORT_PACKETS


def options() -> list[str]:
    """The flags for the job told to :func:`expect_job` (none if none was told)."""
    return list(SHORT_JOB_OPTIONS) if _short else []
