"""The extcap answers Wireshark reads on stdout: interfaces, link types and configuration.

Each answer is a list of sentences such as ``interface {value=..}{display=..}``
(Wireshark's doc/extcap.adoc).  The ``--...`` names in :data:`CALLS` are the
options Wireshark passes back to ``--capture`` with the user's choices.
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence

from ..engine.limits import MAX_SNAPLEN
from .pods import PodInterface
from .targets import ALL, CAPTURE_DIRECTIONS, VIAS, Running

VIA_CALL, DIRECTION_CALL, SNAPLEN_CALL, CONTAINERS_CALL = "--via", "--direction", "--snaplen", "--containers"
TARGET_CALL, IMAGE_CALL = "--target-container", "--image"

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


def interfaces(containers: Iterable[Running], version: str, help_url: Optional[str],
               pods: Iterable[PodInterface] = ()) -> list[str]:
    """The ``extcap`` line, one interface per container (naming its runtime), the all-containers
    interface, then one per Kubernetes pod."""
    head = {"version": version, **({"help": help_url} if help_url else {})}
    lines = [sentence("extcap", **head)]
    lines += [sentence("interface", value=c.interface, display=f"{c.name} ({c.runtime} container, pcap4py)")
              for c in containers]
    lines.append(sentence("interface", value=ALL, display="All running containers (pcap4py)"))
    lines += [sentence("interface", value=p.value, display=p.display) for p in pods]
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
    lines.append(_snaplen(2))
    if interface == ALL:
        lines.append(sentence("arg", number=3, call=CONTAINERS_CALL, display="Containers",
                              tooltip="Capture only these (none checked: every running container)",
                              type="multicheck"))
        lines += [sentence("value", arg=3, value=name, display=name, default=False) for name in running]
    return lines


def pod_config(containers: Sequence[str], image: str) -> list[str]:
    """The options of a pod's interface: whose namespaces the capture shares (a choice of the
    pod's containers, or a name when the cluster could not tell them), the image, snapshot length."""
    tooltip = "The container whose namespaces the capture shares"
    if containers:
        lines = _selector(0, TARGET_CALL, "Target container", tooltip, {c: c for c in containers},
                          default=containers[0])
    else:
        lines = [sentence("arg", number=0, call=TARGET_CALL, display="Target container",
                          tooltip=tooltip + " (empty: the pod's first)", type="string")]
    lines.append(sentence("arg", number=1, call=IMAGE_CALL, display="Capture image",
                          tooltip="The image of the ephemeral capture container (pcap4py's bundled image)",
                          type="string", default=image))
    lines.append(_snaplen(2))
    return lines


def _snaplen(number: int) -> str:
    return sentence("arg", number=number, call=SNAPLEN_CALL, display="Snapshot length",
                    tooltip="Bytes to capture per packet", type="integer", range=f"1,{MAX_SNAPLEN}",
                    default=MAX_SNAPLEN)


def _selector(number: int, call: str, display: str, tooltip: str, values: dict, default: str) -> list[str]:
    lines = [sentence("arg", number=number, call=call, display=display, tooltip=tooltip, type="selector")]
    lines += [sentence("value", arg=number, value=v, display=d, default=v == default) for v, d in values.items()]
    return lines

