package pcap4py.helper;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import java.io.IOException;
import java.lang.reflect.Field;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.pcap4j.core.BpfProgram;

/**
 * Reads a pcapng file into the batch buffers, with the same {@code fill} contract as {@link
 * PcapFileReader}: every section and every interface, whatever their link types (libpcap refuses
 * files whose interfaces differ in link type, and later sections).
 *
 * <p>The constructor walks the file once for its interface description blocks, so the caller
 * learns every interface (numbered across sections, in file order) before the first packet; the
 * record's source index is {@code base} plus that number. A filter is one compiled program per
 * link type ({@link #setFilter}), applied with libpcap's pcap_offline_filter.
 */
public final class PcapngFileReader extends BatchSource {

  private static final int SHB = 0x0A0D0D0A;
  private static final int IDB = 1;
  private static final int PB = 2; // obsolete packet block
  private static final int SPB = 3;
  private static final int EPB = 6;
  private static final int BYTE_ORDER_MAGIC = 0x1A2B3C4D;
  private static final int MAX_INTERFACES = 256; // the record's source index is one byte

  /** One interface description block. */
  private static final class Interface {
    int linkType;
    int snaplen;
    String name;
    String description;
    String filter;
    boolean binaryResolution;
    int resolution = 6;
    long offsetSeconds;
  }

  private final FileChannel channel;
  private final ByteBuffer in = ByteBuffer.allocate(4 << 20);
  private final byte[] frame = new byte[Summary.MAX_FRAME];
  private final int base;
  private final List<Interface> interfaces = new ArrayList<>();
  private final Map<Integer, Pointer> programs = new HashMap<>();
  private final Memory filterHeader = new Memory(24); // struct pcap_pkthdr (x86-64 / arm64)
  private final Memory filterFrame = new Memory(Summary.MAX_FRAME);
  private int sectionFirst = -1; // global number of the current section's first interface
  private int sectionCount;
  private ByteOrder order = ByteOrder.LITTLE_ENDIAN;

