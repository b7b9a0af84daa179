package pcap4py.helper;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Where the next packet goes in the two buffers a {@code fill} call was given: the bookkeeping
 * every reader's loop shares. Records start at offset 0 of {@code meta}, frames at 0 of {@code
 * data}; a packet fits while a record and its frame still do (no fixed per-frame reserve: a frame
 * may be as big as its link type allows, {@link LinkTypes#maxSnaplen}).
 */
final class BatchCursor {

  private final ByteBuffer meta;
  private final ByteBuffer data;
  private final int maxPackets;
  private int rec;
  private int pos;
  private int count;

  BatchCursor(ByteBuffer meta, ByteBuffer data, int maxPackets) {
    this.meta = meta.order(ByteOrder.LITTLE_ENDIAN);
    this.data = data;
    this.maxPackets = maxPackets;
  }

  /** Whether another record may be appended (its frame must fit too: {@link #fits}). */
  boolean hasRoom() {
    return count < maxPackets && rec + Record.SIZE <= meta.capacity();
  }

  /** Whether a frame of {@code caplen} bytes fits in what is left of the data buffer. */
  boolean fits(int caplen) {
    return data.capacity() - pos >= caplen;
  }

  /**
   * For a frame that does not fit: the data buffer size it needs when even an empty batch has no
   * room for it (see {@link BatchSource#roomNeeded}), else 0 (the next batch will take it).
   */
  int needs(int caplen) {
    return count == 0 && caplen > data.capacity() ? caplen : 0;
  }

  /** Appends one packet: its record (decoded from {@code frame}) and its bytes. */
  void append(byte[] frame, int caplen, int origlen, long tsNs, int dlt, int sourceIndex) {
    Summary.append(meta, rec, data, pos, frame, caplen, origlen, tsNs, dlt, sourceIndex);
    pos += caplen;
    rec += Record.SIZE;
    count++;
  }

  int count() {
    return count;
  }
}
