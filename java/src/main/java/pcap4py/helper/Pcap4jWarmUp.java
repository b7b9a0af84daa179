package pcap4py.helper;

import org.pcap4j.packet.Packet;
import org.pcap4j.packet.factory.PacketFactories;
import org.pcap4j.packet.namednumber.DataLinkType;

/**
 * Parses and renders one made-up frame with Pcap4J on a daemon thread of Java's own.
 *
 * <p>Pcap4J's first parse initialises its static packet factories and named numbers: ~80 ms of
 * class initialisation. A caller that will print Pcap4J's rendering of live packets (the image's
 * kaitoy-style sample) starts this as soon as the JVM is up, so that the work overlaps opening
 * the handle and waiting for traffic instead of delaying the first packet. The real parse that
 * comes while it still runs waits for the same class initialisation, never for more; a failure
 * here only means no head start (the real parse reports its own errors). The thread is Java's so
 * that it never needs Python's GIL.
 */
public final class Pcap4jWarmUp {

  // Ethernet, IPv4 from 198.18.0.1 to 198.18.0.2, ICMP echo request: the usual first packet
  private static final byte[] FRAME = {
    2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0,
    0x45, 0, 0, 32, 0, 1, 0, 0, 64, 1, 0, 0, (byte) 198, 18, 0, 1, (byte) 198, 18, 0, 2,
    8, 0, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g'
  };

  private Pcap4jWarmUp() {}

  /** A copy of the made-up frame, for tests that check it is the packet it claims to be. */
  public static byte[] frame() {
    return FRAME.clone();
  }

  /** Starts the warm-up thread and returns it (a daemon: it never holds the JVM up). */
  public static Thread start() {
    Thread thread = new Thread(Pcap4jWarmUp::run, "pcap4py-pcap4j-warm-up");
    thread.setDaemon(true);
    thread.start();
    return thread;
  }

  /** Parses and renders {@link #FRAME}; returns the rendering's length, 0 if Pcap4J failed. */
  public static int run() {
    try {
      Packet packet =
          PacketFactories.getFactory(Packet.class, DataLinkType.class)
              .newInstance(FRAME, 0, FRAME.length, DataLinkType.EN10MB);
      return packet.toString().length();
    } catch (RuntimeException | LinkageError e) {
      return 0;
    }
  }
}
