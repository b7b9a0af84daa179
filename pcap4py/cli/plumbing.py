"""``pcap4py attach|detach|mirror``: placeholder until the plumbing work lands."""
