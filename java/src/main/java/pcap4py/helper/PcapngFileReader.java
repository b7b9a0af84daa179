package pcap4py.helper;

import static pcap4py.helper.Pcapng.*;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.pcap4j.core.BpfProgram;

/**
 * Reads a pcapng file into the batch buffers, with the same {@code fill} contract as {@link
 * PcapFileReader}: every section and every interface, whatever their link types (libpcap stops at
 * an interface whose link type or snapshot length differs from the first one's, and at a section
 * in the other byte order). Otherwise it stops where libpcap's reader stops, with its words: a
 * damaged file gives the packets before the fault, then the error.
 *
 * <p>The constructor walks the file once for its interface description blocks (up to the first
 * fault), so the caller learns every interface (numbered across sections, in file order) before
 * the first packet; the record's source index is {@code base} plus that number. A filter is one
 * compiled program per link type ({@link #setFilter}), applied with libpcap's pcap_offline_filter.
 */
public final class PcapngFileReader extends BatchSource {

  private static final int MAX_INTERFACES = 256; // sources: the record's source index is one byte
  private static final int MAX_SHB = 1 << 20; // libpcap's BT_SHB_INSANE_MAX
  private static final int INITIAL_MAX_BLOCK = 16 << 20; // libpcap's INITIAL_MAX_BLOCKSIZE
  private static final int END = Integer.MIN_VALUE;

  private final FileChannel channel;
  // direct (NIO reads a heap buffer through a direct copy it keeps); a small file's size, 4 MiB
  // at most; grows for a bigger block, up to maxBlock
  private ByteBuffer in;
  private final int base;
  private final List<PcapngInterface> interfaces = new ArrayList<>(); // every interface block, in file order
  private final List<PcapngInterface> sources = new ArrayList<>(); // the first interface of each source
  private int[] sourceOf; // an interface's source
  private final Map<Integer, Pointer> programs = new HashMap<>();
  private Memory filterHeader; // struct pcap_pkthdr and a frame for libpcap's filter: made with
  private Memory filterFrame; // the first filter, so a file read whole never loads JNA
  private boolean started; // the first section header has been read
  private int sectionFirst; // global number of the current section's first interface
  private int sectionCount;
  private int maxBlock = INITIAL_MAX_BLOCK;
  private String laxHeader; // what libpcap overlooks in the first section header, or null
  private int firstDlt; // the first interface's link type (as a DLT_) and snapshot length
  private int firstSnapshot;
  private ByteOrder firstOrder;
  private ByteOrder order = ByteOrder.LITTLE_ENDIAN;
  private int block; // the last block read: its start in the buffer and its length
  private int blockLength;
  private int packetInterface; // the last packet block read: global interface number, fields
  private int packetCaplen;
  private int packetOriglen;
  private int packetData;
  private long packetStamp;