  /** Opens {@code path} and reads its interface list; packets get source index {@code base + n}. */
  public PcapngFileReader(String path, int base) throws IOException {
    this.channel = FileChannel.open(Paths.get(path), StandardOpenOption.READ);
    this.base = base;
    in.limit(0);
    try {
      scanInterfaces();
      if (interfaces.isEmpty()) {
        throw new IOException("no interface description block");
      }
      if (base + interfaces.size() > MAX_INTERFACES) {
        throw new IOException("more than " + MAX_INTERFACES + " interfaces");
      }
      channel.position(0);
      in.clear().limit(0);
      order = ByteOrder.LITTLE_ENDIAN;
      sectionFirst = -1;
      sectionCount = 0;
      eof = false;
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  public int interfaceCount() {
    return interfaces.size();
  }

  public int linkType(int i) {
    return interfaces.get(i).linkType;
  }

  public int snaplen(int i) {
    return interfaces.get(i).snaplen;
  }

  /** if_name, or null when the block has none. */
  public String name(int i) {
    return interfaces.get(i).name;
  }

  /** if_description, or null. */
  public String description(int i) {
    return interfaces.get(i).description;
  }

  /** if_filter (a libpcap expression), or null. */
  public String filter(int i) {
    return interfaces.get(i).filter;
  }

  /** Keeps only packets of interfaces with link type {@code linkType} that {@code program} accepts. */
  public void setFilter(int linkType, BpfProgram program) {
    programs.put(linkType, ((Structure) privateField(BpfProgram.class, program, "program")).getPointer());
  }

  public void close() throws IOException {
    channel.close();
  }

  // --- the first pass: interfaces --------------------------------------------------------
  private void scanInterfaces() throws IOException {
    int type;
    while ((type = nextBlock(true)) != Integer.MIN_VALUE) {
      int length = in.getInt(in.position() + 4);
      if (type == IDB) {
        interfaces.add(parseInterface(in.position(), length));
      }
      in.position(in.position() + length);
    }
    if (error != null) {
      throw new IOException(error);
    }
  }

  private Interface parseInterface(int p, int length) throws IOException {
    if (length < 20) {
      throw new IOException("interface description block of length " + length + " is too short");
    }
    Interface f = new Interface();
    f.linkType = in.getShort(p + 8) & 0xffff;
    f.snaplen = in.getInt(p + 12);
    int o = p + 16;
    int end = p + length - 4;
    while (o + 4 <= end) {
      int code = in.getShort(o) & 0xffff;
      int len = in.getShort(o + 2) & 0xffff;
      if (code == 0 || o + 4 + len > end) {
        break;
      }
      int v = o + 4;
      switch (code) {
        case 2: f.name = text(v, len); break;
        case 3: f.description = text(v, len); break;
        case 9:
          if (len >= 1) {
            f.binaryResolution = (in.get(v) & 0x80) != 0;
            f.resolution = in.get(v) & 0x7f;
          }
          break;
        case 11:
          if (len >= 1 && in.get(v) == 0) f.filter = text(v + 1, len - 1);
          break;
        case 14:
          if (len >= 8) f.offsetSeconds = in.getLong(v);
          break;
        default: break;
      }
      o = v + ((len + 3) & ~3);
    }
    return f;
  }

  private String text(int at, int len) {
    byte[] b = new byte[len];
    for (int i = 0; i < len; i++) {
      b[i] = in.get(at + i);
    }
    int n = len;
    while (n > 0 && b[n - 1] == 0) n--; // some writers count a terminating NUL
    return new String(b, 0, n, StandardCharsets.UTF_8);
  }

  // --- blocks --------------------------------------------------------------------------------
  /**
   * Positions the buffer at the next block worth reading whole (section headers, interfaces, packets),
   * skipping the others, and returns its type; MIN_VALUE at the end or on an error (see {@code error}).
   * Section headers and interface blocks update the numbering of the current section's interfaces.
   */
  private int nextBlock(boolean scanning) throws IOException {
    while (true) {
      if (!ensure(8)) {
        if (in.remaining() > 0) {
          error = "truncated pcapng file; tried to read 8 block header bytes, only got " + in.remaining();
        } else {
          eof = true;
        }
        return Integer.MIN_VALUE;
      }
      int p = in.position();
      int type = in.getInt(p);
      if (type == SHB) {
        if (!ensure(12)) {
          error = "truncated pcapng section header block";
          return Integer.MIN_VALUE;
        }
        p = in.position();
        int magic = in.order(ByteOrder.LITTLE_ENDIAN).getInt(p + 8);
        if (magic == BYTE_ORDER_MAGIC) {
          order = ByteOrder.LITTLE_ENDIAN;
        } else if (Integer.reverseBytes(magic) == BYTE_ORDER_MAGIC) {
          order = ByteOrder.BIG_ENDIAN;
        } else {
          error = "pcapng section header block with an unknown byte-order magic 0x" + Integer.toHexString(magic);
          return Integer.MIN_VALUE;
        }
        in.order(order);
        sectionFirst = sectionFirst < 0 ? 0 : sectionFirst + sectionCount;
        sectionCount = 0;
      } else if (sectionFirst < 0) {
        error = "not a pcapng file: it does not start with a section header block";
        return Integer.MIN_VALUE;
      }
      long length = in.getInt(p + 4) & 0xffffffffL;
      if (length < 12 || (length & 3) != 0) {
        error = "pcapng block of type 0x" + Integer.toHexString(type) + " has an invalid length " + length;
        return Integer.MIN_VALUE;
      }
      boolean wanted = type == SHB || type == IDB || (!scanning && (type == EPB || type == SPB || type == PB));
      if (!wanted) {
        skip(length);
        continue;
      }
      if (length > in.capacity() || !ensure((int) length)) {
        error = "truncated pcapng file; a block of type 0x" + Integer.toHexString(type) + " needs " + length
            + " bytes, only got " + in.remaining();
        return Integer.MIN_VALUE;
      }
      String bad = malformed(type, in.position(), (int) length);
      if (bad != null) {
        error = bad;
        return Integer.MIN_VALUE;
      }
      if (type == IDB) {
        sectionCount++;
      }
      if (type == SHB || type == IDB) {
        if (!scanning) {
          in.position(in.position() + (int) length);
          continue;
        }
      }
      return type;
    }
  }

  /**
   * Why the whole block at {@code p} is corrupt, or null: checked as libpcap and Wireshark check it
   * (trailing length, the least length of its type, the section's version, options that fit), so
   * that a damaged file is refused here too rather than read into packets nobody else sees.
   */
  private String malformed(int type, int p, int length) {
    String name = "pcapng block of type 0x" + Integer.toHexString(type);
    if (in.getInt(p + length - 4) != length) {
      return name + ": its trailing length " + (in.getInt(p + length - 4) & 0xffffffffL)
          + " differs from its leading length " + length;
    }
    int least = type == SHB ? 28 : type == IDB ? 20 : type == EPB || type == PB ? 32 : 16;
    if (length < least) {
      return name + " is too short (" + length + " bytes, at least " + least + ")";
    }
    if (type == SHB && (in.getShort(p + 12) & 0xffff) != 1) {
      return "unsupported pcapng version " + (in.getShort(p + 12) & 0xffff) + "." + (in.getShort(p + 14) & 0xffff);
    }
    if (type == SHB || type == IDB) {
      return badOptions(name, p + (type == SHB ? 24 : 16), p + length - 4);
    }
    return null;
  }

  /** Why the options from {@code o} to {@code end} do not fit their block, or null. */
  private String badOptions(String block, int o, int end) {
    while (o + 4 <= end) {
      int code = in.getShort(o) & 0xffff;
      int len = in.getShort(o + 2) & 0xffff;
      if (o + 4 + len > end) { // libpcap checks this before the code: opt_endofopt too
        return block + ": an option of length " + len + " runs past the end of its block";
      }
      if (code == 0) {
        return null; // opt_endofopt
      }
      o += 4 + ((len + 3) & ~3);
    }
    return o == end ? null : block + ": its options do not fill it";
  }

  private void skip(long n) throws IOException {
    if (n <= in.remaining()) {
      in.position(in.position() + (int) n);
      return;
    }
    long beyond = n - in.remaining();
    in.position(in.limit());
    channel.position(channel.position() + beyond);
  }

  /** Makes at least {@code n} unread bytes available at the buffer's position; false at end of file. */
  private boolean ensure(int n) throws IOException {
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

  // --- packets ---------------------------------------------------------------------------------
  @Override
  public int fill(ByteBuffer meta, ByteBuffer data, int maxPackets) {
    meta.order(ByteOrder.LITTLE_ENDIAN);
    int count = 0;
    int rec = 0;
    int pos = 0;
    try {
      while (count < maxPackets
          && rec + Record.SIZE <= meta.capacity()
          && data.capacity() - pos >= Summary.MAX_FRAME) {
        int type = nextBlock(false);
        if (type == Integer.MIN_VALUE) {
          break;
        }
        int p = in.position();
        int length = in.getInt(p + 4);
        in.position(p + length);
        int local;
        long stamp;
        int caplen;
        int origlen;
        int at;
        if (type == SPB) {
          local = 0;
          stamp = 0;
          origlen = in.getInt(p + 8);
          caplen = Math.min(origlen, length - 16);
          at = p + 12;
        } else {
          local = type == EPB ? in.getInt(p + 8) : in.getShort(p + 8) & 0xffff;
          stamp = ((in.getInt(p + 12) & 0xffffffffL) << 32) | (in.getInt(p + 16) & 0xffffffffL);
          caplen = in.getInt(p + 20);
          origlen = in.getInt(p + 24);
          at = p + 28;
          if (caplen < 0 || 28 + (long) caplen > length - 4) {
            error = "pcapng packet block of length " + length + " cannot hold " + (caplen & 0xffffffffL) + " captured bytes";
            break;
          }
        }
        if (local < 0 || local >= sectionCount) {
          error = "pcapng packet block for interface " + (local & 0xffffffffL) + " of a section with " + sectionCount + " interfaces";
          break;
        }
        if (caplen > Summary.MAX_FRAME) {
          error = "invalid packet capture length " + caplen + ", bigger than the maximum of " + Summary.MAX_FRAME;
          break;
        }
        int number = sectionFirst + local;
        Interface f = interfaces.get(number);
        in.position(at); // relative bulk get: Java 11 has no absolute one
        in.get(frame, 0, caplen);
        in.position(p + length);
        if (!accepted(f, caplen, origlen)) {
          continue;
        }
        long ts = type == SPB ? 0 : nanoseconds(f, stamp); // a simple packet block has no time
        Summary.append(meta, rec, data, pos, frame, caplen, origlen, ts, f.linkType, base + number);
        pos += caplen;
        rec += Record.SIZE;
        count++;
      }
    } catch (IOException e) {
      error = e.getMessage();
    }
    total += count;
    return count;
  }

  private boolean accepted(Interface f, int caplen, int origlen) {
    Pointer program = programs.isEmpty() ? null : programs.get(f.linkType);
    if (program == null) {
      return programs.isEmpty();
    }
    filterHeader.setInt(16, caplen);
    filterHeader.setInt(20, origlen);
    filterFrame.write(0, frame, 0, caplen);
    return Libpcap.pcap_offline_filter(program, filterHeader, filterFrame) != 0;
  }

  private static final BigInteger NS_PER_SECOND = BigInteger.valueOf(1_000_000_000L);
  private static final BigInteger TWO_TO_64 = BigInteger.ONE.shiftLeft(64);

  /**
   * The record's time stamp (an unsigned count of ns since 1970) of a packet's 64-bit {@code
   * stamp}, itself unsigned, in its interface's units and offset; {@link Summary#TS_OUT_OF_RANGE}
   * when the time does not fit.
   */
  private static long nanoseconds(Interface f, long stamp) {
    if (f.offsetSeconds == 0 && !f.binaryResolution) {
      if (f.resolution == 9) {
        return stamp; // the common case: no arithmetic
      }
      if (f.resolution == 6 && stamp >= 0 && stamp <= Long.MAX_VALUE / 1000) {
        return stamp * 1000;
      }
    }
    BigInteger units = new BigInteger(Long.toUnsignedString(stamp));
    BigInteger ns = f.binaryResolution
        ? units.multiply(NS_PER_SECOND).shiftRight(f.resolution)
        : f.resolution <= 9
            ? units.multiply(BigInteger.TEN.pow(9 - f.resolution))
            : units.divide(BigInteger.TEN.pow(f.resolution - 9));
    ns = ns.add(BigInteger.valueOf(f.offsetSeconds).multiply(NS_PER_SECOND));
    return ns.signum() < 0 || ns.compareTo(TWO_TO_64) >= 0 ? Summary.TS_OUT_OF_RANGE : ns.longValue();
  }

  private static Object privateField(Class<?> type, Object target, String name) {
    try {
      Field field = type.getDeclaredField(name);
      field.setAccessible(true);
      return field.get(target);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("incompatible Pcap4J: no field " + name + " in " + type, e);
    }
  }
}
