"""What ``pcap4py capture`` was asked, as one record: click's options in, every rule between
options checked in one place (:meth:`CaptureRequest.check`, as tcpdump keeps them in one block),
the pieces the capture needs out (the interface, the filter, the output, the live-handle options),
each derived in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import click

from ..errors import SelectionError
from ..sinks import Output


@dataclass(frozen=True)
class CaptureRequest:
    """The options of ``pcap4py capture`` (field names are click's parameter names)."""

    args: tuple
    iface_opt: Optional[str]
    read_file: Optional[str]
    count: Optional[int]
    write_path: Optional[str]
    pcapng: bool
    comments: bool
    fmt: str
    as_json: bool
    numeric: bool
    filter_opt: Optional[str]
    file_size: Optional[int]
    rotate_seconds: Optional[int]
    file_count: Optional[int]
    post_rotate: Optional[str]
    snaplen: int
    buffer_size: Optional[int]
    direction: Optional[str]
    no_promisc: bool
    immediate: bool
    nano: bool
    duration: Optional[float]
    wait_ping: bool
    wait_iface: str
    wait_timeout: Optional[float]
    containers: tuple
    labels: tuple
    compose_service: Optional[str]
    all_containers: bool
    follow: bool
    via: str
    capture_dirs: str
    user: Optional[str]
    pods: tuple = ()
    compose_project: Optional[str] = None
    runtime: Optional[str] = None
    pid: Optional[int] = None
    netns: Optional[str] = None
    verbose: int = 0
    link_header: bool = False
    quick: bool = False
    tstamp: int = 0
    absolute_seq: bool = False
    hex_x: int = 0
    hex_X: int = 0
    ascii_A: int = 0
    number: bool = False
    # --kube (pcap4py.cli.kube; --pod then names Kubernetes pods)
    kube: bool = False
    kube_namespace: Optional[str] = None
    selector: Optional[str] = None
    target_container: Optional[str] = None
    image: Optional[str] = None
    image_pull_policy: str = "IfNotPresent"
    kubeconfig: Optional[str] = None
    context: Optional[str] = None  # with --kube the kubeconfig's, else a Docker context (pcap4py.cli.hosts)
    # --host (pcap4py.cli.hosts)
    hosts: tuple = ()
    tls: bool = False
    tlsverify: bool = False
    tlscacert: Optional[str] = None
    tlscert: Optional[str] = None
    tlskey: Optional[str] = None
    image_archive: Optional[str] = None

    def check(self) -> None:
        """Refuse every combination of options that cannot work, before anything is opened
        (click's usage errors; a container selection's own errors are :class:`SelectionError`)."""
        rotating = self.file_size is not None or self.rotate_seconds is not None
        if not rotating:
            for flag, value in (("-W", self.file_count), ("-z", self.post_rotate)):
                if value is not None:
                    raise click.UsageError(f"{flag} needs -C or -G (it acts on rotated files)")
        elif not self.write_path or self.write_path == "-":
            raise click.UsageError("-C and -G rotate files: give -w FILE (not stdout)")
        check_output(self.output())
        if self.read_file and rotating:
            raise click.UsageError("-C, -G, -W and -z rotate live captures: drop them with -r")
        if not self.read_file:
            self._check_live()
        if self.filter_opt and self._filter_words():
            raise click.UsageError("give the filter either with -f or as trailing words, not both")

    def _check_live(self) -> None:
        if self.follow and not self.selected:
            raise SelectionError("--follow needs a container selection: --container, --label, "
                                 "--compose-service, --pod or --all-containers")
        if self.all_containers and (self.containers or self.pods):
            raise SelectionError("--container/--pod and --all-containers exclude each other")
        if self.namespace and (self.selected or (self.pid is not None and self.netns is not None)):
            raise click.UsageError("--pid, --netns and a container selection exclude each other: give one")
        if (self.selected or self.namespace) and (self.iface_opt or self.direction):
            raise click.UsageError("--container picks its own interfaces and directions: "
                                   "drop -i/-Q and use --via and --capture")
        if self.follow and self.user:
            raise click.UsageError("--follow opens handles as containers start, which needs the privileges "
                                   "-Z would drop: drop -Z")
        if self._takes_first_word() and not self.args:
            raise click.UsageError("name an interface: capture IFACE [EXPRESSION...] (see 'pcap4py interfaces')")

    @property
    def selected(self) -> bool:
        """Whether containers were asked for (--container, --label, --compose-service,
        --compose-project, --pod, --all-containers)."""
        return bool(self.containers or self.labels or self.compose_service or self.compose_project is not None
                    or self.all_containers or self.pods)

    @property
    def namespace(self) -> bool:
        """Whether a network namespace was asked for (--pid, --netns)."""
        return self.pid is not None or self.netns is not None

    def _takes_first_word(self) -> bool:
        """tcpdump takes the interface by -i; pcap4py also as the first word, when it needs one."""
        return self.iface_opt is None and not self.selected and not self.namespace and not self.read_file

    def interface(self) -> Optional[str]:
        """The interface to capture: -i, or the first word (none with containers, a namespace or -r)."""
        return self.args[0] if self._takes_first_word() else self.iface_opt

    def _filter_words(self) -> tuple:
        return self.args[1:] if self._takes_first_word() else self.args

    def expression(self) -> Optional[str]:
        """The filter: -f, or the words after the interface."""
        words = self._filter_words()
        return self.filter_opt or (" ".join(words) if words else None)

    def output(self, rotation=None) -> Output:
        """Where the packets go (``--json`` is ``--format json``)."""
        from .options import print_flags

        flags = print_flags(self.verbose, self.link_header, self.quick, self.tstamp, self.absolute_seq,
                            self.hex_x, self.hex_X, self.ascii_A, self.number)
        return Output(self.write_path, "json" if self.as_json else self.fmt, self.pcapng, self.comments,
                      self.nano, rotation, flags)

    def live(self, *, job_ring: bool = False) -> dict:
        """The options every live handle is opened with (``-B`` is in KiB, libpcap takes bytes).
        ``job_ring``: without ``-B``, a ring sized to ``-c`` (one interface; a container's
        interfaces have small rings of their own)."""
        options = dict(snaplen=self.snaplen, promisc=not self.no_promisc, immediate=self.immediate,
                       nanosecond=self.nano)
        if self.buffer_size:
            options["buffer_size"] = self.buffer_size * 1024
        elif job_ring and self.count is not None:
            from ..engine.handle import ring_for

            options["buffer_size"] = ring_for(self.count, self.snaplen, self.immediate)  # -c 1: no 32 MiB
        return options


def check_output(output: Output) -> Output:
    """``output``, once the pcapng-only options are known to have pcapng to act on (capture's
    rule, and read's)."""
    if output.pcapng and not output.path:
        raise click.UsageError("--pcapng needs -w FILE (or -w - for stdout)")
    if output.comments:
        from ..sinks.pcapng import wants_pcapng  # the pcapng writer's modules: only for a -w that may need them

        if not (output.path and wants_pcapng(output.path, output.pcapng)):
            raise click.UsageError("--comments needs pcapng output: -w FILE.pcapng, or --pcapng with -w")
    return output
