"""``python -m pcap4py``."""

import sys

if __name__ == "__main__":
    try:
        from pcap4py.cli import main

        main(prog_name="pcap4py")
    except KeyboardInterrupt:  # Ctrl-C before the command's own handlers are in place
        sys.exit(130)
