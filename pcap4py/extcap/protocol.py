"""The extcap answers Wireshark reads on stdout: interfaces, link types and configuration.

Each answer is a list of sentences such as ``interface {value=..}{display=..}``
(Wireshark's doc/extcap.adoc).  The ``--...`` names in :data:`CALLS` are the
options Wireshark passes back to ``--capture`` with the user's choices.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

from ..engine.limits import MAX_SNAPLEN
from .targets import ALL, CAPTURE_DIRECTIONS, VIAS, Running

VIA_CALL, DIRECTION_CALL, SNAPLEN_CALL, CONTAINERS_CALL = "--via", "--direction", "--snaplen", "--containers"

VIA_DISPLAY = {
    "netns": "Inside the container's network namespace (every interface, loopback included)",
    "veth": "On its host-side veth peer",
    "bridge": "On its Docker bridge (host <its IP>)",
}
DIRECTION_DISPLAY = {"both": "Both", "egress": "Egress (what the container sends)",
                     "ingress": "Ingress (what it receives)"}


def sentence(kind: str, **fields: object) -> str:
    """``kind {key=value}...``; Python's ``True`` is written ``true``."""
    parts = "".join(f"{{{k}={str(v).lower() if isinstance(v, bool) else v}}}" for k, v in fields.items())
    return f"{kind} {parts}"


def interfaces(containers: Iterable[Running], version: str, help_url: Optional[str]) -> list[str]:
    """The ``extcap`` line, one interface per container (naming its runtime), and the all-containers interface."""
    head = {"version": version, **({"help": help_url} if help_url else {})}
    lines = [sentence("extcap", **head)]
    lines += [sentence("interface", value=c.interface, display=f"{c.name} ({c.runtime} container, pcap4py)")
              for c in containers]
    lines.append(sentence("interface", value=ALL, display="All running containers (pcap4py)"))
    return lines


def dlts() -> list[str]:
    """Every pcap4py interface is Ethernet (a container's veths and its loopback alike)."""
    return [sentence("dlt", number=1, name="EN10MB", display="Ethernet")]


def config(interface: str, running: Sequence[str]) -> list[str]:
    """The options of ``interface``: capture point, direction, snapshot length; for the
    all-containers interface also which containers (none checked: all)."""
    lines = _selector(0, VIA_CALL, "Capture point", "Where to listen",
                       {v: VIA_DISPLAY.get(v, v) for v in VIAS}, default=VIAS[0])
    lines += _selector(1, DIRECTION_CALL, "Direction", "From the container's point of view",
                       {d: DIRECTION_DISPLAY[d] for d in ("both", *CAPTURE_DIRECTIONS)}, default="both")
    lines.append(sentence("arg", number=2, call=SNAPLEN_CALL, display="Snapshot length",
                          tooltip="Bytes to capture per packet", type="integer",
                          range=f"1,{MAX_SNAPLEN}", default=MAX_SNAPLEN))
    if interface == ALL:
        lines.append(sentence("arg", number=3, call=CONTAINERS_CALL, display="Containers",
                              tooltip="Capture only these (none checked: every running container)",
                              type="multicheck"))
        lines += [sentence("value", arg=3, value=name, display=name, default=False) for name in running]
    return lines


def _selector(number: int, call: str, display: str, tooltip: str, values: dict, default: str) -> list[str]:
    lines = [sentence("arg", number=number, call=call, display=display, tooltip=tooltip, type="selector")]
    lines += [sentence("value", arg=number, value=v, display=d, default=v == default) for v, d in values.items()]
    return lines

