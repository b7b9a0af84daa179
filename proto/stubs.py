#!/usr/bin/env python3
"""Build the gRPC client stubs of the container runtimes' published APIs (never committed).

The ``.proto`` files come from Go modules at pinned versions, fetched with ``go mod download``
(the Go module proxy, checked against the pinned ``h1:`` sum and the checksum database), and are
compiled with ``grpcio-tools`` into ``pcap4py/container/runtimes/gen/`` (git-ignored).  Each API
is a :class:`Api`: the module, its version and sum, the proto files to take, and the name of
the Python module they become.  Safe to run again: an API whose stubs exist is skipped.

usage: python3 proto/stubs.py [--force]
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GEN = ROOT / "pcap4py" / "container" / "runtimes" / "gen"
PACKAGE = "pcap4py/container/runtimes/gen"


@dataclass(frozen=True)
class Api:
    """``files`` of Go module ``module@version`` (whose ``h1:`` sum is ``sum``), compiled as
    ``gen/<name>_pb2.py`` and ``gen/<name>_pb2_grpc.py`` (one file each: ``files`` has one entry)."""

    name: str
    module: str
    version: str
    sum: str
    file: str


APIS = (
    # the CRI (Kubernetes' Container Runtime Interface): containerd's CRI plugin, CRI-O
    Api("cri", "k8s.io/cri-api", "v0.37.0", "h1:8a3Rpw5NNRivF+q8GO/ECK3BrWT06M4Er8ndzLvTF7k=",
        "pkg/apis/runtime/v1/api.proto"),
)


def _go() -> str:
    go = shutil.which("go") or next((p for p in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go") if os.path.exists(p)),
                                    None)
    if go is None:
        sys.exit("stubs: needs Go (go mod download fetches the pinned API definitions)")
    return go


def download(api: Api) -> Path:
    """The module's folder in Go's module cache, after checking its sum against the pin."""
    with tempfile.TemporaryDirectory() as scratch:  # outside any module: no go.mod is read or changed
        proc = subprocess.run([_go(), "mod", "download", "-json", f"{api.module}@{api.version}"], cwd=scratch,
                              capture_output=True, text=True, env={**os.environ, "GOFLAGS": "-mod=mod"})
    info = json.loads(proc.stdout or "{}")
    if proc.returncode != 0 or info.get("Error"):
        sys.exit(f"stubs: go mod download {api.module}@{api.version} failed: "
                 f"{info.get('Error') or proc.stderr.strip()}")
    if info.get("Sum") != api.sum:
        sys.exit(f"stubs: {api.module}@{api.version} has sum {info.get('Sum')}, pinned {api.sum}: refusing it")
    return Path(info["Dir"])


def compile_api(api: Api, source: Path) -> None:
    """``gen/<name>.proto`` from the module, compiled in place (imports as ``pcap4py.container...``)."""
    from grpc_tools import protoc

    proto = GEN / f"{api.name}.proto"
    proto.write_bytes((source / api.file).read_bytes())
    proto.chmod(0o644)
    include = str(Path(protoc.__file__).parent / "_proto")
    args = ["protoc", f"-I{ROOT}", f"-I{include}", f"--python_out={ROOT}", f"--grpc_python_out={ROOT}",
            f"{PACKAGE}/{api.name}.proto"]
    if protoc.main(args) != 0:
        sys.exit(f"stubs: protoc failed on {proto}")


def main(argv: list[str]) -> int:
    force = "--force" in argv
    try:
        import grpc_tools  # noqa: F401
    except ImportError:
        sys.exit("stubs: needs grpcio-tools (pip install 'pcap4py[cri]' grpcio-tools)")
    GEN.mkdir(parents=True, exist_ok=True)
    (GEN / "__init__.py").write_text('"""Generated gRPC stubs (proto/stubs.py): never edited, never committed."""\n')
    for api in APIS:
        if not force and (GEN / f"{api.name}_pb2_grpc.py").exists():
            continue
        compile_api(api, download(api))
        print(f"stubs: {api.name} from {api.module}@{api.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
