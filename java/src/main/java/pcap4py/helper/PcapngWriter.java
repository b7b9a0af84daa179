package pcap4py.helper;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Writes a pcapng file (libpcap cannot) from the batch buffers of each read round: one call per
 * round writes every packet of every batch as an enhanced packet block, merged by timestamp.
 *
 * <p>A packet's interface is the one last added for its record's source index: a long capture
 * gives the index of a source that left to one that joins, which gets an interface block (and
 * number) of its own, so a file may hold any number of interfaces. A packet's direction
 * (epb_flags bits 0-1) comes from its interface's rule: the capture's own MACs and addresses (a
 * container's point of view: the same rule as Python's {@code ContainerView}), the kernel's
 * packet type in a Linux cooked header, or none. Blocks are little-endian and go through one
 * buffer ({@link PcapngFile}) to a file or to stdout ('-'); with several live interfaces they
 * wait in a {@link HoldBack} first.
 */
public final class PcapngWriter {

  /** How an interface's packets get their direction. */
  private static final class Interface {
    boolean nano;
    int linkType;
    byte[] comment;
    PointOfView pov; // non-null: directions from its owner's point of view, else the kernel's
  }

  private final PcapngFile file;
  private ByteBuffer out; // where blocks are encoded: the file's buffer, the hold-back's, or a big block's
  private boolean apart; // out is a big block's own buffer
  private final HoldBack hold = new HoldBack();
  private long holdbackNs;
  private final List<Interface> interfaces = new ArrayList<>();
  private int[] bySource = new int[0]; // a record's source index -> its interface number (-1: none)
  private final byte[] head = new byte[20]; // enough of a frame for its link header's direction
  private final byte[] record = new byte[Record.SIZE];
  private boolean comments;
  private long written;
  // the section header and interface blocks, repeated at the start of every file (reopen)
  private final ByteArrayOutputStream preamble = new ByteArrayOutputStream();
  // a round whose merge stopped at a full file: its buffers and how far each batch got
  private ByteBuffer[] pendingMetas;
  private ByteBuffer[] pendingFrames;
  private int[] pendingCounts;
  private int[] pendingNext;

  /** Creates (truncates) {@code path}; '-' is standard output. */
  public PcapngWriter(String path) throws IOException {
    file = new PcapngFile(path);
    out = file.buffer;
  }

  // --- rotation (-C, -G) -----------------------------------------------------------------------
  /** The file is full once it holds more than {@code bytes} (checked before each packet); -1: no limit. */
  public void setSizeLimit(long bytes) {
    file.setSizeLimit(bytes);
  }

  /** Whether the file has grown past its size limit: the next packet waits for {@link #reopen}. */
  public boolean full() {
    return file.full();
  }

  /** Whether packets wait to be written: a round cut short by a full file, or held back. */
  public boolean pending() {
    return pendingMetas != null || hold.count() > 0;
  }

  /**
   * Closes this file and goes on in {@code path}, which starts with the same section header and
   * interface blocks; then writes what a full file left of the last round. A file that cannot be
   * opened leaves the current one open.
   */
  public void reopen(String path) throws IOException {
    file.reopen(path, preamble.toByteArray());
    resume();
  }

  private void resume() throws IOException {
    if (pendingMetas != null) {
      merge(pendingMetas, pendingFrames, pendingCounts, pendingNext);
    }
  }

  /** Writes every held packet (and what is left of a round) that fits: the end of the capture. */
  public void releaseAll() throws IOException {
    resume();
    hold.release(Long.MAX_VALUE, file);
  }

  private void keepForNextFiles(int start) {
    byte[] block = new byte[out.position() - start];
    out.duplicate().position(start).get(block);
    preamble.write(block, 0, block.length);
  }