  /** Opens {@code path} and reads its interface list; packets get source index {@code base + n}. */
  public PcapngFileReader(String path, int base) throws IOException {
    this.channel = FileChannel.open(Paths.get(path), StandardOpenOption.READ);
    this.base = base;
    this.in = ByteBuffer.allocateDirect((int) Math.max(64 << 10, Math.min(4 << 20, channel.size())));
    in.limit(0);
    try {
      scanInterfaces();
      assignSources();
      channel.position(0);
      in.clear().limit(0);
      order = ByteOrder.LITTLE_ENDIAN;
      in.order(order);
      started = false;
      sectionFirst = 0;
      sectionCount = 0;
      maxBlock = INITIAL_MAX_BLOCK;
      eof = false;
      error = null;
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  /** How many sources the file's packets come from (source i has index {@code base + i}). */
  public int interfaceCount() {
    return sources.size();
  }

  public int linkType(int i) {
    return sources.get(i).linkType;
  }

  /** Source i's snapshot length as libpcap takes it (0 or too big: the link type's largest frame). */
  public int snaplen(int i) {
    return sources.get(i).snapshot();
  }

  /** if_name, or null when the block has none. */
  public String name(int i) {
    return sources.get(i).name;
  }

  /** if_description, or null. */
  public String description(int i) {
    return sources.get(i).description;
  }

  /** if_filter (a libpcap expression), or null. */
  public String filter(int i) {
    return sources.get(i).filter;
  }

  /**
   * Gives each interface a source: interfaces described alike (link type, snapshot length, name,
   * description, filter) share one, as the same interfaces do in {@code cat}-joined files' sections.
   * Past the one-byte index of a record, an interface shares the first source of its link type and
   * snapshot length (its packets are all read, named after that one), as tcpdump reads them all.
   */
  private void assignSources() throws IOException {
    Map<String, Integer> byDescription = new HashMap<>();
    Map<String, Integer> byShape = new HashMap<>();
    sourceOf = new int[interfaces.size()];
    for (int i = 0; i < interfaces.size(); i++) {
      PcapngInterface f = interfaces.get(i);
      String shape = f.linkType + "/" + f.snaplen;
      String key = shape + "\u0000" + f.name + "\u0000" + f.description + "\u0000" + f.filter;
      Integer source = byDescription.get(key);
      if (source == null && base + sources.size() < MAX_INTERFACES) {
        source = sources.size();
        sources.add(f);
        byDescription.put(key, source);
        byShape.putIfAbsent(shape, source);
      } else if (source == null) {
        source = byShape.get(shape);
        if (source == null) {
          throw new IOException("more than " + MAX_INTERFACES + " interfaces of distinct link types and snapshot lengths");
        }
      }
      sourceOf[i] = source;
    }
  }

  /** Keeps only packets of interfaces with link type {@code linkType} that {@code program} accepts. */
  public void setFilter(int linkType, BpfProgram program) {
    filterHeader = filterHeader != null ? filterHeader : new Memory(24);
    filterFrame = filterFrame != null ? filterFrame : new Memory(Summary.MAX_FRAME);
    programs.put(linkType, ((Structure) Pcap4jFields.get(BpfProgram.class, program, "program")).getPointer());
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  // --- the first pass: interfaces --------------------------------------------------------
  /**
   * Reads the interfaces up to the first fault; a fault after the first interface is left for
   * {@link #fill} to report after the packets before it, as libpcap reports it from pcap_next_ex.
   */
  private void scanInterfaces() throws IOException {
    int type;
    while ((type = nextBlock(true)) != END) {
      if (type == IDB) {
        interfaces.add(PcapngInterface.parse(in, block, blockLength));
      }
    }
    if (interfaces.isEmpty()) {
      throw new IOException(error != null ? error : "the capture file has no Interface Description Blocks");
    }
  }

  // --- blocks --------------------------------------------------------------------------------
  /*
   * The checks are libpcap's (sf-pcapng.c of 1.10.3, which tcpdump here uses), in its order and
   * with its words, so that pcap4py stops at the block where tcpdump stops: every block is read
   * whole (unknown types too) and its lengths checked; the first section header is checked as
   * pcap_ng_check_header checks it, later ones as pcap_ng_next_packet does.  Two of libpcap's
   * refusals are not made, on purpose: interfaces whose link type or snapshot length differ from
   * the first interface's, and sections whose byte order differs (libpcap's one-link-type,
   * one-byte-order limits, which this reader exists to lift; tshark reads such files).
   */

  /**
   * Reads the next block that {@code fill} wants (a packet block), or in the first pass the next
   * interface block, after checking it and every block before it; returns its type, its start in
   * {@link #block}, and a packet's fields in {@code packet*}; END at the end or on a fault (then
   * {@code error} says which).
   */
  private int nextBlock(boolean scanning) throws IOException {
    if (!started && !readFirstSectionHeader()) {
      return END;
    }
    while (true) {
      if (!ensure(8)) {
        if (in.remaining() > 0) {
          error = truncated(8, in.remaining());
        } else {
          eof = true;
        }
        return END;
      }
      if (in.getInt(in.position()) == SHB && !readByteOrder()) {
        return END;
      }
      int p = in.position();
      int type = in.getInt(p);
      long length = in.getInt(p + 4) & 0xffffffffL;
      String fault = lengthFault(length);
      if (fault != null) {
        error = fault;
        return END;
      }
      if (!ensure((int) length)) {
        error = truncated(length - 8, in.remaining() - 8);
        return END;
      }
      p = in.position();
      if (in.getInt(p + (int) length - 4) != (int) length) {
        error = "pcapng block total length in header and trailer don't match";
        return END;
      }
      block = p;
      blockLength = (int) length;
      fault = blockFault(type, p, (int) length);
      if (fault != null) {
        error = fault;
        return END;
      }
      in.position(p + (int) length);
      switch (type) {
        case SHB:
          if (order != firstOrder && beyondLibpcap()) {
            return END;
          }
          sectionFirst += sectionCount;
          sectionCount = 0;
          break;
        case IDB:
          int linkType = in.getShort(p + 8) & 0xffff;
          if (sectionFirst + sectionCount == 0) {
            firstDlt = dlt(linkType);
            firstSnapshot = PcapngInterface.snapshot(linkType, in.getInt(p + 12));
            maxBlock = Math.max(maxBlock, 8 + 20 + maxSnaplen(linkType) + 131072 + 4); // MAX_BLOCKSIZE_FOR_SNAPLEN
          } else if ((linkType != firstDlt || PcapngInterface.snapshot(linkType, in.getInt(p + 12)) != firstSnapshot) && beyondLibpcap()) {
            return END;
          }
          sectionCount++;
          if (scanning) {
            return type;
          }
          break;
        case EPB:
        case SPB:
        case PB:
          if (!scanning) {
            return type;
          }
          break;
        default:
          break; // libpcap ignores other blocks once read whole
      }
    }
  }

  /**
   * At a block past libpcap's limits (an interface whose link type or snapshot length is not the
   * first's, a section in the other byte order), where tcpdump stops and tshark is the reference:
   * sets {@code error} and returns true if the first section header has a fault libpcap overlooks
   * but tshark does not.
   */
  private boolean beyondLibpcap() {
    if (laxHeader == null) {
      return false;
    }
    error = laxHeader + " (overlooked only in a file within libpcap's one link type, snapshot length and byte order)";
    return true;
  }

  /**
   * libpcap's linktype_to_dlt where it changes the value on Linux; libpcap compares a later
   * interface's LINKTYPE_ with the first one's DLT_, so a second raw-IP interface is past its limit too.
   */
  private static int dlt(int linkType) {
    return LinkTypes.dlt(linkType);
  }

  /** The file's first block, checked as pcap_ng_check_header checks it; false on a fault. */
  private boolean readFirstSectionHeader() throws IOException {
    if (!ensure(12) || in.getInt(in.position()) != SHB) {
      error = "not a pcapng file: it does not start with a section header block";
      return false;
    }
    if (!readByteOrder()) {
      return false;
    }
    int p = in.position();
    long length = in.getInt(p + 4) & 0xffffffffL;
    if (length < 28 || length > MAX_SHB) {
      error = "Section Header Block in pcapng file has invalid length " + length + " (28 to " + MAX_SHB + ")";
      return false;
    }
    if (!ensure((int) length)) {
      error = truncated(length - 12, in.remaining() - 12);
      return false;
    }
    p = in.position();
    int major = in.getShort(p + 12) & 0xffff;
    int minor = in.getShort(p + 14) & 0xffff;
    if (major != 1 || (minor != 0 && minor != 2)) {
      error = "unsupported pcapng savefile version " + major + "." + minor;
      return false;
    }
    // libpcap checks neither this block's trailer nor that its length is a multiple of 4: the
    // next block starts where the length says (see beyondLibpcap)
    laxHeader = null;
    if ((length & 3) != 0) {
      laxHeader = "pcapng section header block length " + length + " is not a multiple of 4";
    } else if ((in.getInt(p + (int) length - 4) & 0xffffffffL) != length) {
      laxHeader = "pcapng section header block: its trailing length " + (in.getInt(p + (int) length - 4) & 0xffffffffL)
          + " differs from its leading length " + length;
    }
    firstOrder = order;
    in.position(p + (int) length);
    started = true;
    return true;
  }

  /** Takes the byte order of the section header at the buffer's position; false on a fault. */
  private boolean readByteOrder() throws IOException {
    if (!ensure(12)) {
      error = truncated(12, in.remaining());
      return false;
    }
    int magic = in.order(ByteOrder.LITTLE_ENDIAN).getInt(in.position() + 8);
    if (magic == BYTE_ORDER_MAGIC) {
      order = ByteOrder.LITTLE_ENDIAN;
    } else if (Integer.reverseBytes(magic) == BYTE_ORDER_MAGIC) {
      order = ByteOrder.BIG_ENDIAN;
    } else {
      in.order(order);
      error = "the pcapng file has a section with a bad byte order magic field";
      return false;
    }
    in.order(order);
    return true;
  }

  /** libpcap's read_block checks of a block's leading length, or null. */
  private String lengthFault(long length) {
    if (length < 12) {
      return "block in pcapng file has a length of " + length + " < 12";
    }
    if ((length & 3) != 0) {
      return "block in pcapng file has a length of " + length + " that is not a multiple of 4";
    }
    if (length > maxBlock) {
      return "pcapng block size " + length + " > maximum " + maxBlock;
    }
    return null;
  }

  /** Why the whole block at {@code p} is one libpcap stops at, or null. */
  private String blockFault(int type, int p, int length) {
    int body = length - 12;
    switch (type) {
      case SHB:
        if (body < 16) {
          return tooShort(type);
        }
        int major = in.getShort(p + 12) & 0xffff;
        return major == 1 ? null : "unknown pcapng savefile major version number " + major;
      case IDB:
        return body < 8 ? tooShort(type) : PcapngInterface.optionsFault(in, p + 16, p + length - 4);
      case EPB:
      case PB:
        return body < 20 ? tooShort(type) : packetFault(type, p, length);
      case SPB:
        return body < 4 ? tooShort(type) : packetFault(type, p, length);
      default:
        return null;
    }
  }

  /**
   * Decodes the packet block at {@code p} into {@code packet*} and says why libpcap would stop at
   * it (pcap_ng_next_packet's checks, in its order), or null. The snapshot length is at most the link
   * type's largest frame ({@link LinkTypes#maxSnaplen}), so a bigger frame is refused there.
   */
  private String packetFault(int type, int p, int length) {
    long caplen;
    long room;
    long local;
    if (type == SPB) {
      local = 0;
      packetOriglen = in.getInt(p + 8);
      packetData = p + 12;
      room = length - 16L;
      caplen = packetOriglen & 0xffffffffL; // clamped to the snapshot length below
      packetStamp = 0;
    } else {
      local = type == EPB ? in.getInt(p + 8) & 0xffffffffL : in.getShort(p + 8) & 0xffff;
      packetStamp = ((in.getInt(p + 12) & 0xffffffffL) << 32) | (in.getInt(p + 16) & 0xffffffffL);
      caplen = in.getInt(p + 20) & 0xffffffffL;
      packetOriglen = in.getInt(p + 24);
      packetData = p + 28;
      room = length - 32L;
    }
    if (sectionFirst + sectionCount == 0) {
      return "the capture file has a packet block before any Interface Description Blocks";
    }
    if (local >= sectionCount) {
      return "a packet arrived on interface " + local + ", but there's no Interface Description Block for that interface";
    }
    packetInterface = sectionFirst + (int) local;
    int snapshot = interfaces.get(packetInterface).snapshot();
    if (type == SPB) {
      caplen = Math.min(caplen, snapshot); // an SPB has no captured length (libpcap: its p->snapshot)
    } else if (caplen > snapshot) {
      int dlt = dlt(interfaces.get(packetInterface).linkType);
      return snapshot == LinkTypes.maxSnaplen(dlt) ? LinkTypes.tooBig(caplen, dlt)
          : "invalid packet capture length " + caplen + ", bigger than snaplen of " + snapshot;
    }
    if (caplen > room) {
      return tooShort(type);
    }
    packetCaplen = (int) caplen;
    return null;
  }

  /** Makes at least {@code n} unread bytes available at the buffer's position; false at end of file. */
  private boolean ensure(int n) throws IOException {
    if (in.remaining() >= n) {
      return true;
    }
    if (n > in.capacity()) { // a block above the usual size, at most maxBlock
      ByteBuffer bigger = ByteBuffer.allocateDirect(n).order(in.order());
      bigger.put(in).flip();
      in = bigger;
    }
    return ensure(in, channel, n);
  }

  // --- packets ---------------------------------------------------------------------------------
  @Override
  public int fill(ByteBuffer meta, ByteBuffer data, int maxPackets) {
    if (finished()) {
      return 0; // reading on past a fault would take what follows it for blocks
    }
    BatchCursor batch = new BatchCursor(meta, data, maxPackets);
    needed = 0;
    try {
      while (batch.hasRoom()) {
        int type = nextBlock(false);
        if (type == END) {
          break;
        }
        if (!batch.fits(packetCaplen)) {
          in.position(block); // read again by the next fill, into a batch with room for it
          needed = batch.needs(packetCaplen);
          break;
        }
        int next = in.position();
        byte[] frame = frameFor(packetCaplen);
        in.position(packetData); // relative bulk get: Java 11 has no absolute one
        in.get(frame, 0, packetCaplen);
        in.position(next);
        PcapngInterface f = interfaces.get(packetInterface);
        if (!accepted(f, frame, packetCaplen, packetOriglen)) {
          continue;
        }
        long ts = type == SPB ? 0 : f.nanoseconds(packetStamp); // a simple packet block has no time
        batch.append(frame, packetCaplen, packetOriglen, ts, f.linkType, base + sourceOf[packetInterface]);
      }
    } catch (IOException e) {
      error = e.getMessage();
    }
    total += batch.count();
    return batch.count();
  }

  private boolean accepted(PcapngInterface f, byte[] frame, int caplen, int origlen) {
    Pointer program = programs.isEmpty() ? null : programs.get(f.linkType);
    if (program == null) {
      return programs.isEmpty();
    }
    filterHeader.setInt(16, caplen);
    filterHeader.setInt(20, origlen);
    Memory native_ = caplen <= filterFrame.size() ? filterFrame : new Memory(caplen); // a big frame: its own
    native_.write(0, frame, 0, caplen);
    return Libpcap.pcap_offline_filter(program, filterHeader, native_) != 0;
  }
}
