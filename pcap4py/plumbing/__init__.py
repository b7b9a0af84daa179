"""Network plumbing through netlink, on namespaces and bridges (no Docker here).

``rtnl`` (sockets per namespace, lookups, the one netlink error boundary),
``transaction`` (named steps with undos, deferred SIGINT/SIGTERM), ``address``
(pipework's address and MAC grammar), ``macvlan`` (pipework-style attach),
``detach``, ``record`` (what attach did, on the interface), ``routes`` (default
routes saved and put back), ``dhcp`` (leases, through pyroute2's client),
``lower`` (shared VLAN devices and bridges, the host shim), ``waitlink``
(pipework's --wait), ``mirror`` (tc mirroring) and ``state`` (the files kept
under /run/pcap4py).  Containers become namespaces in :mod:`pcap4py.container.plumbing`.
"""