  // --- the section and its interfaces ----------------------------------------------------------
  /** The section header: shb_hardware, shb_os, shb_userappl. */
  public void sectionHeader(String hardware, String os, String userappl) throws IOException {
    byte[][] options = {bytes(hardware), bytes(os), bytes(userappl)};
    int[] codes = {Pcapng.SHB_HARDWARE, Pcapng.SHB_OS, Pcapng.SHB_USERAPPL};
    int start = begin(Pcapng.SHB, 16 + optionsSize(options));
    out.putInt(Pcapng.BYTE_ORDER_MAGIC).putShort((short) 1).putShort((short) 0).putLong(-1L);
    putOptions(codes, options);
    end(start);
    keepForNextFiles(start);
  }

  /**
   * An interface description block (if_name, if_description, if_tsresol, if_filter) for the
   * packets whose records carry {@code source} as their source index from now on (a source that
   * left had it before); returns its interface number. {@code comment} is the opt_comment of its
   * packets when comments are on (null: none).
   */
  public int addInterface(int source, int linkType, int snaplen, boolean nano, String name, String description,
      String filter, String comment) throws IOException {
    byte[] filterValue = null;
    if (filter != null) {
      byte[] expression = bytes(filter);
      filterValue = new byte[expression.length + 1]; // first byte 0: a libpcap filter string
      System.arraycopy(expression, 0, filterValue, 1, expression.length);
    }
    byte[][] options = {bytes(name), bytes(description), new byte[] {(byte) (nano ? 9 : 6)}, filterValue};
    int[] codes = {Pcapng.IF_NAME, Pcapng.IF_DESCRIPTION, Pcapng.IF_TSRESOL, Pcapng.IF_FILTER};
    int start = begin(Pcapng.IDB, 8 + optionsSize(options));
    out.putShort((short) linkType).putShort((short) 0).putInt(snaplen);
    putOptions(codes, options);
    end(start);
    keepForNextFiles(start);
    Interface f = new Interface();
    f.nano = nano;
    f.linkType = linkType;
    f.comment = bytes(comment);
    interfaces.add(f);
    if (source >= bySource.length) {
      int n = bySource.length;
      bySource = Arrays.copyOf(bySource, source + 1);
      Arrays.fill(bySource, n, source + 1, -1);
    }
    bySource[source] = interfaces.size() - 1;
    return interfaces.size() - 1;
  }

  /** Directions of the packets of source index {@code source} from this point of view (a container's). */
  public void setPointOfView(int source, PointOfView pov) {
    interfaces.get(bySource[source]).pov = pov;
  }

  /** Whether packets carry their interface's comment. */
  public void setComments(boolean on) {
    comments = on;
  }

  /**
   * Holds each packet back until the wall clock is {@code ns} past its time stamp, so that packets
   * a handle delivers late are still written in time order across interfaces. 0: write at once.
   */
  public void setHoldback(long ns) {
    holdbackNs = ns;
  }

  /** Packets written so far. */
  public long written() {
    return written;
  }

  // --- packets ---------------------------------------------------------------------------------
  /**
   * Writes the packets of one read round: {@code counts[b]} records of {@code metas[b]} (frames in
   * {@code datas[b]}) for each batch b, in timestamp order across the batches; then {@link #tick}.
   */
  public void writeRound(ByteBuffer[] metas, ByteBuffer[] datas, int[] counts) throws IOException {
    if (holdbackNs <= 0) {
      merge(metas, datas, counts);
    } else {
      int before = hold.count();
      out = hold.buffer();
      try {
        merge(metas, datas, counts);
      } finally {
        hold.keep(out); // encoding may have grown it
        out = file.buffer;
      }
      hold.mergeRuns(before);
    }
    tick();
  }

  /**
   * Writes the held-back packets that are due and pushes every encoded block to the file: after
   * each read round (a reader of the file or pipe sees packets as they come, a killed capture
   * leaves them), and on an idle link, where no round comes to release what is held.
   */
  public void tick() throws IOException {
    if (holdbackNs > 0) {
      hold.release(System.currentTimeMillis() * 1_000_000L - holdbackNs, file);
    }
    file.flush();
  }

