"""Where packets go: one module per kind of output.

``text`` (tcpdump's lines), ``hexdump`` (tcpdump -X rows, document 004's payload tables) and
``writer`` (the stream writer that picks a format).  pcap files are written by libpcap's own
dumper from the native buffers (:meth:`pcap4py.engine.handle.Handle.dump`).
"""
