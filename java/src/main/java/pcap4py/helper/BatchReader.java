package pcap4py.helper;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.pcap4j.core.NotOpenException;
import org.pcap4j.core.PcapDumper;
import org.pcap4j.core.PcapHandle;
import org.pcap4j.core.PcapHandle.TimestampPrecision;

/**
 * Moves packets from one Pcap4J handle into buffers that Python owns, many per call.
 *
 * <p>Python calls {@link #fill} once per batch (one JPype crossing for hundreds of packets). For
 * each packet it appends an 80-byte record (see {@link Summary}) to {@code meta} and the frame
 * bytes to {@code data}. With a dumper attached, every packet is also written by libpcap's own
 * pcap_dump from the native buffers, and with {@code copy} off nothing else is done per packet:
 * that is the {@code -w} path, as cheap as tcpdump's.
 *
 * <p>A reader is used by one thread at a time. Each fill holds the handle's read lock (the one
 * Pcap4J's own reads take), so a close on another thread waits for it, and a fill after close
 * fails cleanly instead of passing a freed {@code pcap_t} to libpcap.
 */
public final class BatchReader extends BatchSource {

  private final PcapHandle handle;
  private final Lock handleLock;
  private final Pointer pcap;
  private final int dlt;
  private final boolean nanoseconds;
  private final int sourceIndex;
  private final Memory out = new Memory(16); // pcap_next_ex's two out-parameters
  private final Pointer outData = out.share(8);
  private final long[] addrs = new long[2];
  private final long[] header = new long[3];

  private static final int EIO = 5;
  private static final int PCAP_RECORD_HEADER = 16; // a record's header in the file
  private static final int PKTHDR_CAPLEN = 16; // caplen's offset in pcap_pkthdr (after a 16-byte timeval)

  private Pointer dumper;
  // -C: bytes the dump file may still grow by before it is full, shared by the readers of one
  // file (one element); null: no limit. Reading stops before a packet once it is negative.
  private long[] budget;
  private int writeError; // errno of the dumper's first failed write, 0 while none
  private boolean copy = true;
  // a packet read (and dumped) whose frame did not fit in the last batch: its pcap_pkthdr and
  // bytes stay valid in libpcap's buffer until the next pcap_next_ex, which waits until it is taken
  private Pointer heldHeader;
  private Pointer heldBytes;
  private boolean unsignedSeconds;
  // a live handle: how long to wait after its first read error before reading once more (0: never)
  private int drainMillis;
  private boolean drained;

  public BatchReader(PcapHandle handle, int sourceIndex) {
    this.handle = handle;
    this.pcap = (Pointer) Pcap4jFields.get(PcapHandle.class, handle, "handle");
    this.handleLock =
        ((ReentrantReadWriteLock) Pcap4jFields.get(PcapHandle.class, handle, "handleLock")).readLock();
    this.dlt = handle.getDlt().value();
    this.nanoseconds = handle.getTimestampPrecision() == TimestampPrecision.NANO;
    this.sourceIndex = sourceIndex;
  }

  /** Writes every packet read from now on to this dumper too (null to stop). */
  public void setDumper(PcapDumper d) {
    this.dumper = d == null ? null : (Pointer) Pcap4jFields.get(PcapDumper.class, d, "dumper");
  }

  /**
   * Reads the seconds of each time stamp as unsigned 32 bits, as the pcap format defines them
   * (libpcap sign-extends them, so times past 2038-01-19 would come out before 1970). For classic
   * pcap files only: pcapng and live time stamps are 64-bit already.
   */
  public void setUnsignedSeconds(boolean unsigned) {
    this.unsignedSeconds = unsigned;
  }

  /**
   * Shares {@code b[0]}, the bytes the dump file may still grow by (null: no limit): each dumped
   * packet takes its record's size off it, and no packet is read while it is negative, so the
   * file ends with the packet that took it past its limit (tcpdump's -C rule).
   */
  public void setDumpBudget(long[] b) {
    budget = b;
  }

  /**
   * A live handle: after its first read error, waits {@code millis} and reads what libpcap still
   * hands over before reporting the error. The kernel passes its ring's last, partly filled block
   * to libpcap only when the read timeout retires it, but libpcap reports an interface that
   * vanished (a container stopped) at once: the block's frames, the container's last exchange,
   * would be lost (tcpdump loses them). {@code millis} covers that timeout.
   */
  public void setDrainMillis(int millis) {
    drainMillis = millis;
  }

  /** Whether packets are copied into the batch buffers (off: count and dump only). */
  public void setCopy(boolean copy) {
    this.copy = copy;
  }

