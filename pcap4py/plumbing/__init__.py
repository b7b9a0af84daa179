"""Network plumbing through netlink, on namespaces and bridges (no Docker here).

``rtnl`` (sockets per namespace, lookups, the one netlink error boundary),
``transaction`` (named steps with undos, deferred SIGINT/SIGTERM),
``macvlan`` (pipework-style attach/detach), ``dhcp`` (its leases, through pyroute2's client), ``lower`` (its shared VLAN devices and bridges, the
host shim) and ``mirror`` (tc mirroring).
Containers become namespaces in :mod:`pcap4py.container.plumbing`.
"""
