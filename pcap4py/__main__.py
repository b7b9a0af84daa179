"""``python -m pcap4py``."""

import sys

if __name__ == "__main__":
    try:
        from pcap4py.cli import run
    except KeyboardInterrupt:  # Ctrl-C while the command line is still being imported
        sys.exit(130)
    run()
