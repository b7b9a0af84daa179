# Settings of the single-node test cluster (sourced by up.sh and down.sh).
# K8S_CACHE: the folder build.sh filled (bin/, pause/); RUN: a scratch folder for this cluster.
export K8S_CACHE=${K8S_CACHE:?set K8S_CACHE to the folder holding bin/ (the built binaries)}
export RUN=${RUN:?set RUN to a scratch folder}
export PKI=$RUN/pki
export NODE_IP=198.18.77.1 NODE_NAME=pcap4py-node
export SVC_CIDR=198.18.96.0/24 SVC_IP=198.18.96.1
export POD_CIDR=198.18.70.0/24 POD_GW=198.18.70.1
export ETCD_PORT=23791 ETCD_PEER_PORT=23801 API_PORT=16443
export KUBELET_PORT=10350 KUBELET_HEALTHZ_PORT=10358 KCM_PORT=10357 SCHED_PORT=10359
export NODE_BRIDGE=p4k8s0 CNI_BRIDGE=p4k8scni0
export CTRD_DIR=$RUN/containerd
export CTRD_SOCK=$CTRD_DIR/containerd.sock
export PATH=$K8S_CACHE/bin:$PATH
export KUBECONFIG=$RUN/admin.kubeconfig