  private void merge(ByteBuffer[] metas, ByteBuffer[] datas, int[] counts) throws IOException {
    int n = metas.length;
    ByteBuffer[] frames = new ByteBuffer[n];
    for (int b = 0; b < n; b++) {
      metas[b].order(ByteOrder.LITTLE_ENDIAN);
      frames[b] = datas[b].duplicate();
    }
    merge(metas, frames, counts, new int[n]);
  }

  /** Merges from {@code next[b]} on in each batch; a full file stops it (the rest is pending). */
  private void merge(ByteBuffer[] metas, ByteBuffer[] frames, int[] counts, int[] next) throws IOException {
    boolean holding = out != file.buffer;
    pendingMetas = null;
    while (true) {
      if (!holding && file.full()) {
        pendingMetas = metas;
        pendingFrames = frames;
        pendingCounts = counts;
        pendingNext = next;
        return;
      }
      int pick = BatchMerge.earliest(metas, counts, next);
      if (pick < 0) {
        return;
      }
      long ts = metas[pick].getLong(next[pick] * Record.SIZE);
      int start = out.position();
      packet(metas[pick], next[pick] * Record.SIZE, frames[pick]);
      if (holding) {
        hold.remember(ts, start, out.position() - start);
      }
      next[pick]++;
    }
  }

  private void packet(ByteBuffer meta, int rec, ByteBuffer data) throws IOException {
    long tsNs = meta.getLong(rec);
    int caplen = meta.getInt(rec + Record.CAPLEN);
    int origlen = meta.getInt(rec + Record.ORIGLEN);
    int offset = meta.getInt(rec + Record.DATA_OFFSET);
    int source = meta.get(rec + Record.SOURCE_INDEX) & 0xff;
    int number = source < bySource.length ? bySource[source] : -1;
    if (number < 0) {
      throw new IOException("a packet of source " + source + ", which has no interface block");
    }
    Interface f = interfaces.get(number);
    int flags = direction(f, meta, rec, data, offset, caplen);
    byte[] comment = comments ? f.comment : null;
    int options = (flags != 0 ? 8 : 0) + (comment != null ? 4 + pad(comment.length) : 0);
    int start = begin(Pcapng.EPB, 20 + pad(caplen) + (options > 0 ? options + 4 : 0));
    long ts = f.nano ? tsNs : Long.divideUnsigned(tsNs, 1000);
    out.putInt(number).putInt((int) (ts >>> 32)).putInt((int) ts).putInt(caplen).putInt(origlen);
    data.limit(offset + caplen).position(offset);
    out.put(data);
    data.limit(data.capacity());
    zeros(pad(caplen) - caplen);
    if (options > 0) {
      if (flags != 0) {
        out.putShort((short) Pcapng.EPB_FLAGS).putShort((short) 4).putInt(flags);
      }
      if (comment != null) {
        putOption(Pcapng.OPT_COMMENT, comment);
      }
      out.putInt(0);
    }
    end(start);
    written++;
  }

  /** epb_flags direction bits for one packet; 0 when unknown. */
  private int direction(Interface f, ByteBuffer meta, int rec, ByteBuffer data, int offset, int caplen) {
    int n = Math.min(caplen, head.length);
    for (int i = 0; i < n; i++) {
      head[i] = data.get(offset + i);
    }
    if (f.pov == null) {
      return PointOfView.kernelDirection(f.linkType, head, 0, caplen);
    }
    for (int i = 0; i < Record.SIZE; i++) {
      record[i] = meta.get(rec + i);
    }
    return f.pov.direction(f.linkType, head, 0, caplen, record, 0);
  }

