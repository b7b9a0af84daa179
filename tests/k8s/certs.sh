#!/bin/bash
set -euo pipefail
. "$(dirname "$0")/env.sh"
mkdir -p $PKI && cd $PKI
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj "/CN=pcap4py-test-ca" 2>/dev/null
# name CN O SAN
mk() {
  local n=$1 cn=$2 o=$3 san=${4:-}
  local subj="/CN=$cn"; [ -n "$o" ] && subj="/O=$o/CN=$cn"
  openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj "$subj" 2>/dev/null
  if [ -n "$san" ]; then
    printf "subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n" "$san" > $n.ext
  else
    printf "extendedKeyUsage=clientAuth\n" > $n.ext
  fi
  openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt -days 30 -extfile $n.ext 2>/dev/null
  rm -f $n.csr $n.ext
}
mk apiserver kube-apiserver "" "IP:127.0.0.1,IP:$NODE_IP,IP:$SVC_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
mk admin admin system:masters
mk apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
mk kubelet-client system:node:$NODE_NAME system:nodes
mk kubelet-server $NODE_NAME "" "IP:$NODE_IP,IP:127.0.0.1,DNS:$NODE_NAME"
mk kcm system:kube-controller-manager ""
mk scheduler system:kube-scheduler ""
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
# kubeconfigs
kc() {
  local file=$1 cert=$2
  cat > $file <<KC
apiVersion: v1
kind: Config
clusters:
- name: pcap4py-test
  cluster:
    certificate-authority: $PKI/ca.crt
    server: https://$NODE_IP:$API_PORT
users:
- name: u
  user:
    client-certificate: $PKI/$cert.crt
    client-key: $PKI/$cert.key
contexts:
- name: pcap4py-test
  context: {cluster: pcap4py-test, user: u}
current-context: pcap4py-test
KC
}
kc $RUN/admin.kubeconfig admin
kc $RUN/kubelet.kubeconfig kubelet-client
kc $RUN/kcm.kubeconfig kcm
kc $RUN/scheduler.kubeconfig scheduler
ls $PKI
