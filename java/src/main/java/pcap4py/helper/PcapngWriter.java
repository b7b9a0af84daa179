package pcap4py.helper;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a pcapng file (libpcap cannot) from the batch buffers of each read round: one call per
 * round writes every packet of every batch as an enhanced packet block, merged by timestamp.
 *
 * <p>A packet's interface is its record's source index (interfaces are added in that order). Its
 * direction (epb_flags bits 0-1) comes from the interface's rule: the capture's own MACs and
 * addresses (a container's point of view: the same rule as Python's {@code ContainerView}), the
 * kernel's packet type in a Linux cooked header, or none. Blocks are little-endian and go through
 * one buffer to a file or to stdout ('-').
 */
public final class PcapngWriter {

  private static final int SHB = 0x0A0D0D0A;
  private static final int IDB = 1;
  private static final int ISB = 5;
  private static final int EPB = 6;

  /** How an interface's packets get their direction. */
  private static final class Interface {
    boolean nano;
    int linkType;
    byte[] comment;
    PointOfView pov; // non-null: directions from its owner's point of view, else the kernel's
  }

  private WritableByteChannel channel;
  private final ByteBuffer file = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
  private ByteBuffer out = file; // where blocks are encoded: the file's buffer, or the hold-back one
  // Held-back packets (several live interfaces): encoded EPBs in time order, by offset and length.
  private ByteBuffer hold = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
  private ByteBuffer spare = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
  private long[] heldTs = new long[1024];
  private int[] heldOff = new int[1024];
  private int[] heldLen = new int[1024];
  private int held;
  private long holdbackNs;
  private final List<Interface> interfaces = new ArrayList<>();
  private final byte[] head = new byte[20]; // enough of a frame for its link header's direction
  private final byte[] record = new byte[Record.SIZE];
  private final boolean stdout;
  private boolean comments;
  private long written;
  // -C: the file is full once it holds more than limit bytes (-1: no limit)
  private long limit = -1;
  private long flushed; // bytes of this file already written to the channel
  // the section header and interface blocks, repeated at the start of every file (reopen)
  private final java.io.ByteArrayOutputStream preamble = new java.io.ByteArrayOutputStream();
  // a round whose merge stopped at a full file: its buffers and how far each batch got
  private ByteBuffer[] pendingMetas;
  private ByteBuffer[] pendingFrames;
  private int[] pendingCounts;
  private int[] pendingNext;

  /** Creates (truncates) {@code path}; '-' is standard output. */
  public PcapngWriter(String path) throws IOException {
    stdout = path.equals("-");
    channel = open(path);
  }

  private static WritableByteChannel open(String path) throws IOException {
    if (path.equals("-")) {
      return new FileOutputStream(FileDescriptor.out).getChannel();
    }
    try {
      return FileChannel.open(Paths.get(path), StandardOpenOption.WRITE, StandardOpenOption.CREATE,
          StandardOpenOption.TRUNCATE_EXISTING);
    } catch (FileSystemException e) {
      throw new IOException(reason(e), e);
    }
  }

  /** The system's words for why a file could not be opened (Java's message is often the name alone). */
  static String reason(FileSystemException e) {
    if (e instanceof NoSuchFileException) {
      return "No such file or directory";
    }
    if (e instanceof AccessDeniedException) {
      return "Permission denied";
    }
    if (e instanceof NotDirectoryException) {
      return "Not a directory";
    }
    return e.getReason() != null ? e.getReason() : String.valueOf(e.getMessage());
  }

  // --- rotation (-C, -G) -----------------------------------------------------------------------
  /** The file is full once it holds more than {@code bytes} (checked before each packet); -1: no limit. */
  public void setSizeLimit(long bytes) {
    limit = bytes;
  }

  /** Whether the file has grown past its size limit: the next packet waits for {@link #reopen}. */
  public boolean full() {
    return limit >= 0 && flushed + file.position() > limit;
  }

  /** Whether packets wait to be written: a round cut short by a full file, or held back. */
  public boolean pending() {
    return pendingMetas != null || held > 0;
  }

  /**
   * Closes this file and goes on in {@code path}, which starts with the same section header and
   * interface blocks; then writes what a full file left of the last round.
   */
  public void reopen(String path) throws IOException {
    flushFile();
    WritableByteChannel next = open(path); // first: a file that cannot be opened leaves this one open
    if (!stdout) {
      channel.close();
    }
    channel = next;
    flushed = 0;
    file.put(preamble.toByteArray());
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
    release(Long.MAX_VALUE);
  }

  private void keepForNextFiles(int start) {
    byte[] block = new byte[out.position() - start];
    out.duplicate().position(start).get(block);
    preamble.write(block, 0, block.length);
  }

  /** The section header: shb_hardware, shb_os, shb_userappl. */
  public void sectionHeader(String hardware, String os, String userappl) throws IOException {
    byte[][] options = {bytes(hardware), bytes(os), bytes(userappl)};
    int[] codes = {2, 3, 4};
    int start = begin(SHB, 16 + optionsSize(options));
    out.putInt(0x1A2B3C4D).putShort((short) 1).putShort((short) 0).putLong(-1L);
    putOptions(codes, options);
    end(start);
    keepForNextFiles(start);
  }

