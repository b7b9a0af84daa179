"""``python -m pcap4py``."""

from pcap4py.cli import main

if __name__ == "__main__":
    main(prog_name="pcap4py")
