#!/bin/bash
# Bring up a single-node cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# a containerd of its own (CRI) and the kubelet, on 198.18.x addresses and non-default ports.
# usage: K8S_CACHE=... RUN=... up.sh [docker-image-to-import ...]
# Sandbox settings: restrict_oom_score_adj (no CAP_SYS_RESOURCE), failCgroupV1: false (cgroup v1).
set -euo pipefail
D=$(cd "$(dirname "$0")" && pwd); . "$D/env.sh"
t0=$(date +%s.%N); step() { awk -v a="$(date +%s.%N)" -v b="$t0" -v m="$*" 'BEGIN { printf "%6.1fs %s\n", a - b, m }'; }
bg() { local name=$1; shift; nohup "$@" > "$RUN/logs/$name.log" 2>&1 & echo $! > "$RUN/$name.pid"; }
mkdir -p "$RUN/logs" "$RUN/cni/net.d" "$CTRD_DIR" "$RUN/kubelet" "$RUN/pod-logs"
"$D/certs.sh" > /dev/null; step certs
ip link add "$NODE_BRIDGE" type bridge; ip addr add "$NODE_IP/32" dev "$NODE_BRIDGE"; ip link set "$NODE_BRIDGE" up
bg etcd etcd --name pcap4py --data-dir "$RUN/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "pcap4py=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls=
bg kube-apiserver kube-apiserver --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address="$NODE_IP" --advertise-address="$NODE_IP" --secure-port="$API_PORT" \
  --service-cluster-ip-range="$SVC_CIDR" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" --client-ca-file="$PKI/ca.crt" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP,Hostname \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true --profiling=false
cat > "$CTRD_DIR/config.toml" <<TOML
version = 2
root = "$CTRD_DIR/root"
state = "$CTRD_DIR/state"
disabled_plugins = ["io.containerd.internal.v1.tracing", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$CTRD_SOCK"
[ttrpc]
  address = "$CTRD_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$CTRD_DIR/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  enable_selinux = false
  disable_apparmor = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN/cni/net.d"
TOML
cat > "$RUN/cni/net.d/10-pcap4py.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "pcap4py-test", "plugins": [
  {"type": "bridge", "bridge": "$CNI_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$POD_GW"}]],
            "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$RUN/cni/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
JSON
bg containerd containerd --config "$CTRD_DIR/config.toml"
curlk() { curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$@"; }
for i in $(seq 1 600); do curlk "https://$NODE_IP:$API_PORT/readyz" > /dev/null && break; sleep 0.2; done
curlk "https://$NODE_IP:$API_PORT/readyz" > /dev/null; step apiserver ready
bg kube-controller-manager kube-controller-manager --kubeconfig="$RUN/kcm.kubeconfig" \
  --authentication-kubeconfig="$RUN/kcm.kubeconfig" --authorization-kubeconfig="$RUN/kcm.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --use-service-account-credentials=true --leader-elect=false --controllers='*,-nodeipam,-cloud-node-lifecycle'
bg kube-scheduler kube-scheduler --kubeconfig="$RUN/scheduler.kubeconfig" \
  --authentication-kubeconfig="$RUN/scheduler.kubeconfig" --authorization-kubeconfig="$RUN/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" --leader-elect=false
CTR="ctr -a $CTRD_SOCK -n k8s.io"
for i in $(seq 1 300); do ctr -a "$CTRD_SOCK" version > /dev/null 2>&1 && break; sleep 0.2; done
$CTR images import "$K8S_CACHE/pause/pause-image.tar" > /dev/null; step containerd up, pause imported
for img in "$@"; do docker save "$img" | $CTR images import - > /dev/null; step "imported $img"; done
[ -d /sys/fs/cgroup/memory/kubepods ] || touch "$RUN/kubepods.ours"
cat > "$RUN/kubelet-config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication: {anonymous: {enabled: false}, webhook: {enabled: true}, x509: {clientCAFile: $PKI/ca.crt}}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-server.crt
tlsPrivateKeyFile: $PKI/kubelet-server.key
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$CTRD_SOCK
podLogsDir: $RUN/pod-logs
resolvConf: /etc/resolv.conf
podCIDR: $POD_CIDR
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {}
evictionPressureTransitionPeriod: 0s
localStorageCapacityIsolation: false
serializeImagePulls: false
YAML
bg kubelet kubelet --config="$RUN/kubelet-config.yaml" --kubeconfig="$RUN/kubelet.kubeconfig" \
  --root-dir="$RUN/kubelet" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP"
ready() { [ "$(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]; }
for i in $(seq 1 600); do ready && break; sleep 0.3; done; ready; step node Ready
for i in $(seq 1 600); do kubectl get sa default > /dev/null 2>&1 && kubectl get cm kube-root-ca.crt > /dev/null 2>&1 && break; sleep 0.3; done
kubectl get sa default > /dev/null; step default service account ready
