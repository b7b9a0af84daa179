package pcap4py.helper;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;

/**
 * Packets handed over by another thread (a remote capture's stream, split into frames in Python),
 * read into the batch buffers like a live handle's: {@link #fill} takes what has been pushed and
 * returns at once when nothing is waiting.
 *
 * <p>Each pushed chunk holds whole frames, each as a 16-byte little-endian header (time stamp in
 * ns since 1970, captured length, original length) followed by the captured bytes. One instance
 * is one source: its link type and source index are fixed.
 */
public final class StreamFrames extends BatchSource {

  private static final int HEADER = 16;

  private final int dlt;
  private final int index;
  private final ArrayDeque<byte[]> queue = new ArrayDeque<>();
  private final byte[] frame = new byte[Summary.MAX_FRAME];
  private byte[] current;
  private int at;
  private boolean ended;

  /** Frames of link type {@code dlt} (a DLT_ value), tagged with source {@code index}. */
  public StreamFrames(int dlt, int index) {
    this.dlt = dlt;
    this.index = index;
  }

  /** Queues a chunk of whole frames (see the class comment); called by the feeding thread. */
  public synchronized void push(byte[] chunk) {
    if (chunk.length > 0) {
      queue.add(chunk);
    }
  }

  /** No more frames will come: once the queue is read, the source is at its end (or failed). */
  public synchronized void finish(String failure) {
    ended = true;
    if (failure != null && error == null) {
      error = failure;
    }
  }

  /** Whether frames are waiting to be read. */
  public synchronized boolean pending() {
    return current != null || !queue.isEmpty();
  }

  @Override
  public synchronized int fill(ByteBuffer meta, ByteBuffer data, int maxPackets) {
    BatchCursor batch = new BatchCursor(meta, data, maxPackets);
    while (batch.hasRoom()) {
      if (current == null) {
        current = queue.poll();
        at = 0;
        if (current == null) {
          eof = ended;
          break;
        }
      }
      ByteBuffer header = ByteBuffer.wrap(current, at, HEADER).order(ByteOrder.LITTLE_ENDIAN);
      long ts = header.getLong(at);
      int caplen = header.getInt(at + 8);
      int origlen = header.getInt(at + 12);
      if (caplen < 0 || caplen > Summary.MAX_FRAME || at + HEADER + caplen > current.length) {
        throw new IllegalArgumentException("bad frame header at " + at); // the feeder's bug, never input's
      }
      if (!batch.fits(caplen)) {
        break; // the next batch takes it (the feeder's frames are at most the usual size)
      }
      System.arraycopy(current, at + HEADER, frame, 0, caplen);
      batch.append(frame, caplen, origlen, ts, dlt, index);
      at += HEADER + caplen;
      if (at >= current.length) {
        current = null;
      }
    }
    total += batch.count();
    return batch.count();
  }

  @Override
  protected boolean finished() {
    return eof;
  }
}
