package pcap4py.helper;

import java.nio.ByteBuffer;

/**
 * Decodes the few fields every packet listing needs (L3/L4 protocol, addresses, ports, TCP flags,
 * where the payload starts) straight from the frame bytes, with no allocation.
 *
 * <p>It writes the {@link Record} of each packet.
 */
final class Summary {

  /** Readers stop a batch once fewer than this many bytes remain for frame data. */
  static final int MAX_FRAME = 262144;

  static final int DLT_NULL = 0;
  static final int DLT_EN10MB = 1;
  static final int DLT_RAW_OPENBSD = 12;
  static final int DLT_RAW_BSDOS = 14;
  static final int DLT_RAW = 101;
  static final int DLT_LOOP = 108;
  static final int DLT_LINUX_SLL = 113;
  static final int DLT_LINUX_SLL2 = 276;

  /**
   * The time stamp of a packet whose time no unsigned 64-bit count of nanoseconds since 1970 holds
   * (before 1970, or after 2554-07-21): a pcapng interface with a coarse resolution or an offset
   * can name one. Readers see this value and a flag rather than a time that silently wrapped.
   */
  static final long TS_OUT_OF_RANGE = -1L; // 2^64 - 1 as unsigned

  private static final long NS_PER_SECOND = 1_000_000_000L;

  private Summary() {}

  /**
   * Nanoseconds since the epoch as an unsigned 64-bit value, from seconds and a fraction
   * (nanoseconds, or microseconds when {@code nanoseconds} is false); {@link #TS_OUT_OF_RANGE}
   * when the result is negative or does not fit in 64 unsigned bits.
   */
  static long timestamp(long sec, long frac, boolean nanoseconds) {
    long fracNs = nanoseconds ? frac : frac * 1000L;
    if (sec < 0 || frac < 0 || Math.multiplyHigh(sec, NS_PER_SECOND) != 0) {
      return TS_OUT_OF_RANGE;
    }
    long whole = sec * NS_PER_SECOND;
    long ts = whole + fracNs;
    return Long.compareUnsigned(ts, whole) < 0 ? TS_OUT_OF_RANGE : ts;
  }

  /** Appends one packet: its record at {@code rec} of {@code meta}, its bytes at {@code pos} of {@code data}. */
  static void append(
      ByteBuffer meta, int rec, ByteBuffer data, int pos, byte[] frame, int caplen, int origlen,
      long tsNs, int dlt, int sourceIndex) {
    meta.putLong(rec + Record.TS, tsNs);
    meta.putInt(rec + Record.CAPLEN, caplen);
    meta.putInt(rec + Record.ORIGLEN, origlen);
    meta.putInt(rec + Record.DATA_OFFSET, pos);
    decode(frame, caplen, dlt, meta, rec);
    meta.put(rec + Record.SOURCE_INDEX, (byte) sourceIndex);
    data.position(pos);
    data.put(frame, 0, caplen);
  }

  /** Writes the protocol part of the record at {@code rec} (from the ethertype on); zeroes what is absent. */
  static void decode(byte[] f, int len, int dlt, ByteBuffer meta, int rec) {
    for (int i = Record.ETHERTYPE; i < Record.SIZE; i += 4) {
      meta.putInt(rec + i, 0);
    }
    meta.put(rec + Record.IP_PROTO, (byte) Record.NO_PROTO);
    int off;
    int type;
    switch (dlt) {
      case DLT_EN10MB:
        if (len < 14) return;
        type = u16(f, 12);
        off = 14;
        while ((type == Protocols.ETHERTYPE_VLAN || type == Protocols.ETHERTYPE_QINQ) && off + 4 <= len) {
          meta.putShort(rec + Record.VLAN, (short) (u16(f, off) & 0x0fff));
          type = u16(f, off + 2);
          off += 4;
        }
        break;
      case DLT_LINUX_SLL:
        if (len < 16) return;
        type = u16(f, 14);
        off = 16;
        break;
      case DLT_LINUX_SLL2:
        if (len < 20) return;
        type = u16(f, 0);
        off = 20;
        break;
      case DLT_RAW:
      case DLT_RAW_OPENBSD:
      case DLT_RAW_BSDOS:
        off = 0;
        type = ethertypeOfVersion(f, len, 0);
        break;
      case DLT_NULL:
      case DLT_LOOP:
        if (len < 4) return;
        off = 4;
        type = ethertypeOfVersion(f, len, 4);
        break;
      default:
        return;
    }
    meta.putShort(rec + Record.ETHERTYPE, (short) type);
    if (type == Protocols.ETHERTYPE_IPV4) {
      ipv4(f, len, off, meta, rec);
    } else if (type == Protocols.ETHERTYPE_IPV6) {
      ipv6(f, len, off, meta, rec);
    } else if (type == Protocols.ETHERTYPE_ARP) {
      arp(f, len, off, meta, rec);
    }
  }

  private static int ethertypeOfVersion(byte[] f, int len, int off) {
    if (off >= len) return 0;
    int version = (f[off] & 0xff) >> 4;
    return version == 4 ? Protocols.ETHERTYPE_IPV4 : version == 6 ? Protocols.ETHERTYPE_IPV6 : 0;
  }

