"""python -m bench.profile FILE: where one short `read` spends its start, phase by phase.

Run in a fresh interpreter per sample (the bench's startup section takes the median of several):
the CLI's imports for `read`, `import jpype`, the JVM's boot (JPype's startJVM, with the options
and class-data-sharing archive pcap4py would use), loading Pcap4J and JNA (the first libpcap call),
and the first batch of FILE through the engine.  Prints one JSON line of seconds, the peak RSS
(MB) after each phase, and whether an archive was mapped.
"""

from __future__ import annotations

import json
import sys
import time

T0 = time.perf_counter()


def _hwm_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def main(path: str) -> None:
    marks: dict[str, float] = {}
    rss: dict[str, float] = {}

    def mark(name: str, since: float) -> float:
        now = time.perf_counter()
        marks[name] = round(now - since, 4)
        rss[name] = _hwm_mb()
        return now

    from pcap4py.cli.group import load_commands  # what `pcap4py read` imports before it runs
    import pcap4py.cli

    load_commands("read")
    from pcap4py.engine import tuning

    tuning.expect_job(file=path)
    t = mark("python imports (cli, read)", T0)
    import jpype

    t = mark("import jpype", t)
    from pcap4py.engine import jvm

    libjvm, cp = jvm.find_libjvm(), jvm.classpath()
    options = jvm.base_options(libjvm)
    options += jvm.startup_options(libjvm, cp, options)
    jpype.startJVM(str(libjvm), *options, classpath=cp, convertStrings=False, interrupt=False)
    t = mark("JVM boot (startJVM)", t)
    jpype.JClass("org.pcap4j.core.Pcaps").libVersion()  # what jvm.start does after startJVM
    t = mark("class loading (Pcap4J, JNA, libpcap)", t)
    from pcap4py.engine.batch import Batch
    from pcap4py.engine.offline import open_offline

    with open_offline(path) as h:
        batch = Batch.reused()
        h.read_batch(batch)
        list(batch.packets(h.sources))
    mark("first batch", t)
    archive = any(line.rstrip().endswith(".jsa") for line in open("/proc/self/maps"))
    print(json.dumps({"phases_s": marks, "hwm_mb": rss, "archive": archive, "options": options,
                      "total_s": round(time.perf_counter() - T0, 4)}))


if __name__ == "__main__":
    main(sys.argv[1])
