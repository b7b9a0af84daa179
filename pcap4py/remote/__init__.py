"""Captures taken elsewhere and streamed here as pcapng: Kubernetes pods (an ephemeral container
running the bundled image, read back through the API server).

* :mod:`.stream` - an incremental pcapng parser for a byte stream (interfaces, packets, statistics);
* :mod:`.handle` - :class:`~.handle.StreamHandle`, a live handle fed by another thread, and
  :class:`~.handle.StreamFeed`, the thread that reads a stream into such handles;
* :mod:`.agent` - what runs inside the pod: every interface of its namespace, pcapng on stdout;
* :mod:`.kube` - the Kubernetes API: pods, the ephemeral container, its attach stream (the
  pcapng out, the lifeline in);
* :mod:`.pods` - :func:`~.pods.open_pods`, the merged capture of several pods.

The official ``kubernetes`` client is an optional extra (``pcap4py[kube]``), imported only here.
"""
