package pcap4py.helper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;

/**
 * Something that fills Python's batch buffers: {@link BatchReader} (libpcap), {@link
 * PcapFileReader} (a classic pcap file read directly) or {@link PcapngFileReader} (any pcapng).
 * Records start at offset 0 of {@code meta} and frames at offset 0 of {@code data}, one {@link
 * Record} per packet; {@link BatchCursor} keeps the place. A frame that does not fit in what is
 * left of {@code data} is held for the next call; one bigger than the whole of {@code data}
 * makes a call return 0 with {@link #roomNeeded} saying how big a buffer it needs.
 */
public abstract class BatchSource {

  protected boolean eof;
  protected String error;
  protected long total;
  /** The size of a frame held back because even an empty batch had no room for it, 0 if none. */
  protected int needed;
  private byte[] frame = new byte[Room.FIRST]; // grows to the usual largest as frames ask (see Room)

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

  /** Releases what the source holds (a file); a libpcap reader's handle is closed by its owner. */
  public void close() throws IOException {}

  /** True once a file has been read to its end. */
  public boolean isEof() {
    return eof;
  }

  /** The message of the read that failed, or null. */
  public String error() {
    return error;
  }

  /**
   * After a {@code fill} that returned 0: the data buffer size the next frame needs (a frame above
   * the usual 256 KiB, up to its link type's largest), or 0 when it was not held back for room.
   * The frame waits for a {@code fill} with a data buffer that big.
   */
  public int roomNeeded() {
    return needed;
  }

  /**
   * An array to copy a frame of {@code caplen} bytes into: the reader's own (the usual size), or
   * for a bigger frame (a link type whose frames may exceed 256 KiB; rare) one of its own.
   */
  protected byte[] frameFor(int caplen) {
    if (caplen <= frame.length) {
      return frame;
    }
    if (caplen > Summary.MAX_FRAME) {
      return new byte[caplen];
    }
    frame = new byte[Room.grown(frame.length, caplen, Summary.MAX_FRAME)];
    return frame;
  }

  /** Packets read so far. */
  public long total() {
    return total;
  }

  /**
   * Makes at least {@code n} unread bytes available at {@code in}'s position, reading more from
   * {@code channel} (the file readers' one way in); false at the end of the file.
   */
  protected static boolean ensure(ByteBuffer in, ReadableByteChannel channel, int n) throws IOException {
    if (in.remaining() >= n) {
      return true;
    }
    in.compact();
    while (in.position() < n) {
      if (channel.read(in) < 0) {
        break;
      }
    }
    in.flip();
    return in.remaining() >= n;
  }
}