  /**
   * An interface description block (if_name, if_description, if_tsresol, if_filter); returns its
   * number, which packets with that record source index are written for. {@code comment} is the
   * opt_comment of its packets when comments are on (null: none).
   */
  public int addInterface(int linkType, int snaplen, boolean nano, String name, String description,
      String filter, String comment) throws IOException {
    byte[] filterValue = null;
    if (filter != null) {
      byte[] expression = bytes(filter);
      filterValue = new byte[expression.length + 1]; // first byte 0: a libpcap filter string
      System.arraycopy(expression, 0, filterValue, 1, expression.length);
    }
    byte[][] options = {bytes(name), bytes(description), new byte[] {(byte) (nano ? 9 : 6)}, filterValue};
    int[] codes = {2, 3, 9, 11};
    int start = begin(IDB, 8 + optionsSize(options));
    out.putShort((short) linkType).putShort((short) 0).putInt(snaplen);
    putOptions(codes, options);
    end(start);
    keepForNextFiles(start);
    Interface f = new Interface();
    f.nano = nano;
    f.linkType = linkType;
    f.comment = bytes(comment);
    interfaces.add(f);
    return interfaces.size() - 1;
  }

  /** Directions of interface {@code i} from this point of view (a container's). */
  public void setPointOfView(int i, PointOfView pov) {
    interfaces.get(i).pov = pov;
  }

  /** Whether packets carry their interface's comment. */
  public void setComments(boolean on) {
    comments = on;
  }

  /**
   * Holds each packet back until the wall clock is {@code ns} past its time stamp, so that packets
   * a handle delivers late (a live handle hands over a block of packets up to its timeout after
   * the first arrived) are still written in time order across interfaces. 0: write at once.
   */
  public void setHoldback(long ns) {
    holdbackNs = ns;
  }

  /** Packets written so far. */
  public long written() {
    return written;
  }

  /**
   * Writes the packets of one read round: {@code counts[b]} records of {@code metas[b]} (frames in
   * {@code datas[b]}) for each batch b, in timestamp order across the batches.
   */
  public void writeRound(ByteBuffer[] metas, ByteBuffer[] datas, int[] counts) throws IOException {
    if (holdbackNs <= 0) {
      merge(metas, datas, counts);
    } else {
      int before = held;
      out = hold;
      try {
        merge(metas, datas, counts);
      } finally {
        hold = out; // encoding may have grown it
        out = file;
      }
      mergeHeld(before);
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
      release(System.currentTimeMillis() * 1_000_000L - holdbackNs);
    }
    flushFile();
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
    int n = metas.length;
    pendingMetas = null;
    while (true) {
      if (out == file && full()) {
        pendingMetas = metas;
        pendingFrames = frames;
        pendingCounts = counts;
        pendingNext = next;
        return;
      }
      int pick = -1;
      long least = Long.MAX_VALUE;
      for (int b = 0; b < n; b++) {
        if (next[b] < counts[b]) {
          long ts = metas[b].getLong(next[b] * Record.SIZE);
          if (pick < 0 || Long.compareUnsigned(ts, least) < 0) { // time stamps are unsigned
            pick = b;
            least = ts;
          }
        }
      }
      if (pick < 0) {
        return;
      }
      int start = out.position();
      packet(metas[pick], next[pick] * Record.SIZE, frames[pick]);
      if (out != file) {
        remember(least, start, out.position() - start);
      }
      next[pick]++;
    }
  }

  private void packet(ByteBuffer meta, int rec, ByteBuffer data) throws IOException {
    long tsNs = meta.getLong(rec);
    int caplen = meta.getInt(rec + Record.CAPLEN);
    int origlen = meta.getInt(rec + Record.ORIGLEN);
    int offset = meta.getInt(rec + Record.DATA_OFFSET);
    int number = meta.get(rec + Record.SOURCE_INDEX) & 0xff;
    if (number >= interfaces.size()) {
      throw new IOException("a packet of source " + number + ", but only " + interfaces.size() + " interfaces");
    }
    Interface f = interfaces.get(number);
    int flags = direction(f, meta, rec, data, offset, caplen);
    byte[] comment = comments ? f.comment : null;
    int options = (flags != 0 ? 8 : 0) + (comment != null ? 4 + pad(comment.length) : 0);
    int start = begin(EPB, 20 + pad(caplen) + (options > 0 ? options + 4 : 0));
    long ts = f.nano ? tsNs : Long.divideUnsigned(tsNs, 1000);
    out.putInt(number).putInt((int) (ts >>> 32)).putInt((int) ts).putInt(caplen).putInt(origlen);
    data.limit(offset + caplen).position(offset);
    out.put(data);
    data.limit(data.capacity());
    zeros(pad(caplen) - caplen);
    if (options > 0) {
      if (flags != 0) {
        out.putShort((short) 2).putShort((short) 4).putInt(flags);
      }
      if (comment != null) {
        putOption(1, comment);
      }
      out.putInt(0);
    }
    end(start);
    written++;
  }

