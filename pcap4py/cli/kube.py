"""``pcap4py capture --kube``: Kubernetes pods, captured through ephemeral containers and merged.

The options are declared here and added to ``capture`` (:func:`kube_options`); the capture
itself is :func:`pcap4py.remote.pods.open_pods`, run like every other capture by the capture
command's ``_run`` (sinks, signals, statistics).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import click

from ..errors import Pcap4pyError
from ..remote.kube import DEFAULT_IMAGE, IMAGE_VARIABLE

if TYPE_CHECKING:
    from ..sinks import Output
    from .request import CaptureRequest


def kube_options(f: Callable) -> Callable:
    """The ``--kube`` options of ``capture`` (``--pod NAME``, shared with Podman's pods, names
    Kubernetes pods with ``--kube``)."""
    for option in reversed([
        click.option("--kube", is_flag=True,
                     help="Capture Kubernetes pods (--pod or --selector) through ephemeral containers."),
        click.option("--namespace", "kube_namespace", metavar="NS",
                     help="With --kube: the pods' namespace (default: the context's)."),
        click.option("--selector", metavar="KEY=VALUE", help="With --kube: the pods matching this label selector."),
        click.option("--target-container", metavar="NAME",
                     help="With --kube: whose namespaces the capture shares (default: the pod's first container)."),
        click.option("--image", metavar="IMAGE",
                     help=f"With --kube or --host: the bundled image to run in the pods (${IMAGE_VARIABLE}) or "
                          f"on the hosts ($PCAP4PY_REMOTE_IMAGE); default {DEFAULT_IMAGE}."),
        click.option("--image-pull-policy", type=click.Choice(["IfNotPresent", "Always", "Never"]),
                     default="IfNotPresent", show_default=True, help="With --kube: when the node pulls the image."),
        click.option("--kubeconfig", metavar="FILE", help="With --kube: the kubeconfig (default: $KUBECONFIG)."),
        click.option("--context", "context", metavar="NAME",
                     help="With --kube: the kubeconfig context; else a Docker context whose host's containers "
                          "are captured (as --host; $DOCKER_CONTEXT)."),
    ]):
        f = option(f)
    return f


def refuse_without_kube(r: "CaptureRequest") -> None:
    """The pod options mean nothing without --kube: say so rather than capture something else
    (``--image`` also serves ``--host``/``--context``)."""
    from .hosts import wants_hosts

    given = [flag for flag, on in (("--selector", r.selector), ("--namespace", r.kube_namespace),
                                   ("--target-container", r.target_container),
                                   ("--image", r.image and not wants_hosts(r))) if on]
    if given and not r.kube:
        raise click.UsageError(f"{', '.join(given)} select pods: add --kube")


def check_request(r: "CaptureRequest") -> None:
    """Refuse what --kube cannot do, before anything is asked of the cluster."""
    if not (r.pods or r.selector):
        raise click.UsageError("--kube needs pods: --pod NAME (repeatable) or --selector KEY=VALUE")
    clashing = [flag for flag, on in (("-i", r.iface_opt), ("-Q", r.direction), ("--container", r.containers),
                                      ("--label", r.labels), ("--compose-service", r.compose_service),
                                      ("--all-containers", r.all_containers), ("--wait-ping", r.wait_ping),
                                      ("-Z", r.user)) if on]
    if clashing:
        raise click.UsageError(f"--kube captures every interface of each pod: drop {', '.join(clashing)}")
    if r.follow and not r.selector:
        raise click.UsageError("--kube --follow takes the pods that come to match a --selector")
    if r.write_path and not (r.pcapng or r.write_path.lower().endswith((".pcapng", ".ntar"))):
        raise click.UsageError("--kube writes pcapng (several interfaces, directions): "
                               "name the file .pcapng or add --pcapng")


def capture_pods(r: "CaptureRequest", output: "Output", expression, run: Callable) -> None:
    """Capture the pods ``r`` selects into ``output`` with ``run`` (the capture command's runner)."""
    from ..remote.kube import client, default_image, select_pods
    from ..remote.pods import open_pods

    check_request(r)
    api, namespace = client(r.kubeconfig, r.context)
    pods, problems = select_pods(api, r.kube_namespace or namespace, r.pods, r.selector, r.target_container)
    for line in problems:
        _say(line)
    where = f"in namespace {r.kube_namespace or namespace}" + (f" matching {r.selector}" if r.selector else "")
    if not pods and not r.follow:
        raise Pcap4pyError(f"no running pod to capture {where}")
    joined = []

    def report(line: str) -> None:
        if line.startswith("+ pod "):
            joined.append(line)
        _say(line)

    image = r.image or default_image()
    if pods:
        _say(f"capturing {len(pods)} pod{'s' if len(pods) != 1 else ''} ({', '.join(str(p) for p in pods)}) "
             f"with image {image}")
    else:
        _say(f"waiting for a pod {where} to run")
    follow = (r.kube_namespace or namespace, r.selector, r.target_container) if r.follow else None
    cap = open_pods(api, pods, image, filter=expression, snaplen=r.snaplen, pull_policy=r.image_pull_policy,
                    count=r.count, duration=r.duration, report=report, follow=follow)
    run(cap, output, user=None, live=True)
    if not joined:
        raise Pcap4pyError("no pod could be captured")


def _say(line: str) -> None:
    from ..text import printable

    click.echo(f"pcap4py: {printable(line)}", err=True)
