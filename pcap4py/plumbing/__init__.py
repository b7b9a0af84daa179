"""Network plumbing through netlink: macvlan attachment (pipework) and tc mirroring."""
