"""The bundled image on a remote host: there already, or loaded there through the Engine API.

No registry is involved: when the host lacks the image, its archive (``docker save``'s tar) is
streamed from the local engine (``DOCKER_HOST`` or the default socket) or from a file
(``--image-archive``, ``docker save -o`` or ``docker/build.sh`` with ``ARCHIVE=``) into the
host's ``POST /images/load``, piece by piece, without a copy on disk.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional

from ..errors import SidecarError

CHUNK = 1 << 20
LOAD_TIMEOUT = 900  # seconds the remote engine may take between two pieces of its answer


def has_image(client: Any, image: str) -> bool:
    """Whether the engine of ``client`` has ``image``."""
    from docker.errors import ImageNotFound

    try:
        client.api.inspect_image(image)
        return True
    except ImageNotFound:
        return False


def ensure_image(client: Any, host: str, image: str, report: Callable[[str], None],
                 archive: Optional[str] = None) -> None:
    """Make sure ``host`` has ``image``: said in one line through ``report``, then loaded from
    ``archive`` or the local engine; :class:`SidecarError` when neither has it or the load fails."""
    from docker.errors import DockerException

    try:
        if has_image(client, image):
            return
    except DockerException as e:
        raise SidecarError(f"host {host}: cannot look for image {image}: {_first_line(e)}") from None
    if archive:
        report(f"host {host} has no image {image}: loading it there from {archive}")
        _load(client, host, image, _file_chunks(archive), archive)
        return
    local, size = _local_source(image, host)
    try:
        report(f"host {host} has no image {image}: loading it there from the local engine "
               f"({size / 1e6:.0f} MB, no registry)")
        _load(client, host, image, local.api.get_image(image, chunk_size=CHUNK), "the local engine")
    finally:
        local.close()


def _local_source(image: str, host: str) -> tuple[Any, int]:
    """The local engine's client and the image's size there."""
    import docker
    from docker.errors import DockerException, ImageNotFound

    try:
        local = docker.from_env(timeout=LOAD_TIMEOUT)
    except DockerException as e:
        raise SidecarError(f"host {host} has no image {image} and no local engine answers to load it from: "
                           f"{_first_line(e)} (give --image-archive FILE)") from None
    try:
        return local, int(local.api.inspect_image(image).get("Size") or 0)
    except ImageNotFound:
        local.close()
        raise SidecarError(f"host {host} has no image {image}, nor has the local engine: build it "
                           f"(docker/build.sh) or give --image-archive FILE") from None
    except DockerException as e:
        local.close()
        raise SidecarError(f"host {host} has no image {image} and the local engine cannot give it: "
                           f"{_first_line(e)}") from None


def _load(client: Any, host: str, image: str, chunks: Iterator[bytes], source: str) -> None:
    """Stream ``chunks`` (an image archive) into the host's engine and check the image is there."""
    from docker.errors import DockerException

    previous = client.api.timeout
    client.api.timeout = LOAD_TIMEOUT
    try:
        for message in client.api.load_image(chunks):
            error = isinstance(message, dict) and (message.get("error") or (message.get("errorDetail") or {}).get("message"))
            if error:
                raise SidecarError(f"host {host}: loading image {image} from {source} failed: {_first_line(error)}")
    except DockerException as e:
        raise SidecarError(f"host {host}: loading image {image} from {source} failed: {_first_line(e)}") from None
    except OSError as e:
        raise SidecarError(f"host {host}: loading image {image} from {source} failed: {e}") from None
    finally:
        client.api.timeout = previous
    if not has_image(client, image):
        raise SidecarError(f"host {host}: {source} holds no image {image}")


def _file_chunks(path: str) -> Iterator[bytes]:
    """The pieces of file ``path``, opened now (a missing file is an error before any upload)."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise SidecarError(f"cannot read the image archive {path}: {e.strerror}") from None

    def pieces() -> Iterator[bytes]:
        with f:
            while chunk := f.read(CHUNK):
                yield chunk

    return pieces()


def _first_line(error: Any) -> str:
    explanation = getattr(error, "explanation", None)
    return (str(explanation or error).strip().splitlines() or [type(error).__name__])[0]
