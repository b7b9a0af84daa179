"""The side-by-side table (figure, pcap4py, peer, ratio, target met?) and its JSON twin."""

from __future__ import annotations

import json
import platform
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


@dataclass
class Row:
    """One figure of pcap4py beside one peer's, measured in the same run.

    `ours`/`theirs` are None when that side could not be measured (the note says why).
    `higher_is_better` tells how to read the figure; `ratio` is ours/theirs, shown only for
    `compare` rows (not for counts such as drops or growth, where 0 vs 0 or a negative is normal).
    """

    section: str
    figure: str
    unit: str
    ours: float | None
    peer: str
    theirs: float | None
    higher_is_better: bool = True
    target: str = ""
    met: bool | None = None
    note: str = ""
    compare: bool = True

    @property
    def ratio(self) -> float | None:
        if not self.compare or self.ours is None or self.theirs is None or self.theirs <= 0:
            return None
        return self.ours / self.theirs


@dataclass
class Section:
    """A section's rows plus every raw measurement behind them (for the JSON file)."""

    name: str
    rows: list[Row] = field(default_factory=list)
    raw: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return "-"
    if unit in ("s", "MB") or (isinstance(v, float) and abs(v) < 100 and v != int(v)):
        return f"{v:,.2f}"
    return f"{v:,.0f}"


def _met(m: bool | None) -> str:
    return {True: "yes", False: "NO", None: ""}[m]


def table(sections: list[Section]) -> str:
    head = ("section", "figure", "unit", "pcap4py", "peer", "peer value", "ratio", "target", "met")
    lines = []
    for s in sections:
        for r in s.rows:
            ratio = r.ratio
            lines.append((s.name, r.figure, r.unit, fmt(r.ours, r.unit), r.peer, fmt(r.theirs, r.unit),
                          "-" if ratio is None else f"{ratio:.2f}x", r.target, _met(r.met)))
    widths = [max(len(h), *(len(row[i]) for row in lines)) if lines else len(h) for i, h in enumerate(head)]
    right = {3, 5, 6}

    def render(row) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))

    out = ["ratio = pcap4py / peer", render(head), render(tuple("-" * w for w in widths))]
    out += [render(row) for row in lines]
    for s in sections:
        for r in s.rows:
            if r.note:
                out.append(f"  [{s.name}] {r.figure} / {r.peer}: {r.note}")
        for n in s.notes:
            out.append(f"  [{s.name}] {n}")
    return "\n".join(out)


def machine() -> dict:
    load = os.getloadavg()
    return {
        "host": platform.node(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in load],
    }


def write_json(sections: list[Section], meta: dict) -> Path:
    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    doc = {
        "meta": meta,
        "sections": [
            {"name": s.name, "notes": s.notes, "raw": s.raw,
             "rows": [{**asdict(r), "ratio": r.ratio} for r in s.rows]}
            for s in sections
        ],
    }
    path = OUT / f"bench-{stamp}.json"
    text = json.dumps(doc, indent=2, default=str)
    path.write_text(text)
    (OUT / "latest.json").write_text(text)
    return path
