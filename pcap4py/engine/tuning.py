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

``PCAP4PY_FOOTPRINT=small`` gives every job, however long, the short-job flags with a 1 MiB young
generation: what a sidecar wants, which lives long on a quiet link and is paid for in memory
per container (the bundled image sets it).  Measured in the image (``python -m bench --only
image``): a sidecar's peak RSS ~72 -> ~64 MB with tcpdump's 2 MiB ring, about 4 MB of it from
leaving out C2.  The price is CPU per packet on a busy link: at ~1M packets/s text and ``-w``
kept up with C1 alone, JSON lines and the Python iterator dropped more.  ``auto`` (the default)
chooses by the job as above.
"""

from __future__ import annotations

import os
from typing import Optional

from ..errors import JvmStartError

SHORT_FILE_BYTES = 4 << 20  # ~10,000 packets of a typical capture
SHORT_PACKETS = 10_000
SHORT_JOB_OPTIONS = ("-XX:TieredStopAtLevel=1", "-Xmn2m", "-XX:StringTableSize=4096")
# a 1 MiB young generation: JPype's start-up garbage is collected a few times (~1 ms in all) but
# never touches more than 1 MiB of eden, -1 MB of a sidecar's peak beside 2 MiB
SMALL_FOOTPRINT_OPTIONS = ("-XX:TieredStopAtLevel=1", "-Xmn1m", "-XX:StringTableSize=4096")
# Java 20+ maps the class-data archive at a random address and rewrites every pointer in it: all
# ~11 MB become private to the process.  At the address it was made for (Java 17's default) the
# pages stay the page cache's, shared by every sidecar on the host (4.6 MB private, up to -0.7 MB of
# the peak).  The archive's place in memory is then the same in every process: a smaller
# address-space randomisation, which a small footprint accepts.
SHARED_ARCHIVE_OPTIONS = ("-XX:+UnlockDiagnosticVMOptions", "-XX:ArchiveRelocationMode=0")
RANDOM_ARCHIVE_SINCE = 20
FOOTPRINT_ENV = "PCAP4PY_FOOTPRINT"
FOOTPRINTS = ("auto", "small")
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


def footprint() -> str:
    """``PCAP4PY_FOOTPRINT``: ``auto`` (unset) or ``small``; raises :class:`JvmStartError` naming
    the choices for anything else."""
    chosen = os.environ.get(FOOTPRINT_ENV, "").strip().lower() or "auto"
    if chosen not in FOOTPRINTS:
        raise JvmStartError(f"{FOOTPRINT_ENV} must be one of {', '.join(FOOTPRINTS)}, "
                            f"not {os.environ[FOOTPRINT_ENV]!r}")
    return chosen


def options(java_major: Optional[int] = None) -> list[str]:
    """The flags for the job told to :func:`expect_job` (none if none was told), or the small
    footprint's for every job when :data:`FOOTPRINT_ENV` asks for it (on runtime ``java_major``)."""
    small = footprint() == "small"
    shared = SHARED_ARCHIVE_OPTIONS if small and (java_major or 0) >= RANDOM_ARCHIVE_SINCE else ()
    if _short:  # over before its young generation's size matters: 2 MiB starts sooner than 1
        return [*SHORT_JOB_OPTIONS, *shared]
    return [*SMALL_FOOTPRINT_OPTIONS, *shared] if small else []
