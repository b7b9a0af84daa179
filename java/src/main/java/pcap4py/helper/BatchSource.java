package pcap4py.helper;

import java.nio.ByteBuffer;

/**
 * Something that fills Python's batch buffers: {@link BatchReader} (libpcap) or {@link
 * PcapFileReader} (a classic pcap file read directly). Records start at offset 0 of {@code meta}
 * and frames at offset 0 of {@code data}; see {@link Summary} for the record layout.
 */
public abstract class BatchSource {

  protected boolean eof;
  protected String error;
  protected long total;

  /**
   * Reads packets until none is ready now (live, non-blocking), the end of a file, an error, {@code
   * maxPackets}, or the buffers are full. Returns how many were read.
   */
  public abstract int fill(ByteBuffer meta, ByteBuffer data, int maxPackets);

  /**
   * True once reading is over: the end of the file, or an error. Reading on past an error would
   * take whatever follows a bad record header for packets (libpcap does not stop by itself).
   */
  protected boolean finished() {
    return eof || error != null;
  }

  /** True once a file has been read to its end. */
  public boolean isEof() {
    return eof;
  }

  /** The message of the read that failed, or null. */
  public String error() {
    return error;
  }

  /** Packets read so far. */
  public long total() {
    return total;
  }
}
