"""Hatchling build hook: stage the Pcap4J jars into pcap4py/jars before building a wheel.

The jars are build outputs (never committed); Gradle resolves them from Maven
Central.  When they are already staged (or ``PCAP4PY_SKIP_GRADLE=1``), nothing runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class StageJarsHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        root = Path(self.root)
        jars = root / "pcap4py" / "jars"
        if any(jars.glob("pcap4py-helper-*.jar")) or os.environ.get("PCAP4PY_SKIP_GRADLE"):
            return
        gradle = shutil.which("gradle")
        if gradle is None:
            raise RuntimeError(
                "pcap4py needs its jars staged before building: install Gradle "
                "(apt-get install gradle) or run 'gradle stageJars' first"
            )
        env = dict(os.environ)
        env.setdefault("GRADLE_USER_HOME", str(Path.home() / ".gradle"))
        subprocess.run([gradle, "-q", "--no-daemon", "stageJars"], cwd=root, env=env, check=True)
