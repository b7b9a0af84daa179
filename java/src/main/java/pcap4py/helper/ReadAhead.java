package pcap4py.helper;

import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Reads a file ahead of Python: a Java thread fills a ring of batch slots while Python works
 * through the one it was lent.
 *
 * <p>The thread is Java's own so that it never needs Python's GIL: a Python reader thread would
 * wait up to the interpreter's switch interval (5 ms) for the GIL before every batch, while the
 * consumer holds it, and the two would take turns instead of overlapping.
 *
 * <p>Protocol: {@link #next()} returns the index of a filled slot (blocking until one is) and
 * {@link #count(int)} its packet count; a count of 0 means the source is finished (see its
 * {@code error()}), unless {@link #needed(int)} says the next frame needs a bigger data buffer:
 * then Python gives the slot bigger buffers with {@link #resize} and it is filled again. Python
 * hands the slot back with {@link #release(int)} once it is done with it.
 */
public final class ReadAhead {

  private final BatchSource source;
  private final ByteBuffer[] metas;
  private final ByteBuffer[] datas;
  private final int[] counts;
  private final int[] needs; // per slot: the data buffer size the held frame needs, 0 if none
  private final int capacity;
  private final BlockingQueue<Integer> free;
  private final BlockingQueue<Integer> full;
  private final Thread thread;

  /**
   * Starts reading {@code source} into the slots {@code metas[i]}/{@code datas[i]}, up to {@code
   * capacity} packets each.
   */
  public ReadAhead(BatchSource source, ByteBuffer[] metas, ByteBuffer[] datas, int capacity, String name) {
    if (metas.length != datas.length || metas.length == 0) {
      throw new IllegalArgumentException("one data buffer per meta buffer, at least one slot");
    }
    this.source = source;
    this.metas = metas;
    this.datas = datas;
    this.counts = new int[metas.length];
    this.needs = new int[metas.length];
    this.capacity = capacity;
    this.free = new ArrayBlockingQueue<>(metas.length + 1);
    this.full = new ArrayBlockingQueue<>(metas.length);
    for (int i = 0; i < metas.length; i++) {
      free.add(i);
    }
    this.thread = new Thread(this::run, name);
    thread.setDaemon(true);
    thread.start();
  }

  private void run() {
    try {
      while (true) {
        int slot = free.take();
        if (slot < 0) {
          return;
        }
        counts[slot] = fillSafely(slot);
        needs[slot] = counts[slot] == 0 ? source.roomNeeded() : 0;
        full.put(slot);
        if (counts[slot] == 0 && needs[slot] == 0) {
          return; // finished: the consumer sees count 0 and stops asking
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private int fillSafely(int slot) {
    try {
      return source.fill(metas[slot], datas[slot], capacity);
    } catch (OutOfMemoryError e) { // a frame of up to 128 MiB (D-Bus) takes a few copies of itself
      source.error = "not enough Java heap for a frame this big (raise it with PCAP4PY_JVM_OPTIONS=-Xmx2g)";
      return 0;
    } catch (RuntimeException | Error e) {
      source.error = String.valueOf(e);
      return 0;
    }
  }

  /** The index of the next filled slot, waiting for it if need be. */
  public int next() throws InterruptedException {
    return full.take();
  }

  /** How many packets slot {@code slot} holds. */
  public int count(int slot) {
    return counts[slot];
  }

  /** After a count of 0: the data buffer size the next frame needs (0: the source is finished). */
  public int needed(int slot) {
    return needs[slot];
  }

  /** Gives slot {@code slot} back with new buffers (bigger for a big frame, or back to the usual size). */
  public void resize(int slot, ByteBuffer meta, ByteBuffer data) {
    metas[slot] = meta;
    datas[slot] = data;
    free.add(slot);
  }

  /** Gives slot {@code slot} back to be filled again. */
  public void release(int slot) {
    free.add(slot);
  }

  /**
   * Stops the reading thread and waits for it, so the slots' memory can be let go; false if it
   * is still running after 5 s (then the slots must not be reused).
   */
  public boolean close() throws InterruptedException {
    free.add(-1);
    thread.join(5000);
    return !thread.isAlive();
  }
}
