package pcap4py.helper;

/**
 * The decoded facts of the JSON record (after {@code payload}): {@code tcp_window}, {@code
 * tcp_options} (tcpdump's words, one string per option), {@code icmp} (tcpdump's description of
 * an ICMP or ICMPv6 message) and {@code dns} ({@code id}, {@code response}, {@code rcode},
 * {@code questions} and {@code answers} as tcpdump abbreviates them); null where absent. They come
 * from the text printers run once more over the packet into a scratch buffer: the same words as
 * the text lines.
 */
final class JsonFacts {

  private static final String[] RCODES = {
    "NoError", "FormErr", "ServFail", "NXDomain", "NotImp", "Refused", "YXDomain", "YXRRSet",
    "NXRRSet", "NotAuth", "NotZone", "Resp11", "Resp12", "Resp13", "Resp14", "NoChange",
  };

  /** The printers' flags for facts: no time stamp, absolute sequence numbers (no state). */
  static final PrintFlags FLAGS = new PrintFlags(0, false, false, true, PrintFlags.TS_NONE, 0, false);

  private final TextPrinter printer;
  private final Out scratch;

  JsonFacts(String zone) {
    this.scratch = new Out(Room.FIRST); // grown per frame to its worst case (see decode)
    this.printer = new TextPrinter(scratch, zone);
    printer.flags = FLAGS;
  }

  /** Prints the packet into the scratch buffer (its facts are then in the printer's Facts). */
  void decode(Fields f) {
    scratch.pos = 0;
    if (!mayHaveFacts(f) || f.caplen > Summary.MAX_FRAME) { // a frame above 256 KiB is never IP: no facts
      printer.facts.reset(); // ARP, other UDP, ...: nothing to print for (JSON's hot path)
      return;
    }
    int worst = f.caplen * 5 + 4096; // the printers' worst case for a frame of this size
    if (scratch.buf.length < worst) {
      scratch.buf = new byte[Room.grown(scratch.buf.length, worst, Summary.MAX_FRAME * 5 + 4096)];
    }
    printer.packet(f.ts, f.frame, f.caplen, f.origlen, f.dlt, null, null);
  }

  /** TCP, ICMP, ICMPv6 and DNS (by its ports, over UDP; over TCP within TCP) have facts. */
  private static boolean mayHaveFacts(Fields f) {
    switch (f.proto) {
      case Protocols.IP_TCP:
      case Protocols.IP_ICMP:
      case Protocols.IP_ICMPV6:
        return true;
      case Protocols.IP_UDP:
        return f.sport == 53 || f.dport == 53 || f.sport == 5353 || f.dport == 5353;
      default:
        return false;
    }
  }

  /** Appends the four keys, each with its leading ", ". */
  void write(Out o) {
    Facts x = printer.facts;
    o.ascii(", \"tcp_window\": ");
    if (x.tcpWindow < 0) {
      o.ascii("null");
    } else {
      o.dec(x.tcpWindow);
    }
    o.ascii(", \"tcp_options\": ");
    if (x.optionsStart < 0) {
      o.ascii("null");
    } else {
      o.ch('[');
      int from = x.optionsStart;
      boolean first = true;
      for (int i = x.optionsStart; i <= x.optionsEnd; i++) {
        if (i == x.optionsEnd || scratch.buf[i] == ',') {
          if (i > from || !first) {
            o.ascii(first ? "" : ", ");
            string(o, from, i);
            first = false;
          }
          from = i + 1;
        }
      }
      o.ch(']');
    }
    o.ascii(", \"icmp\": ");
    if (x.icmpStart < 0) {
      o.ascii("null");
    } else {
      string(o, x.icmpStart, x.icmpEnd);
    }
    o.ascii(", \"dns\": ");
    if (x.dnsId < 0) {
      o.ascii("null");
      return;
    }
    o.ascii("{\"id\": ").dec(x.dnsId).ascii(", \"response\": ").ascii(x.dnsResponse ? "true" : "false");
    o.ascii(", \"rcode\": ");
    if (x.dnsResponse) {
      o.ch('"').ascii(RCODES[x.dnsRcode]).ch('"');
    } else {
      o.ascii("null");
    }
    o.ascii(", \"questions\": [");
    for (int i = 0; i < x.questions; i++) {
      o.ascii(i == 0 ? "" : ", ");
      string(o, x.questionStart[i], x.questionEnd[i]);
    }
    o.ascii("], \"answers\": [");
    for (int i = 0; i < x.answers; i++) {
      o.ascii(i == 0 ? "" : ", ");
      string(o, x.answerStart[i], x.answerEnd[i]);
    }
    o.ascii("]}");
  }

  /** scratch[from, to) as a JSON string (the printers write ASCII; quotes and backslashes escaped). */
  private void string(Out o, int from, int to) {
    o.ch('"');
    for (int i = from; i < to; i++) {
      int c = scratch.buf[i] & 0xff;
      if (c == '"' || c == '\\') {
        o.ch('\\').ch((char) c);
      } else if (c < 0x20 || c >= 0x7f) {
        o.ascii("\\u00").hexByte(c, false);
      } else {
        o.ch((char) c);
      }
    }
    o.ch('"');
  }
}
