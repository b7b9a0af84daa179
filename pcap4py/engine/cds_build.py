"""Builds this setup's class-data-sharing archive (see :mod:`.cds`).

``python -m pcap4py.engine.cds_build build [--quiet]``: one builder at a time per folder (a lock
file), nothing done when the archive is there already.  Steps: a training run in a child
process (a JVM with ``-XX:DumpLoadedClassList`` reads a tiny generated pcap and pcapng, filters
one, formats the packets in every line format), then the runtime's own ``java -Xshare:dump``
with the same class path and options, into a temporary name; a check that the JVM accepts it
(``-Xshare:on``); then a rename into place.  Every step is bounded in time; a failure leaves no
archive, and the next run simply tries again.
"""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

from . import cds, jvm
from .limits import LINE_OUTPUT_BYTES

OPTIONS_ENV = jvm.OPTIONS_ENV


def build(quiet: bool = False) -> Optional[Path]:
    """Build the archive of this setup (JVM, jars, options) unless it exists; returns its path
    (None when it cannot be built here: no writable folder, no ``java`` launcher, a failure)."""
    libjvm = jvm.find_libjvm()
    cp = cds.full_classpath(jvm.classpath())
    options = jvm.base_options(libjvm)
    home = cds.java_home(libjvm)
    folder = cds.writable_folder()
    if home is None or folder is None:
        return _say(quiet, "no java launcher beside the JVM, or no writable cache folder")
    target = folder / f"{cds.key(libjvm, cp, options)}.jsa"
    with open(folder / ".lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (fcntl.LOCK_NB if quiet else 0))
        except OSError:
            return None  # another builder is at it
        if cds.trusted(target):
            return target
        return _build_into(home, cp, options, folder, target, quiet)


def _build_into(home: Path, cp: list[str], options: list[str], folder: Path, target: Path,
                quiet: bool) -> Optional[Path]:
    classes = cds.temporary_in(folder, ".classlist")
    archive = cds.temporary_in(folder, ".jsa-part")
    try:
        if not _train(classes, options, quiet):
            return None
        kept = [o for o in options if not o.startswith(("-Xlog", "-Xshare", "-XX:SharedArchiveFile"))]
        java = str(home / "bin" / "java")
        dump = [java, "-Xshare:dump", f"-XX:SharedClassListFile={classes}", f"-XX:SharedArchiveFile={archive}",
                *kept, "-cp", os.pathsep.join(cp), *cds.log_off(jvm.java_major(jvm.find_libjvm()))]
        if not _run(dump, quiet):
            return None
        check = [java, "-Xshare:on", f"-XX:SharedArchiveFile={archive}", *kept, "-cp", os.pathsep.join(cp),
                 "-version"]
        if not _run(check, quiet):
            return None
        os.chmod(archive, 0o644)
        os.replace(archive, target)
        cds.remove_others(folder, target)
        return target
    finally:
        for leftover in (classes, archive):
            try:
                leftover.unlink()
            except OSError:
                pass


def _train(classes: Path, options: list[str], quiet: bool) -> bool:
    """The training run, in a child process whose JVM lists every class it loads."""
    env = dict(os.environ)
    env[cds.MODE_ENV] = "off"
    env[OPTIONS_ENV] = " ".join([*jvm.user_options(), f"-XX:DumpLoadedClassList={classes}"])
    return _run([sys.executable, "-m", "pcap4py.engine.cds_build", "train"], quiet, env=env)


def _run(cmd: list[str], quiet: bool, env: Optional[dict] = None) -> bool:
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, env=env,
                              timeout=cds.BUILD_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        _say(quiet, f"{cmd[0]}: {e}")
        return False
    if done.returncode != 0:
        _say(quiet, f"{' '.join(cmd[:2])}: exit {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}")
    return done.returncode == 0


def _say(quiet: bool, message: str) -> None:
    if not quiet:
        print(f"pcap4py: class-data archive not built: {message}", file=sys.stderr)
    return None


# --- the training run ---------------------------------------------------------------------------

def _frames() -> list[bytes]:
    """A few frames of the common kinds: IPv4 TCP, UDP and ICMP, IPv6 UDP, ARP."""
    eth4 = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
    eth6 = eth4[:12] + b"\x86\xdd"
    src, dst = bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2])

    def ip4(proto: int, payload: bytes) -> bytes:
        return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0, src, dst) + payload

    tcp = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x02, 64240, 0, 0)
    udp = struct.pack("!HHHH", 40000, 53, 12, 0) + b"abcd"
    icmp = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"ping"
    ip6 = struct.pack("!IHBB16s16s", 0x60000000, len(udp), 17, 64, b"\xfe\x80" + b"\x00" * 13 + b"\x01",
                      b"\xfe\x80" + b"\x00" * 13 + b"\x02") + udp
    arp = eth4[:12] + b"\x08\x06" + struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, eth4[6:12], src,
                                                 b"\x00" * 6, dst)
    return [eth4 + ip4(6, tcp), eth4 + ip4(17, udp), eth4 + ip4(1, icmp), eth6 + ip6, arp]