  // --- holding back ---------------------------------------------------------------------------
  private void remember(long ts, int offset, int length) {
    if (held == heldTs.length) {
      heldTs = java.util.Arrays.copyOf(heldTs, held * 2);
      heldOff = java.util.Arrays.copyOf(heldOff, held * 2);
      heldLen = java.util.Arrays.copyOf(heldLen, held * 2);
    }
    heldTs[held] = ts;
    heldOff[held] = offset;
    heldLen[held] = length;
    held++;
  }

  /** Merges the sorted runs [0, split) (held before) and [split, held) (this round) into one. */
  private void mergeHeld(int split) {
    if (split == 0 || split == held || heldTs[split - 1] <= heldTs[split]) {
      return;
    }
    long[] ts = new long[held];
    int[] off = new int[held];
    int[] len = new int[held];
    int a = 0;
    int b = split;
    for (int k = 0; k < held; k++) {
      boolean fromA = b >= held || (a < split && heldTs[a] <= heldTs[b]);
      int i = fromA ? a++ : b++;
      ts[k] = heldTs[i];
      off[k] = heldOff[i];
      len[k] = heldLen[i];
    }
    System.arraycopy(ts, 0, heldTs, 0, held);
    System.arraycopy(off, 0, heldOff, 0, held);
    System.arraycopy(len, 0, heldLen, 0, held);
  }

  /** Writes the held packets stamped at or before {@code watermark} and keeps the rest, compacted. */
  private void release(long watermark) throws IOException {
    int k = 0;
    ByteBuffer view = hold.duplicate();
    while (k < held && heldTs[k] <= watermark && !full()) {
      if (file.remaining() < heldLen[k]) {
        flushFile();
      }
      view.clear();
      view.position(heldOff[k]);
      view.limit(heldOff[k] + heldLen[k]);
      file.put(view);
      k++;
    }
    if (k == 0) {
      return;
    }
    if (spare.capacity() < hold.capacity()) {
      spare = ByteBuffer.allocate(hold.capacity()).order(ByteOrder.LITTLE_ENDIAN);
    }
    spare.clear();
    for (int i = k; i < held; i++) {
      view.clear();
      view.position(heldOff[i]);
      view.limit(heldOff[i] + heldLen[i]);
      heldTs[i - k] = heldTs[i];
      heldOff[i - k] = spare.position();
      heldLen[i - k] = heldLen[i];
      spare.put(view);
    }
    held -= k;
    ByteBuffer t = hold;
    hold = spare;
    spare = t;
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


  /**
   * An interface statistics block for interface {@code i} at {@code tsNs}: isb_ifrecv, isb_ifdrop
   * and isb_usrdeliv (each left out when negative).
   */
  public void statistics(int i, long tsNs, long received, long dropped, long delivered) throws IOException {
    release(Long.MAX_VALUE); // statistics come after every packet
    long[] values = {received, dropped, delivered};
    int[] codes = {4, 5, 8};
    int size = 0;
    for (long v : values) {
      size += v >= 0 ? 12 : 0;
    }
    int start = begin(ISB, 12 + (size > 0 ? size + 4 : 0));
    long ts = interfaces.get(i).nano ? tsNs : Long.divideUnsigned(tsNs, 1000);
    out.putInt(i).putInt((int) (ts >>> 32)).putInt((int) ts);
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
    release(Long.MAX_VALUE);
    flushFile();
  }

  private void flushFile() throws IOException {
    flushed += file.position();
    file.flip();
    while (file.hasRemaining()) {
      channel.write(file);
    }
    file.clear();
  }

  /** Flushes and closes (stdout stays open for the rest of the process). */
  public void close() throws IOException {
    try {
      flush();
    } finally {
      if (!stdout) {
        channel.close();
      }
    }
  }

  // --- block layout ---------------------------------------------------------------------------
  /** Starts a block of {@code body} bytes between the length fields; returns where it starts. */
  private int begin(int type, int body) throws IOException {
    int total = body + 12;
    if (total > file.capacity()) {
      throw new IOException("a pcapng block of " + total + " bytes does not fit the write buffer");
    }
    if (out.remaining() < total) {
      if (out == file) {
        flushFile();
      } else {
        grow(total);
      }
    }
    int start = out.position();
    out.putInt(type).putInt(total);
    return start;
  }

  /** Makes room for {@code n} more bytes in the hold-back buffer being encoded into. */
  private void grow(int n) {
    ByteBuffer bigger = ByteBuffer.allocate(Math.max(out.capacity() * 2, out.position() + n)).order(ByteOrder.LITTLE_ENDIAN);
    out.flip();
    bigger.put(out);
    out = bigger;
  }

  private void end(int start) {
    int total = out.position() - start + 4;
    out.putInt(total);
    if (out.getInt(start + 4) != total) {
      throw new IllegalStateException("pcapng block length " + out.getInt(start + 4) + " != " + total);
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
      out.putInt(0);
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
