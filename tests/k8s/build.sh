#!/bin/bash
# Build the single-node test cluster's binaries into a cache folder (never into the repo).
# usage: build.sh CACHE_DIR   (CACHE_DIR is keyed by Kubernetes + Go version by the caller)
# Produces CACHE_DIR/bin/{kube-apiserver,kubelet,kube-controller-manager,kube-scheduler,kubectl},
# CACHE_DIR/pause/pause-image.tar and CACHE_DIR/.complete when everything succeeded.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=$1
V=$(sed -n 's/^require k8s.io\/kubernetes v//p' "$HERE/go.mod")
export PATH=$PATH:/usr/local/go/bin CGO_ENABLED=0 GOFLAGS=-mod=mod
export GOCACHE=${GOCACHE:-$CACHE/gocache}
mkdir -p "$CACHE/src" "$CACHE/bin.tmp" "$CACHE/pause"
exec 9>"$CACHE/.lock"; flock 9          # one build at a time; a second caller waits for the first
[ -f "$CACHE/.complete" ] && exit 0
cp "$HERE/go.mod" "$HERE/go.sum" "$HERE/tools.go" "$CACHE/src/"
cd "$CACHE/src"
LD="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LD="$LD -X $p.gitVersion=v$V -X $p.gitMajor=${V%%.*} -X $p.gitMinor=$(echo "$V" | cut -d. -f2) -X $p.gitTreeState=clean"
done
s=$(date +%s)
go build -trimpath -ldflags "$LD" -o "$CACHE/bin.tmp/" \
  k8s.io/kubernetes/cmd/{kube-apiserver,kubelet,kube-controller-manager,kube-scheduler,kubectl}
echo "built Kubernetes v$V in $(( $(date +%s) - s ))s"
mkdir -p "$CACHE/pause/src" && cp "$HERE/pause/go.mod" "$HERE/pause/main.go" "$CACHE/pause/src/"
(cd "$CACHE/pause/src" && go build -trimpath -ldflags "-s -w" -o "$CACHE/pause/pause" .)
python3 "$HERE/mkpause.py" "$CACHE/pause/pause" registry.k8s.io/pause:3.10 "$CACHE/pause/pause-image.tar"
rm -rf "$CACHE/bin" && mv "$CACHE/bin.tmp" "$CACHE/bin"
touch "$CACHE/.complete"
