#!/bin/bash
# Tear down everything up.sh started (only our own PIDs / paths / interfaces).
. "$(dirname "$0")/env.sh"
stop() { local f=$RUN/$1.pid; [ -f $f ] || return 0; local p=$(cat $f); kill $p 2>/dev/null && for i in $(seq 1 50); do kill -0 $p 2>/dev/null || break; sleep 0.2; done; kill -9 $p 2>/dev/null; rm -f $f; }
if [ -f $RUN/kubelet.pid ] && kill -0 $(cat $RUN/kubelet.pid) 2>/dev/null; then
  kubectl delete ds,deploy,pod --all -A --grace-period=1 --wait=true --timeout=60s >/dev/null 2>&1
fi
stop kubelet
stop kube-scheduler; stop kube-controller-manager; stop kube-apiserver; stop etcd
if [ -S $CTRD_SOCK ]; then
  C="ctr -a $CTRD_SOCK -n k8s.io"
  for t in $($C tasks ls -q 2>/dev/null); do $C tasks kill -s KILL $t >/dev/null 2>&1; done; sleep 1
  for t in $($C tasks ls -q 2>/dev/null); do $C tasks rm -f $t >/dev/null 2>&1; done
  for c in $($C containers ls -q 2>/dev/null); do $C containers rm $c >/dev/null 2>&1; done
fi
stop containerd
# pod netns created by our containerd (names recorded in its state)
for n in $(grep -rhoE 'cni-[0-9a-f-]{36}' $CTRD_DIR/state $CTRD_DIR/root/io.containerd.grpc.v1.cri 2>/dev/null | sort -u); do
  [ -e /var/run/netns/$n ] && { umount /var/run/netns/$n 2>/dev/null; rm -f /var/run/netns/$n; }
done
# mounts under our run dir, deepest first
for m in $(awk -v r="$RUN" '$2 ~ "^"r {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null; done
ip link del $CNI_BRIDGE 2>/dev/null; ip link del $NODE_BRIDGE 2>/dev/null
# kubelet iptables chains (kubelet creates KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT)
iptables -D INPUT -j KUBE-FIREWALL 2>/dev/null; iptables -D OUTPUT -j KUBE-FIREWALL 2>/dev/null
for tc in "filter KUBE-FIREWALL" "filter KUBE-KUBELET-CANARY" "nat KUBE-KUBELET-CANARY" "mangle KUBE-KUBELET-CANARY" "mangle KUBE-IPTABLES-HINT"; do
  set -- $tc; iptables -t $1 -F $2 2>/dev/null; iptables -t $1 -X $2 2>/dev/null; done
ip6tables-save 2>/dev/null | grep -q KUBE- && for tc in "filter KUBE-FIREWALL" "filter KUBE-KUBELET-CANARY" "nat KUBE-KUBELET-CANARY" "mangle KUBE-KUBELET-CANARY" "mangle KUBE-IPTABLES-HINT"; do
  set -- $tc; ip6tables -D INPUT -j $2 2>/dev/null; ip6tables -D OUTPUT -j $2 2>/dev/null; ip6tables -t $1 -F $2 2>/dev/null; ip6tables -t $1 -X $2 2>/dev/null; done
# kubelet's cgroups (cgroup v1, cgroupfs driver): remove empty dirs bottom-up
if [ -f $RUN/kubepods.ours ]; then
  for d in /sys/fs/cgroup/*/kubepods; do find $d -depth -type d -exec rmdir {} \; 2>/dev/null; done
fi
rm -rf $RUN
