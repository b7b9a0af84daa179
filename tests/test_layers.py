"""The package's layers import one way, and no module takes part in an import cycle.

Read from the source: every ``import`` of a pcap4py module, at module level, inside a function
(a lazy import that climbs a layer counts too) or under ``if TYPE_CHECKING:`` (an annotation
that names a class of the layer above is a door opening the wrong way too).  No exceptions.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pcap4py"

# each layer may import itself and the layers listed after it
LAYERS = {
    "entry": ("cli", "extcap", "remote", "container", "plumbing", "sinks", "engine", "base"),
    "cli": ("extcap", "remote", "container", "plumbing", "sinks", "engine", "base"),
    "remote": ("container", "plumbing", "sinks", "engine", "base"),
    "extcap": ("remote", "container", "sinks", "engine", "base"),
    "container": ("plumbing", "engine", "base"),
    "sinks": ("engine", "base"),
    "plumbing": ("base",),
    "engine": ("base",),
    "base": ("base",),
}
BASE = {"errors", "netns", "privileges", "signals", "text", "userns", "__init__"}
ENTRY = {"image", "__main__"}  # what a user runs: the image's entry point, python -m pcap4py


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(PACKAGE).with_suffix("").parts): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The pcap4py modules ``name`` imports (submodule imports resolved to modules)."""
    package = name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name[len("pcap4py."):] for a in node.names if a.name.startswith("pcap4py.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module == "pcap4py" or (node.module or "").startswith("pcap4py."):
                target = node.module[len("pcap4py."):]
            else:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}" if target else alias.name
                found.add(sub if sub in known or f"{sub}.__init__" in known else target)
    return {m if m in known else f"{m}.__init__" for m in found if m and (m in known or f"{m}.__init__" in known)}


def _layer(module: str) -> str:
    top = module.split(".")[0]
    return "base" if top in BASE else "entry" if top in ENTRY else top


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) - {name} for name, path in modules.items()}


def test_no_layer_imports_one_above_it():
    wrong = []
    for module, targets in _graph().items():
        allowed = LAYERS[_layer(module)]
        for target in targets:
            layer = _layer(target)
            if layer != _layer(module) and layer not in allowed:
                wrong.append(f"{module} -> {target}")
    assert not wrong


def test_no_import_cycles():
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not cycles


def test_plumbing_and_engine_know_nothing_of_docker():
    for module, path in _modules().items():
        if _layer(module) in ("plumbing", "engine"):
            tree = ast.parse(path.read_text())
            names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                      and not n.level}
            assert not names & {"docker", "requests"}, module