  /**
   * Pushes what the dumper buffered to its file and returns the stream's position: after a flush
   * that succeeded, every byte before it is on its way to the disk. -1 where the stream has no
   * position (a pipe), 0 without a dumper. Check {@link #writeError} after each call: a write may
   * have failed now or during an earlier {@link #fill}.
   */
  public long flushDumper() {
    if (dumper == null) {
      return 0;
    }
    if (writeError == 0) {
      // a pcap_dump whose fwrite failed leaves only the stream's error flag, and errno
      if (Libpcap.Stdio.ferror(Libpcap.pcap_dump_file(dumper)) != 0
          || Libpcap.pcap_dump_flush(dumper) != 0) {
        int errno = Native.getLastError();
        writeError = errno != 0 ? errno : EIO;
      }
    }
    return Libpcap.pcap_dump_ftell64(dumper);
  }

  /** The errno of the dumper's first failed write, 0 while none. */
  public int writeError() {
    return writeError;
  }

  /** The descriptor to poll for readability, or -1 where libpcap offers none. */
  public int selectableFd() {
    if (!handleLock.tryLock()) {
      return -1;
    }
    try {
      return handle.isOpen() ? Libpcap.pcap_get_selectable_fd(pcap) : -1;
    } finally {
      handleLock.unlock();
    }
  }

  /** The handle's snapshot length, or -1 once it is closed. */
  public int snapshot() {
    if (!handleLock.tryLock()) {
      return -1;
    }
    try {
      return handle.isOpen() ? Libpcap.pcap_snapshot(pcap) : -1;
    } finally {
      handleLock.unlock();
    }
  }

  public int linkType() {
    return dlt;
  }

  @Override
  public int fill(ByteBuffer meta, ByteBuffer data, int maxPackets) {
    if (finished()) {
      return 0;
    }
    // tryLock: close() holds the write lock only while closing; failing means it is closing now
    if (!handleLock.tryLock()) {
      error = "handle is closed";
      return 0;
    }
    try {
      if (!handle.isOpen()) {
        error = "handle is closed";
        return 0;
      }
      return fillOpen(meta, data, maxPackets);
    } finally {
      handleLock.unlock();
    }
  }

  private int fillOpen(ByteBuffer meta, ByteBuffer data, int maxPackets) {
    int count = 0;
    BatchCursor batch = copy ? new BatchCursor(meta, data, maxPackets) : null; // null: count and dump only
    needed = 0;
    if (heldHeader != null) { // dumped when read; copied now (or only counted, with copying off)
      if (batch != null && (!batch.hasRoom() || !copyPacket(batch, heldHeader, heldBytes))) {
        return 0;
      }
      heldHeader = null;
      count++;
    }
    while (count < maxPackets && (batch == null || batch.hasRoom())) {
      if (budget != null && budget[0] < 0) {
        break; // the file is full: the next packet goes to the next file
      }
      int rc = Libpcap.pcap_next_ex(pcap, out, outData);
      if (rc != 1) {
        if (rc == -2) {
          eof = true;
        } else if (rc == -1) {
          if (drainAfterError()) {
            continue;
          }
          error = lastError();
        }
        break;
      }
      // one native read each for the two out-pointers and the 24-byte pcap_pkthdr (x86-64 / arm64)
      out.read(0, addrs, 0, 2);
      Pointer hdr = new Pointer(addrs[0]);
      Pointer bytes = new Pointer(addrs[1]);
      if (dumper != null) {
        Libpcap.pcap_dump(dumper, hdr, bytes);
        if (budget != null) {
          budget[0] -= PCAP_RECORD_HEADER + hdr.getInt(PKTHDR_CAPLEN);
        }
      }
      if (batch != null && !copyPacket(batch, hdr, bytes)) {
        heldHeader = hdr; // read and dumped already: the next batch takes it
        heldBytes = bytes;
        total += count;
        return count;
      }
      count++;
    }
    total += count;
    return count;
  }

  /**
   * Appends the packet libpcap handed over; false when its frame does not fit ({@code needed} then
   * says whether it needs a bigger buffer). libpcap has checked its length against the link type's
   * largest frame ({@link LinkTypes#maxSnaplen}).
   */
  private boolean copyPacket(BatchCursor batch, Pointer hdr, Pointer bytes) {
    hdr.read(0, header, 0, 3);
    int caplen = (int) header[2];
    if (!batch.fits(caplen)) {
      needed = batch.needs(caplen);
      return false;
    }
    long sec = unsignedSeconds ? header[0] & 0xffffffffL : header[0];
    long frac = header[1];
    int origlen = (int) (header[2] >>> 32);
    byte[] frame = frameFor(caplen);
    bytes.read(0, frame, 0, caplen);
    long ts = Summary.timestamp(sec, frac, nanoseconds);
    batch.append(frame, caplen, origlen, ts, dlt, sourceIndex);
    return true;
  }

  /** True (once, after waiting) when a live handle's error may still leave frames to read. */
  private boolean drainAfterError() {
    if (drainMillis <= 0 || drained) {
      return false;
    }
    drained = true;
    try {
      Thread.sleep(drainMillis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
    return true;
  }

  private String lastError() {
    try {
      return handle.getError();
    } catch (NotOpenException e) {
      return "handle is closed";
    }
  }

}
