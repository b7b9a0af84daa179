package pcap4py.helper;

import static pcap4py.helper.Pcapng.*;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * One interface description block of a pcapng file being read: its link type, snapshot length,
 * names and time stamp units, with libpcap's checks of its options (process_idb_options) and the
 * conversion of its packets' time stamps to the record's nanoseconds.
 */
final class PcapngInterface {

  int linkType;
  int snaplen;
  String name;
  String description;
  String filter;
  boolean binaryResolution;
  int resolution = 6;
  long offsetSeconds;

  /** The interface of the IDB at {@code p} of {@code in}, whose options {@link #optionsFault} found sound. */
  static PcapngInterface parse(ByteBuffer in, int p, int length) {
    PcapngInterface f = new PcapngInterface();
    f.linkType = in.getShort(p + 8) & 0xffff;
    f.snaplen = in.getInt(p + 12);
    for (int o = p + 16, end = p + length - 4; o < end; ) {
      int code = in.getShort(o) & 0xffff;
      int len = in.getShort(o + 2) & 0xffff;
      int v = o + 4;
      o = v + ((len + 3) & ~3);
      switch (code) {
        case OPT_ENDOFOPT: return f;
        case IF_NAME: f.name = text(in, v, len); break;
        case IF_DESCRIPTION: f.description = text(in, v, len); break;
        case IF_TSRESOL:
          f.binaryResolution = (in.get(v) & 0x80) != 0;
          f.resolution = in.get(v) & 0x7f;
          break;
        case IF_FILTER:
          if (len >= 1 && in.get(v) == 0) f.filter = text(in, v + 1, len - 1);
          break;
        case IF_TSOFFSET: f.offsetSeconds = in.getLong(v); break;
        default: break;
      }
    }
    return f;
  }

  private static String text(ByteBuffer in, int at, int len) {
    byte[] b = new byte[len];
    for (int i = 0; i < len; i++) {
      b[i] = in.get(at + i);
    }
    int n = len;
    while (n > 0 && b[n - 1] == 0) n--; // some writers count a terminating NUL
    return new String(b, 0, n, StandardCharsets.UTF_8);
  }

  /**
   * libpcap's snapshot length of an interface (pcap_adjust_snapshot): 0, values above INT_MAX and
   * values above the link type's largest frame mean the largest for the link type.
   */
  int snapshot() {
    return snapshot(linkType, snaplen);
  }

  static int snapshot(int linkType, int snaplen) {
    return snaplen <= 0 || snaplen > maxSnaplen(linkType) ? maxSnaplen(linkType) : snaplen;
  }

  /** libpcap's process_idb_options: why the options from {@code o} to {@code end} are bad, or null. */
  static String optionsFault(ByteBuffer in, int o, int end) {
    boolean sawResolution = false;
    boolean sawOffset = false;
    while (o < end) {
      if (end - o < 4) {
        return tooShort(IDB);
      }
      int code = in.getShort(o) & 0xffff;
      int len = in.getShort(o + 2) & 0xffff;
      if (end - o - 4 < ((len + 3) & ~3)) {
        return tooShort(IDB);
      }
      int v = o + 4;
      o = v + ((len + 3) & ~3);
      switch (code) {
        case OPT_ENDOFOPT:
          return len == 0 ? null : "Interface Description Block has opt_endofopt option with length " + len + " != 0";
        case IF_TSRESOL:
          if (len != 1) {
            return "Interface Description Block has if_tsresol option with length " + len + " != 1";
          }
          if (sawResolution) {
            return "Interface Description Block has more than one if_tsresol option";
          }
          sawResolution = true;
          int resolution = in.get(v) & 0xff;
          if ((resolution & 0x80) != 0 && (resolution & 0x7f) > 63) {
            return "Interface Description Block if_tsresol option resolution 2^-" + (resolution & 0x7f) + " is too high";
          }
          if ((resolution & 0x80) == 0 && resolution > 19) {
            return "Interface Description Block if_tsresol option resolution 10^-" + resolution + " is too high";
          }
          break;
        case IF_TSOFFSET:
          if (len != 8) {
            return "Interface Description Block has if_tsoffset option with length " + len + " != 8";
          }
          if (sawOffset) {
            return "Interface Description Block has more than one if_tsoffset option";
          }
          sawOffset = true;
          break;
        default:
          break;
      }
    }
    return null;
  }

  private static final BigInteger NS_PER_SECOND = BigInteger.valueOf(1_000_000_000L);
  private static final BigInteger TWO_TO_64 = BigInteger.ONE.shiftLeft(64);

  /**
   * The record's time stamp (an unsigned count of ns since 1970) of a packet's 64-bit {@code
   * stamp}, itself unsigned, in its interface's units and offset; {@link Summary#TS_OUT_OF_RANGE}
   * when the time does not fit.
   */
  long nanoseconds(long stamp) {
    if (offsetSeconds == 0 && !binaryResolution) {
      if (resolution == 9) {
        return stamp; // the common case: no arithmetic
      }
      if (resolution == 6 && stamp >= 0 && stamp <= Long.MAX_VALUE / 1000) {
        return stamp * 1000;
      }
    }
    BigInteger units = new BigInteger(Long.toUnsignedString(stamp));
    BigInteger ns = binaryResolution
        ? units.multiply(NS_PER_SECOND).shiftRight(resolution)
        : resolution <= 9
            ? units.multiply(BigInteger.TEN.pow(9 - resolution))
            : units.divide(BigInteger.TEN.pow(resolution - 9));
    ns = ns.add(BigInteger.valueOf(offsetSeconds).multiply(NS_PER_SECOND));
    return ns.signum() < 0 || ns.compareTo(TWO_TO_64) >= 0 ? Summary.TS_OUT_OF_RANGE : ns.longValue();
  }
}