  private static void ipv4(byte[] f, int len, int off, ByteBuffer meta, int rec) {
    if (off + 20 > len) return;
    int ihl = (f[off] & 0x0f) * 4;
    int total = u16(f, off + 2);
    int proto = f[off + 9] & 0xff;
    meta.put(rec + Record.IP_VERSION, (byte) 4);
    meta.put(rec + Record.IP_PROTO, (byte) proto);
    copy(f, off + 12, 4, meta, rec + Record.SRC);
    copy(f, off + 16, 4, meta, rec + Record.DST);
    boolean laterFragment = (u16(f, off + 6) & 0x1fff) != 0;
    if (laterFragment) {
      meta.putShort(rec + Record.PAYLOAD_OFFSET, (short) (off + ihl));
      meta.putInt(rec + Record.PAYLOAD_LENGTH, Math.max(0, total - ihl));
      return;
    }
    transport(f, len, off + ihl, Math.max(0, total - ihl), proto, meta, rec);
  }

  private static void ipv6(byte[] f, int len, int off, ByteBuffer meta, int rec) {
    if (off + 40 > len) return;
    int remaining = u16(f, off + 4);
    int next = f[off + 6] & 0xff;
    meta.put(rec + Record.IP_VERSION, (byte) 6);
    copy(f, off + 8, 16, meta, rec + Record.SRC);
    copy(f, off + 24, 16, meta, rec + Record.DST);
    int p = off + 40;
    // hop-by-hop, routing, fragment and destination options precede the transport header
    while ((next == Protocols.IP_HOPOPTS || next == Protocols.IP_ROUTING || next == Protocols.IP_FRAGMENT
        || next == Protocols.IP_DSTOPTS) && p + 8 <= len) {
      int extLen = next == Protocols.IP_FRAGMENT ? 8 : ((f[p + 1] & 0xff) + 1) * 8;
      next = f[p] & 0xff;
      p += extLen;
      remaining -= extLen;
    }
    meta.put(rec + Record.IP_PROTO, (byte) next);
    transport(f, len, p, Math.max(0, remaining), next, meta, rec);
  }

  private static void transport(
      byte[] f, int len, int p, int l4len, int proto, ByteBuffer meta, int rec) {
    switch (proto) {
      case Protocols.IP_TCP:
        if (p + 20 > len) break;
        int dataOff = ((f[p + 12] & 0xff) >> 4) * 4;
        meta.putShort(rec + Record.SPORT, (short) u16(f, p));
        meta.putShort(rec + Record.DPORT, (short) u16(f, p + 2));
        meta.putInt(rec + Record.SEQ, u32(f, p + 4));
        meta.putInt(rec + Record.ACK, u32(f, p + 8));
        meta.put(rec + Record.TCP_FLAGS, f[p + 13]);
        meta.putShort(rec + Record.PAYLOAD_OFFSET, (short) Math.min(p + dataOff, 0xffff));
        meta.putInt(rec + Record.PAYLOAD_LENGTH, Math.max(0, l4len - dataOff));
        return;
      case Protocols.IP_UDP:
      case Protocols.IP_UDPLITE:
        if (p + 8 > len) break;
        meta.putShort(rec + Record.SPORT, (short) u16(f, p));
        meta.putShort(rec + Record.DPORT, (short) u16(f, p + 2));
        meta.putShort(rec + Record.PAYLOAD_OFFSET, (short) Math.min(p + 8, 0xffff));
        meta.putInt(rec + Record.PAYLOAD_LENGTH, Math.max(0, l4len - 8));
        return;
      case Protocols.IP_ICMP:
      case Protocols.IP_ICMPV6:
        if (p + 4 > len) break;
        meta.put(rec + Record.ICMP_TYPE, f[p]);
        meta.put(rec + Record.ICMP_CODE, f[p + 1]);
        if (p + 8 <= len) {
          meta.putShort(rec + Record.SPORT, (short) u16(f, p + 4)); // echo id
          meta.putShort(rec + Record.DPORT, (short) u16(f, p + 6)); // echo sequence
        }
        meta.putShort(rec + Record.PAYLOAD_OFFSET, (short) Math.min(p, 0xffff));
        meta.putInt(rec + Record.PAYLOAD_LENGTH, l4len);
        return;
      default:
        break;
    }
    meta.putShort(rec + Record.PAYLOAD_OFFSET, (short) Math.min(p, 0xffff));
    meta.putInt(rec + Record.PAYLOAD_LENGTH, l4len);
  }

  private static void arp(byte[] f, int len, int off, ByteBuffer meta, int rec) {
    if (off + 28 > len || u16(f, off + 2) != Protocols.ETHERTYPE_IPV4) return;
    meta.putShort(rec + Record.SPORT, (short) u16(f, off + 6)); // opcode
    copy(f, off + 14, 4, meta, rec + Record.SRC);
    copy(f, off + 24, 4, meta, rec + Record.DST);
  }

  private static void copy(byte[] f, int from, int n, ByteBuffer meta, int to) {
    for (int i = 0; i < n; i++) {
      meta.put(to + i, f[from + i]);
    }
  }

  private static int u16(byte[] f, int i) {
    return ((f[i] & 0xff) << 8) | (f[i + 1] & 0xff);
  }

  private static int u32(byte[] f, int i) {
    return ((f[i] & 0xff) << 24) | ((f[i + 1] & 0xff) << 16) | ((f[i + 2] & 0xff) << 8) | (f[i + 3] & 0xff);
  }
}
