"""``pcap4py containers``: placeholder until the containers work lands."""
