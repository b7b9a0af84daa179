"""Where packets go.

``lines`` (text, hexdump, JSON, JSON lines: formatted in Java a batch at a time) and ``writer``
(picks the sink for a format; writes Pcap4J's rendering itself).  pcap files are written by
libpcap's own dumper from the native buffers (:meth:`pcap4py.engine.handle.Handle.dump`).
"""