  // --- the end ---------------------------------------------------------------------------------
  /**
   * An interface statistics block for the interface of source index {@code source} at {@code
   * tsNs}: isb_ifrecv, isb_ifdrop and isb_usrdeliv (each left out when negative).
   */
  public void statistics(int source, long tsNs, long received, long dropped, long delivered) throws IOException {
    hold.release(Long.MAX_VALUE, file); // statistics come after every packet
    long[] values = {received, dropped, delivered};
    int[] codes = {Pcapng.ISB_IFRECV, Pcapng.ISB_IFDROP, Pcapng.ISB_USRDELIV};
    int size = 0;
    for (long v : values) {
      size += v >= 0 ? 12 : 0;
    }
    int number = bySource[source];
    int start = begin(Pcapng.ISB, 12 + (size > 0 ? size + 4 : 0));
    long ts = interfaces.get(number).nano ? tsNs : Long.divideUnsigned(tsNs, 1000);
    out.putInt(number).putInt((int) (ts >>> 32)).putInt((int) ts);
    for (int k = 0; k < values.length; k++) {
      if (values[k] >= 0) {
        out.putShort((short) codes[k]).putShort((short) 8).putLong(values[k]);
      }
    }
    if (size > 0) {
      out.putInt(0);
    }
    end(start);
  }

  /** Pushes every buffered block, held-back packets included, to the file. */
  public void flush() throws IOException {
    hold.release(Long.MAX_VALUE, file);
    file.flush();
  }

  /** Flushes and closes (stdout stays open for the rest of the process). */
  public void close() throws IOException {
    hold.release(Long.MAX_VALUE, file);
    file.close();
  }

  // --- block layout ---------------------------------------------------------------------------
  /** Starts a block of {@code body} bytes between the length fields; returns where it starts. */
  private int begin(int type, int body) throws IOException {
    int total = body + 12;
    if (out.remaining() < total) {
      if (out != file.buffer) {
        grow(total); // the hold-back's buffer
      } else if (total <= out.capacity()) {
        file.room(total);
      } else { // bigger than the file's buffer (a frame of up to 128 MiB): encoded apart, see end
        out = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        apart = true;
      }
    }
    int start = out.position();
    out.putInt(type).putInt(total);
    return start;
  }

  /** Makes room for {@code n} more bytes in a heap buffer being encoded into. */
  private void grow(int n) {
    ByteBuffer bigger = ByteBuffer.allocate(Math.max(out.capacity() * 2, out.position() + n)).order(ByteOrder.LITTLE_ENDIAN);
    out.flip();
    bigger.put(out);
    out = bigger;
  }

  private void end(int start) throws IOException {
    int total = out.position() - start + 4;
    out.putInt(total);
    if (out.getInt(start + 4) != total) {
      throw new IllegalStateException("pcapng block length " + out.getInt(start + 4) + " != " + total);
    }
    if (apart) { // a big block, encoded apart
      apart = false;
      out.flip();
      file.put(out);
      out = file.buffer;
    }
  }

  private static int optionsSize(byte[][] options) {
    int size = 0;
    for (byte[] o : options) {
      size += o == null ? 0 : 4 + pad(o.length);
    }
    return size == 0 ? 0 : size + 4;
  }

  private void putOptions(int[] codes, byte[][] options) {
    boolean any = false;
    for (int k = 0; k < codes.length; k++) {
      if (options[k] != null) {
        putOption(codes[k], options[k]);
        any = true;
      }
    }
    if (any) {
      out.putInt(Pcapng.OPT_ENDOFOPT);
    }
  }

  private void putOption(int code, byte[] value) {
    out.putShort((short) code).putShort((short) value.length).put(value);
    zeros(pad(value.length) - value.length);
  }

  private void zeros(int n) {
    for (int i = 0; i < n; i++) {
      out.put((byte) 0);
    }
  }

  private static int pad(int n) {
    return (n + 3) & ~3;
  }

  private static byte[] bytes(String s) {
    return s == null || s.isEmpty() ? null : s.getBytes(StandardCharsets.UTF_8);
  }
}
