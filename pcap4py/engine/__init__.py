"""The capture engine: the JVM, libpcap handles, batches filled by the Java helper, packet records."""
