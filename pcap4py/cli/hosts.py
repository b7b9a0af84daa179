"""``pcap4py capture --host URL`` / ``--context NAME``: containers on other Docker hosts, captured
by a sidecar on each host and merged.

The options are declared here and added to ``capture`` (:func:`host_options`; ``--context`` and
``--image`` are shared with ``--kube``, see :mod:`.kube`); the capture itself is
:func:`pcap4py.remote.dockerhosts.open_hosts`, run like every other capture by the capture
command's ``_run`` (sinks, signals, statistics).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable, Optional

import click

from ..errors import Pcap4pyError, SelectionError

if TYPE_CHECKING:
    from ..remote.hosts import RemoteHost
    from ..sinks import Output
    from .request import CaptureRequest

DEFAULT_IMAGE = "pcap4py"  # the bundled image as docker/build.sh tags it
IMAGE_VARIABLE = "PCAP4PY_REMOTE_IMAGE"
ARCHIVE_VARIABLE = "PCAP4PY_IMAGE_ARCHIVE"
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"  # as pcap4py.container.selection spells them
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"


def host_options(f: Callable) -> Callable:
    """The ``--host`` options of ``capture`` (the docker CLI's ``-H`` and TLS flags)."""
    for option in reversed([
        click.option("--host", "hosts", metavar="URL", multiple=True,
                     help="Capture containers (--container, --label, --all-containers; --follow) on the Docker host "
                          "at URL (tcp://HOST:PORT, ssh://USER@HOST), by a sidecar there; repeat for several."),
        click.option("--tls", is_flag=True, help="With --host tcp://: use TLS (implied by --tlsverify)."),
        click.option("--tlsverify", is_flag=True, help="With --host tcp://: TLS, and verify the host ($DOCKER_TLS_VERIFY)."),
        click.option("--tlscacert", metavar="FILE", help="Trust certificates signed by this CA ($DOCKER_CERT_PATH/ca.pem)."),
        click.option("--tlscert", metavar="FILE", help="The client certificate ($DOCKER_CERT_PATH/cert.pem)."),
        click.option("--tlskey", metavar="FILE", help="The client key ($DOCKER_CERT_PATH/key.pem)."),
        click.option("--image-archive", metavar="FILE", envvar=ARCHIVE_VARIABLE,
                     help="With --host: the bundled image as a 'docker save' archive, loaded on a host that lacks "
                          f"it (default: from the local engine; ${ARCHIVE_VARIABLE})."),
    ]):
        f = option(f)
    return f


def wants_hosts(r: "CaptureRequest", env=os.environ) -> bool:
    """Whether the capture is of remote hosts: ``--host``, or ``--context``/``$DOCKER_CONTEXT``
    (a context other than ``default``) without ``--kube``."""
    if r.kube:
        return False
    return bool(r.hosts) or bool(r.context) or env.get("DOCKER_CONTEXT", "default") not in ("", "default")


def hosts_of(r: "CaptureRequest", env=os.environ) -> list["RemoteHost"]:
    """The hosts ``r`` names, told apart by name: each ``--host``, else the context's."""
    from ..remote.hosts import context_host, distinct_names, parse_host, tls_from

    if r.hosts and r.context:
        raise click.UsageError("--host and --context both name hosts: give one")
    if r.hosts:
        tls = tls_from({"tls": r.tls, "tlsverify": r.tlsverify, "tlscacert": r.tlscacert,
                        "tlscert": r.tlscert, "tlskey": r.tlskey}, env)
        return distinct_names([parse_host(url, tls) for url in r.hosts])
    return [context_host(r.context or env["DOCKER_CONTEXT"], env)]


def check_request(r: "CaptureRequest") -> None:
    """Refuse what a remote capture cannot do, before any host is asked."""
    if not (r.containers or r.labels or r.all_containers or r.compose_service or r.compose_project):
        raise click.UsageError("--host/--context capture containers: add --container NAME, --label KEY[=VALUE] "
                               "or --all-containers")
    if r.all_containers and r.containers:
        raise SelectionError("--container and --all-containers exclude each other")
    clashing = [flag for flag, on in (("-i", r.iface_opt), ("-Q", r.direction), ("--pod", r.pods),
                                      ("--pid", r.pid), ("--netns", r.netns),
                                      ("--wait-ping", r.wait_ping), ("-Z", r.user), ("-r", r.read_file),
                                      ("--via", r.via != "netns")) if on]
    if clashing:
        raise click.UsageError(f"--host captures every interface of each container in its namespace: "
                               f"drop {', '.join(clashing)}")
    if r.write_path and not (r.pcapng or r.write_path.lower().endswith((".pcapng", ".ntar"))):
        raise click.UsageError("--host writes pcapng (several hosts' interfaces, directions): "
                               "name the file .pcapng or add --pcapng")


def capture_hosts(r: "CaptureRequest", output: "Output", expression: Optional[str], run: Callable) -> None:
    """Capture the containers ``r`` selects on its hosts into ``output`` with ``run``."""
    import time

    from ..remote.dockerhosts import open_hosts, prepare_hosts
    from ..remote.hostfollow import Matcher

    check_request(r)
    hosts = hosts_of(r)
    image = r.image or os.environ.get(IMAGE_VARIABLE) or DEFAULT_IMAGE
    labels = list(r.labels)
    labels += [f"{COMPOSE_SERVICE_LABEL}={r.compose_service}"] if r.compose_service else []
    labels += [f"{COMPOSE_PROJECT_LABEL}={r.compose_project}"] if r.compose_project else []
    since = time.time() - 1  # events from before the listing: a start in between is not missed
    ready = prepare_hosts(hosts, image, _say, names=r.containers, labels=labels, all=r.all_containers,
                          archive=r.image_archive, follow=r.follow)
    if not ready:
        raise Pcap4pyError(f"no container to capture on {', '.join(h.name for h in hosts)}")
    targets = [str(t) for h in ready for t in h.targets]
    if targets or not r.follow:
        _say(f"capturing {len(targets)} container{'s' if len(targets) != 1 else ''} ({', '.join(targets)}) "
             f"with image {image}")
    else:
        _say(f"no container to capture yet: following {', '.join(h.host.name for h in ready)} with image {image}")
    joined = []

    def report(line: str) -> None:
        if line.startswith("+ container "):
            joined.append(line)
        _say(line)

    follow = (Matcher(tuple(r.containers), tuple(labels), r.all_containers), since) if r.follow else None
    cap = open_hosts(ready, image, filter=expression, snaplen=r.snaplen, count=r.count, duration=r.duration,
                     report=report, buffer_kib=r.buffer_size, follow=follow)
    run(cap, output, user=None, live=True)
    if not joined and not r.follow:
        raise Pcap4pyError("no container could be captured")


def _say(line: str) -> None:
    from ..text import printable

    click.echo(f"pcap4py: {printable(line)}", err=True)
