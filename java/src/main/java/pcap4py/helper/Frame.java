package pcap4py.helper;

/**
 * The bytes a printer reads, with tcpdump's bounds: every read past {@link #end} (the captured
 * length, or less where a header says its payload ends sooner) throws {@link #TRUNCATED}, which
 * the line printer turns into tcpdump's {@code [|proto]} marker. No allocation per packet.
 */
final class Frame {

  /** Thrown by every read past the end; preallocated, without a stack trace (it is control flow). */
  static final class Truncated extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Truncated() {
      super(null, null, false, false);
    }
  }

  static final Truncated TRUNCATED = new Truncated();

  byte[] b;
  int caplen;
  long origlen;
  int end;
  /** The layer being printed, named as tcpdump names it in {@code [|name]}. */
  String proto = "";

  void load(byte[] bytes, int caplen, long origlen) {
    this.b = bytes;
    this.caplen = caplen;
    this.origlen = origlen;
    this.end = caplen;
    this.proto = "";
  }

  /** Narrows the readable bytes to {@code [.., limit)} (an IP packet shorter than its frame). */
  void limit(int limit) {
    if (limit >= 0 && limit < end) {
      end = limit;
    }
  }

  boolean has(int at, int n) {
    return at >= 0 && n >= 0 && at + n <= end;
  }

  void need(int at, int n) {
    if (!has(at, n)) {
      throw TRUNCATED;
    }
  }

  int u8(int at) {
    if (at < 0 || at >= end) {
      throw TRUNCATED;
    }
    return b[at] & 0xff;
  }

  int u16(int at) {
    need(at, 2);
    return ((b[at] & 0xff) << 8) | (b[at + 1] & 0xff);
  }

  long u32(int at) {
    need(at, 4);
    return ((long) (b[at] & 0xff) << 24) | ((b[at + 1] & 0xff) << 16) | ((b[at + 2] & 0xff) << 8)
        | (b[at + 3] & 0xff);
  }
}
