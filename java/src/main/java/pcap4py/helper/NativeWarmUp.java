package pcap4py.helper;

import org.pcap4j.core.Pcaps;

/**
 * Loads libpcap through JNA on a daemon thread of Java's own, so that binding it overlaps what
 * the caller does meanwhile.
 *
 * <p>JNA's first load and the binding of Pcap4J's ~80 libpcap functions (and the helper's own,
 * {@link Libpcap}) take 20-35 ms of a live capture's start. A caller that will open a live handle
 * starts this as soon as the JVM is up, goes on with what needs no libpcap (Python's imports, the
 * Java classes of the handle's builder), and calls {@link #load()} before its first libpcap call:
 * that waits for the thread and throws what the load threw, as a load on the caller's own thread
 * would have. The thread must be started from a thread in the host's network namespace: JNA's
 * first load starts helper threads, and a thread starts in the namespace of its creator.
 */
public final class NativeWarmUp {

  private static Thread thread;
  private static volatile Throwable failure;

  private NativeWarmUp() {}

  /** Starts the loading thread, once; later calls do nothing. */
  public static synchronized void start() {
    if (thread == null) {
      thread = new Thread(new Binder(), "pcap4py-native-warm-up");
      thread.setDaemon(true);
      thread.start();
    }
  }

  /**
   * libpcap loaded: waits for the thread {@link #start()} made (or loads here, if none was made)
   * and throws what the load threw.
   */
  public static void load() throws Throwable {
    Thread started;
    synchronized (NativeWarmUp.class) {
      started = thread;
    }
    if (started == null) {
      bind();
    } else {
      started.join();
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** The thread's body: a class, not a lambda, so that no call site is linked at this start. */
  private static final class Binder implements Runnable {
    @Override
    public void run() {
      bind();
    }
  }

  private static void bind() {
    try {
      Pcaps.libVersion();
      Class.forName("pcap4py.helper.Libpcap", true, NativeWarmUp.class.getClassLoader());
    } catch (Throwable e) {
      failure = e;
    }
  }
}
