"""Remote Docker (or Podman) hosts: what ``--host URL`` and ``--context NAME`` name, and a client.

A :class:`RemoteHost` is a plain record: the engine's URL (``tcp://HOST:PORT``, ``ssh://USER@HOST``,
``unix:///path``), the short name its containers' interfaces carry (``HOST/NAME/IFACE``) and its
TLS settings.  They come from the docker CLI's own settings, read the same way:

* ``--host`` with ``--tls``/``--tlsverify``/``--tlscacert``/``--tlscert``/``--tlskey``, or
  ``DOCKER_TLS_VERIFY`` and ``DOCKER_CERT_PATH`` (``ca.pem``, ``cert.pem``, ``key.pem``, default
  ``~/.docker``), as ``docker -H`` takes them;
* a Docker context (``--context``, ``DOCKER_CONTEXT``): ``meta.json`` under
  ``$DOCKER_CONFIG/contexts/meta/<sha256 of the name>/`` and its TLS files under
  ``contexts/tls/<sha256>/docker/``.

``ssh://`` runs the ``ssh`` program (``use_ssh_client``), as the docker CLI does: the user's ssh
configuration, agent, ``known_hosts`` and jump hosts apply, and an unknown host key is refused
(the SDK's paramiko transport would accept it with a warning).  The remote side runs
``docker system dial-stdio``, so the host needs the docker CLI (Debian's docker.io has it).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

from ..errors import RemoteHostError

SCHEMES = ("tcp", "ssh", "unix")
MIN_API_VERSION = "1.24"  # the Docker SDK's minimum (Engine 1.12)
CONNECT_TIMEOUT = 60  # seconds per API call (an image load streams for longer: see sidecar)


@dataclass(frozen=True)
class TlsFiles:
    """TLS for a ``tcp://`` engine: ``verify`` the server against ``ca`` (None: the system's
    authorities), present ``cert``/``key`` when both are given."""

    verify: bool
    ca: Optional[str] = None
    cert: Optional[str] = None
    key: Optional[str] = None


@dataclass(frozen=True)
class RemoteHost:
    """A Docker engine to capture on: ``url``, ``name`` (the ``HOST`` of ``HOST/NAME/IFACE``),
    ``tls`` (None: plain), ``origin`` (how it was named, for messages)."""

    url: str
    name: str
    tls: Optional[TlsFiles] = None
    origin: str = "--host"

    def __str__(self) -> str:
        return self.name


def parse_host(url: str, tls: Optional[TlsFiles] = None, origin: str = "--host") -> RemoteHost:
    """The host at ``url`` (``tcp://HOST[:PORT]``, ``ssh://[USER@]HOST[:PORT]``, ``unix:///PATH``)."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise RemoteHostError(f"bad host {url!r}: use tcp://HOST:PORT, ssh://USER@HOST or unix:///PATH")
    if parts.scheme == "unix":
        if not parts.path:
            raise RemoteHostError(f"bad host {url!r}: unix:///PATH names a socket")
        return RemoteHost(url, "local", None, origin)
    if not parts.hostname:
        raise RemoteHostError(f"bad host {url!r}: no host name")
    if parts.scheme == "tcp" and parts.port is None:
        url = f"{url.rstrip('/')}:{2376 if tls else 2375}"  # the docker CLI's defaults
    return RemoteHost(url, parts.hostname, tls if parts.scheme == "tcp" else None, origin)


def tls_from(flags: Mapping[str, Any], env: Mapping[str, str] = os.environ) -> Optional[TlsFiles]:
    """The TLS settings of ``docker -H``: flags ``tls``, ``tlsverify``, ``tlscacert``, ``tlscert``,
    ``tlskey`` (None when not given), else ``DOCKER_TLS_VERIFY`` and ``DOCKER_CERT_PATH``."""
    verify = bool(flags.get("tlsverify")) or bool(env.get("DOCKER_TLS_VERIFY"))
    named = [flags.get(k) for k in ("tlscacert", "tlscert", "tlskey")]
    if not (verify or flags.get("tls") or any(named)):
        return None
    cert_dir = Path(env.get("DOCKER_CERT_PATH") or Path.home() / ".docker")
    paths = {}
    for flag, default in (("tlscacert", "ca.pem"), ("tlscert", "cert.pem"), ("tlskey", "key.pem")):
        given = flags.get(flag)
        if given and not os.path.exists(given):
            raise RemoteHostError(f"--{flag} {given}: no such file")
        path = given or str(cert_dir / default)  # a default file that is absent is not used
        paths[flag] = path if os.path.exists(path) else None
    pair = paths["tlscert"] is not None and paths["tlskey"] is not None
    return TlsFiles(verify, paths["tlscacert"], paths["tlscert"] if pair else None,
                    paths["tlskey"] if pair else None)


def config_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The docker CLI's configuration folder (``DOCKER_CONFIG``, else ``~/.docker``)."""
    return Path(env.get("DOCKER_CONFIG") or Path.home() / ".docker")


def context_host(name: str, env: Mapping[str, str] = os.environ) -> RemoteHost:
    """The host of Docker context ``name`` (its ``docker`` endpoint and TLS files)."""
    if name == "default":
        url = env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        return parse_host(url, tls_from({}, env), origin="context default")
    digest = hashlib.sha256(name.encode()).hexdigest()
    root = config_dir(env) / "contexts"
    meta = root / "meta" / digest / "meta.json"
    try:
        endpoint = json.loads(meta.read_text())["Endpoints"]["docker"]
        url = endpoint["Host"]
    except FileNotFoundError:
        raise RemoteHostError(f"no Docker context {name!r} (looked for {meta})") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RemoteHostError(f"Docker context {name!r}: cannot read {meta}: {e}") from None
    tls_dir = root / "tls" / digest / "docker"
    files = {f: str(tls_dir / f"{f}.pem") for f in ("ca", "cert", "key") if (tls_dir / f"{f}.pem").exists()}
    tls = None
    if files:
        tls = TlsFiles(not endpoint.get("SkipTLSVerify", False), files.get("ca"),
                       files.get("cert") if "key" in files else None, files.get("key") if "cert" in files else None)
    host = parse_host(url, tls, origin=f"context {name}")
    return RemoteHost(host.url, name, host.tls, host.origin)


def distinct_names(hosts: list[RemoteHost]) -> list[RemoteHost]:
    """``hosts`` with names that tell them apart (a port, then a number, added to a name met twice)."""
    seen: dict[str, int] = {}
    result = []
    for host in hosts:
        name = host.name
        if name in seen:
            port = urlsplit(host.url).port
            name = f"{name}:{port}" if port and f"{name}:{port}" not in seen else f"{name}#{len(seen) + 1}"
        seen[name] = 1
        result.append(RemoteHost(host.url, name, host.tls, host.origin))
    return result


def connect(host: RemoteHost, timeout: int = CONNECT_TIMEOUT) -> Any:
    """A Docker SDK client of ``host`` that has answered a ping; :class:`RemoteHostError` if not."""
    import docker
    from docker.errors import DockerException

    kwargs: dict[str, Any] = {"base_url": host.url, "version": "auto", "timeout": timeout}
    if host.url.startswith("ssh://"):
        kwargs["use_ssh_client"] = True
    if host.tls is not None:
        t = host.tls
        kwargs["tls"] = docker.tls.TLSConfig(client_cert=(t.cert, t.key) if t.cert and t.key else None,
                                             ca_cert=t.ca, verify=t.verify)
    pin = host.tls is not None and host.tls.verify and host.tls.ca
    if pin:  # "auto" asks the engine from the constructor, before the CA can be pinned
        kwargs["version"] = MIN_API_VERSION
    try:
        client = docker.DockerClient(**kwargs)
        if pin:
            _pin_ca(client.api, host.tls.ca)
            client.api._version = client.api._retrieve_server_version()  # what "auto" does
        client.ping()
    except DockerException as e:
        raise RemoteHostError(f"host {host.name} ({host.url}): its Docker Engine does not answer: "
                              f"{_why(e)}") from None
    except Exception as e:  # noqa: BLE001 - requests, ssl, ssh: one line
        raise RemoteHostError(f"host {host.name} ({host.url}): its Docker Engine does not answer: "
                              f"{_why(e)}") from None
    return client


def _pin_ca(session: Any, ca: str) -> None:
    """Verify the host against ``ca`` whatever the environment says: requests lets
    ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` replace a session's CA (a system bundle there would
    refuse the host's own CA)."""
    merge = session.merge_environment_settings

    def merge_keeping_ca(url, proxies, stream, verify, cert):
        settings = merge(url, proxies, stream, verify, cert)
        settings["verify"] = ca
        return settings

    session.merge_environment_settings = merge_keeping_ca


def _why(error: BaseException) -> str:
    """The innermost useful reason of a connection failure (requests wraps it several times)."""
    text = str(error)
    if "paramiko" in text:
        return "ssh:// needs the paramiko package (pip install 'pcap4py[ssh]')"
    inner = error
    while inner.__context__ is not None and inner.__context__ is not inner:
        inner = inner.__context__
    reason = str(inner) or type(inner).__name__
    return (reason.strip().splitlines() or [type(error).__name__])[-1][:300]
