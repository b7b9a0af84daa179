#!/usr/bin/env python3
"""Build the gRPC client stubs of the container runtimes' published APIs (never committed).

The ``.proto`` files come from Go modules at pinned versions, fetched with ``go mod download``
(the Go module proxy, checked against the pinned ``h1:`` sum and the checksum database), and are
compiled with ``grpcio-tools`` into ``pcap4py/container/runtimes/gen/`` (git-ignored).  Each API
is an :class:`Api`: the module, its version and sum, the proto files to take, and the name of
the Python module(s) they become.  Safe to run again: an API whose stubs are built at its pinned
version is skipped.

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
    """The proto ``files`` of Go module ``module@version`` (whose ``h1:`` sum is ``sum``).

    A single file becomes ``gen/<name>_pb2.py`` and ``gen/<name>_pb2_grpc.py``; several keep their
    tree under ``gen/<name>/``, their imports of one another (``<module>/<file>``) rewritten to it."""

    name: str
    module: str
    version: str
    sum: str
    files: tuple[str, ...]


APIS = (
    # the CRI (Kubernetes' Container Runtime Interface): containerd's CRI plugin, CRI-O
    Api("cri", "k8s.io/cri-api", "v0.37.0", "h1:8a3Rpw5NNRivF+q8GO/ECK3BrWT06M4Er8ndzLvTF7k=",
        ("pkg/apis/runtime/v1/api.proto",)),
    # containerd's own API (containers, tasks, events, namespaces), what nerdctl's containers live in
    Api("containerd", "github.com/containerd/containerd/api", "v1.9.0",
        "h1:HZ/licowTRazus+wt9fM6r/9BQO7S0vD5lMcWspGIg0=",
        ("services/containers/v1/containers.proto", "services/tasks/v1/tasks.proto",
         "services/events/v1/events.proto", "services/namespaces/v1/namespace.proto", "events/task.proto",
         "types/event.proto", "types/fieldpath.proto", "types/task/task.proto", "types/mount.proto",
         "types/metrics.proto", "types/descriptor.proto")),
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


def _placed(api: Api) -> list[tuple[str, Path]]:
    """(module file, where it goes) for each proto file of ``api``."""
    if len(api.files) == 1:
        return [(api.files[0], GEN / f"{api.name}.proto")]
    return [(f, GEN / api.name / f) for f in api.files]


def compile_api(api: Api, source: Path) -> None:
    """The proto files copied under ``gen/`` and compiled in place (imported as ``pcap4py.container...``)."""
    from grpc_tools import protoc

    targets = []
    for name, dest in _placed(api):
        text = (source / name).read_text()
        text = text.replace(f'import "{api.module}/', f'import "{PACKAGE}/{api.name}/')
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)
        targets.append(str(dest.relative_to(ROOT)))
        for folder in dest.relative_to(GEN).parents:  # packages all the way down
            (GEN / folder / "__init__.py").touch()
    include = str(Path(protoc.__file__).parent / "_proto")
    args = ["protoc", f"-I{ROOT}", f"-I{include}", f"--python_out={ROOT}", f"--grpc_python_out={ROOT}", *targets]
    if protoc.main(args) != 0:
        sys.exit(f"stubs: protoc failed on {api.name}")
    (GEN / f"{api.name}.version").write_text(f"{api.module}@{api.version}\n")


def main(argv: list[str]) -> int:
    force = "--force" in argv
    try:
        import grpc_tools  # noqa: F401
    except ImportError:
        sys.exit("stubs: needs grpcio-tools (pip install 'pcap4py[cri]' grpcio-tools)")
    GEN.mkdir(parents=True, exist_ok=True)
    (GEN / "__init__.py").write_text('"""Generated gRPC stubs (proto/stubs.py): never edited, never committed."""\n')
    for api in APIS:
        marker = GEN / f"{api.name}.version"
        if not force and marker.exists() and marker.read_text().strip() == f"{api.module}@{api.version}":
            continue
        compile_api(api, download(api))
        print(f"stubs: {api.name} from {api.module}@{api.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