def _pcap(frames: list[bytes]) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    for i, f in enumerate(frames):
        out.append(struct.pack("<IIII", 1_700_000_000 + i, 0, len(f), len(f)) + f)
    return b"".join(out)


def _pcapng(frames: list[bytes]) -> bytes:
    def block(kind: int, body: bytes) -> bytes:
        body += b"\x00" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", kind, n) + body + struct.pack("<I", n)

    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
           block(1, struct.pack("<HHI", 1, 0, 262144))]
    for i, f in enumerate(frames):
        ts = (1_700_000_000 + i) * 1_000_000
        out.append(block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(f), len(f)) + f))
    return b"".join(out)


def train() -> None:
    """What the CLI's common commands load: files read, filtered and formatted, a live handle."""
    import jpype.nio

    from .batch import Batch
    from .offline import open_offline

    jvm.start()
    frames = _frames()
    with tempfile.TemporaryDirectory(prefix="pcap4py-cds-") as tmp:
        files = []
        for name, blob in (("t.pcap", _pcap(frames)), ("t.pcapng", _pcapng(frames))):
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(blob)
            files.append(path)
        for path in files:
            for flt in (None, "udp"):
                with open_offline(path, filter=flt) as h:
                    packets = list(h.packets())
        for pkt in packets:  # Pcap4J's own parse and rendering (the image's sample prints it)
            str(pkt.pcap4j)
        out = bytearray(LINE_OUTPUT_BYTES)
        jout = jpype.nio.convertToDirectBuffer(out)
        for fmt in ("text", "jsonl", "json", "hexdump"):
            with open_offline(files[0]) as h:
                batch = Batch.reused()
                h.read_batch(batch, 100)
                formatter = jvm.jclass("pcap4py.helper.LineFormatter")(
                    fmt, jpype.JArray(jpype.JString)(["t"]), jpype.JArray(jpype.JInt)([1]), False, "UTC", len(out))
                formatter.begin(batch.java_meta, batch.java_data, batch.count)
                while int(formatter.next(jout)):
                    pass
    for name in ("PcapngWriter", "ReadAhead", "PointOfView", "Pcap4jWarmUp"):
        jvm.jclass(f"pcap4py.helper.{name}")
    _try_live()  # first: it loads libpcap the way a capture does, on NativeWarmUp's thread
    from .devices import interfaces

    interfaces()


def _try_live() -> None:
    """Open and close a live handle on lo, if this user may (the classes of live capture)."""
    from ..errors import Pcap4pyError
    from .handle import open_live

    try:
        with open_live("lo", immediate=True, filter="icmp") as h:
            h.stats()
    except Pcap4pyError:
        pass


def main(argv: list[str]) -> int:
    """``build [--quiet]`` or ``train`` (the builder's child)."""
    if argv[:1] == ["train"]:
        train()
        return 0
    if argv[:1] == ["build"]:
        quiet = "--quiet" in argv
        path = build(quiet=quiet)
        if path is not None and not quiet:
            print(path)
        return 0 if path is not None else 1
    print("usage: python -m pcap4py.engine.cds_build build [--quiet]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
