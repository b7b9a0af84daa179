package pcap4py.helper;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Where the next packet goes in the two buffers a {@code fill} call was given: the bookkeeping
 * every reader's loop shares. Records start at offset 0 of {@code meta}, frames at 0 of {@code
 * data}; a packet fits while a record and a frame of the largest size still do.
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

  /** Whether another packet may be appended. */
  boolean hasRoom() {
    return count < maxPackets
        && rec + Record.SIZE <= meta.capacity()
        && data.capacity() - pos >= Summary.MAX_FRAME;
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
