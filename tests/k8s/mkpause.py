#!/usr/bin/env python3
"""Pack one static binary into an OCI image-layout tar (no registry, no Docker build).

usage: mkpause.py BINARY REF OUT.tar -- the tar imports with `ctr images import` under REF.
"""
import hashlib
import io
import json
import sys
import tarfile


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer(binary: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tar.gettarinfo(binary, arcname="pause")
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime, info.mode = 0, 0o755
        with open(binary, "rb") as f:
            tar.addfile(info, f)
    return buf.getvalue()


def main(binary: str, ref: str, out: str) -> None:
    layer = _layer(binary)
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
        "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": _digest(layer), "size": len(layer)}]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": _digest(manifest), "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": ref, "io.containerd.image.name": ref},
        "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
    with tarfile.open(out, "w") as tar:
        files = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index)]
        files += [("blobs/sha256/" + _digest(d)[7:], d) for d in (layer, config, manifest)]
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    main(*sys.argv[1:4])
