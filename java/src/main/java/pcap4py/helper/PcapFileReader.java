package pcap4py.helper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;

/**
 * Reads a classic pcap file straight from disk into the batch buffers, with the same {@code fill}
 * contract as {@link BatchReader}.
 *
 * <p>Going through libpcap costs one JNA call and several native reads per packet; a whole-file
 * read with no filter needs none of that. Filters, pcapng and dumping still go through libpcap.
 * Errors mirror libpcap's wording, so a truncated file reads the same either way.
 */
public final class PcapFileReader extends BatchSource {

  private static final int HEADER = 24;
  private static final int RECORD_HEADER = 16;

  private final FileChannel channel;
  /** Read buffer: 4 MiB, or less for a smaller file, but room for a usual record; grows for a bigger one. */
  private static final int MAX_BUFFER = 4 << 20;
  private static final int MIN_BUFFER = HEADER + RECORD_HEADER + Summary.MAX_FRAME;

  private ByteBuffer in;
  private final int dlt;
  private int snapshot; // libpcap's snapshot length of the file (pcap_adjust_snapshot)
  private final int sourceIndex;
  private final boolean nanoseconds;

  /** Opens {@code path}; {@code dlt} is the link type libpcap reported for it. */
  public PcapFileReader(String path, int dlt, int sourceIndex) throws IOException {
    this.channel = FileChannel.open(Paths.get(path), StandardOpenOption.READ);
    // a small file needs no 4 MiB buffer (zeroing one costs more than reading the file). Direct:
    // a FileChannel reads a heap buffer through a temporary direct one of the same size, which
    // NIO then keeps per thread (4 MiB more, and a copy of every byte)
    this.in = ByteBuffer.allocateDirect((int) Math.max(MIN_BUFFER, Math.min(MAX_BUFFER, channel.size())));
    this.dlt = dlt;
    this.sourceIndex = sourceIndex;
    in.limit(0);
    if (!ensure(HEADER)) {
      throw new IOException("truncated pcap file header");
    }
    int magic = in.order(ByteOrder.LITTLE_ENDIAN).getInt(0);
    if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
      in.order(ByteOrder.LITTLE_ENDIAN);
    } else if (Integer.reverseBytes(magic) == 0xa1b2c3d4 || Integer.reverseBytes(magic) == 0xa1b23c4d) {
      in.order(ByteOrder.BIG_ENDIAN);
      magic = Integer.reverseBytes(magic);
    } else {
      throw new IOException("not a classic pcap file");
    }
    this.nanoseconds = magic == 0xa1b23c4d;
    int snaplen = in.getInt(in.position() + 16);
    this.snapshot = snaplen <= 0 || snaplen > LinkTypes.maxSnaplen(dlt) ? LinkTypes.maxSnaplen(dlt) : snaplen;
    in.position(in.position() + HEADER);
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  @Override
  public int fill(ByteBuffer meta, ByteBuffer data, int maxPackets) {
    if (finished()) {
      return 0;
    }
    BatchCursor batch = new BatchCursor(meta, data, maxPackets);
    needed = 0;
    try {
      while (batch.hasRoom()) {
        if (!ensure(RECORD_HEADER)) {
          if (in.remaining() > 0) {
            error = "truncated dump file; tried to read " + RECORD_HEADER + " header bytes, only got " + in.remaining();
          } else {
            eof = true;
          }
          break;
        }
        int p = in.position();
        long sec = in.getInt(p) & 0xffffffffL;
        long frac = in.getInt(p + 4) & 0xffffffffL;
        int caplen = in.getInt(p + 8);
        int origlen = in.getInt(p + 12);
        String fault = lengthFault(caplen);
        if (fault != null) {
          error = fault;
          break;
        }
        int kept = Math.min(caplen, snapshot); // libpcap keeps at most the snapshot length, skips the rest
        if (!batch.fits(kept)) {
          needed = batch.needs(kept); // the record stays unread for the next fill
          break;
        }
        if (!ensure(RECORD_HEADER + caplen)) {
          error = "truncated dump file; tried to read " + caplen + " captured bytes, only got " + (in.remaining() - RECORD_HEADER);
          break;
        }
        in.position(in.position() + RECORD_HEADER); // ensure() may have moved the record
        byte[] frame = frameFor(kept);
        in.get(frame, 0, kept);
        in.position(in.position() + caplen - kept);
        caplen = kept;
        long ts = Summary.timestamp(sec, frac, nanoseconds);
        batch.append(frame, caplen, origlen, ts, dlt, sourceIndex);
      }
    } catch (IOException e) {
      error = e.getMessage();
    }
    total += batch.count();
    return batch.count();
  }

  /**
   * libpcap's check of a record's captured length (sf-pcap.c): above the link type's largest frame
   * is an error; above the snapshot length only, the frame is cut to it. Null when readable.
   */
  private String lengthFault(int caplen) {
    return caplen >= 0 && caplen <= LinkTypes.maxSnaplen(dlt) ? null : LinkTypes.tooBig(caplen & 0xffffffffL, dlt);
  }

  /** Makes at least {@code n} unread bytes available at the buffer's position; false at end of file. */
  private boolean ensure(int n) throws IOException {
    if (n > in.capacity()) { // a record above the usual size (at most the link type's largest frame)
      ByteBuffer bigger = ByteBuffer.allocateDirect(n).order(in.order());
      bigger.put(in).flip();
      in = bigger;
    }
    return ensure(in, channel, n);
  }
}
