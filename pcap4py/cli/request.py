"""What ``pcap4py capture`` was asked, as one record: click's options in, the pieces the capture
needs out (the output, the live-handle options), each derived in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

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
    namespace: Optional[str] = None
    selector: Optional[str] = None
    target_container: Optional[str] = None
    image: Optional[str] = None
    image_pull_policy: str = "IfNotPresent"
    kubeconfig: Optional[str] = None
    kube_context: Optional[str] = None

    def output(self, rotation=None) -> Output:
        """Where the packets go (``--json`` is ``--format json``)."""
        from .options import print_flags

        flags = print_flags(self.verbose, self.link_header, self.quick, self.tstamp, self.absolute_seq,
                            self.hex_x, self.hex_X, self.ascii_A, self.number)
        return Output(self.write_path, "json" if self.as_json else self.fmt, self.pcapng, self.comments,
                      self.nano, rotation, flags)

    def live(self) -> dict:
        """The options every live handle is opened with (``-B`` is in KiB, libpcap takes bytes)."""
        options = dict(snaplen=self.snaplen, promisc=not self.no_promisc, immediate=self.immediate,
                       nanosecond=self.nano)
        if self.buffer_size:
            options["buffer_size"] = self.buffer_size * 1024
        return options
