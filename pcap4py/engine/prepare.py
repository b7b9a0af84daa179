"""``python -m pcap4py.engine.prepare``: what an install or an image build makes once, so that
every later start is quicker and needs no writable temporary folder.

1. JNA's native library unpacked beside the jars (:mod:`.native`);
2. this setup's class-data-sharing archive (:mod:`.cds_build`), in ``$PCAP4PY_CDS_DIR`` if set,
   else the per-user cache.

Run it as the user who owns the installation (root for a system-wide one), after installing or
upgrading pcap4py or its Java runtime.
"""

from __future__ import annotations

import sys

from . import cds_build, jvm, native


def main() -> int:
    print(f"JNA library: {native.unpack(jvm.jar_dir())}")
    archive = cds_build.build()
    if archive is None:
        return 1
    print(f"class-data archive: {archive}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
