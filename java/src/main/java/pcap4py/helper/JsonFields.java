package pcap4py.helper;

import java.nio.charset.StandardCharsets;

/**
 * The JSON record of one packet: the single definition of its fields, used by the CLI's
 * {@code --format json/jsonl} (through {@link LineFormatter}) and by Python's {@code
 * Packet.to_dict()} (which parses {@link #render}'s output), so the two cannot drift apart.
 *
 * <p>Keys, in order: timestamp (ISO 8601 UTC, microseconds), ts_ns, interface, direction, length,
 * caplen, eth_src, eth_dst, protocol, src, src_port, dst, dst_port, tcp_flags, seqnum, acknum,
 * icmp_type, icmp_code, payload (hex), tcp_window, tcp_options, icmp, dns (see {@link JsonFacts}),
 * and ts_out_of_range (true) only for a time no unsigned
 * 64-bit count of ns holds (then timestamp is null). Fields a packet does not have are null. The spacing is
 * Python's {@code json.dumps} default ({@code ", "} and {@code ": "}).
 */
public final class JsonFields {

  /** The JSON object of one packet, given its 80-byte record (see {@link Summary}) and frame. */
  public static String render(byte[] record, byte[] frame, String iface, int dlt, String direction) {
    Fields f = new Fields();
    f.load(record);
    f.frame = frame;
    f.dlt = dlt;
    f.direction = direction;
    byte[] name = quoted(iface);
    Out o = new Out(maxBytes(f.caplen, name.length));
    JsonFacts facts = new JsonFacts("UTC");
    facts.decode(f);
    write(o, f, name, Fields.Clock.utc(), facts);
    return new String(o.buf, 0, o.pos, StandardCharsets.UTF_8);
  }

  /** An upper bound of what {@link #write} appends for a frame of {@code caplen} bytes. */
  static int maxBytes(int caplen, int nameBytes) {
    return 8 * caplen + nameBytes + 4096; // the facts repeat what the text line says of the frame
  }

  /** Appends the JSON object (no newline); {@code iface} is the interface's JSON string, quotes included. */
  static void write(Out o, Fields f, byte[] iface, Fields.Clock utc, JsonFacts facts) {
    boolean outOfRange = f.ts == Summary.TS_OUT_OF_RANGE;
    if (outOfRange) {
      o.ascii("{\"timestamp\": null");
    } else {
      o.ascii("{\"timestamp\": \"");
      utc.append(o, f.ts);
      o.ascii("Z\"");
    }
    o.ascii(", \"ts_ns\": ").ascii(Long.toUnsignedString(f.ts));
    o.ascii(", \"interface\": ").bytes(iface);
    o.ascii(", \"direction\": ");
    if (f.direction == null) {
      o.ascii("null");
    } else {
      o.ch('"').ascii(f.direction).ch('"');
    }
    o.ascii(", \"length\": ").dec(f.origlen);
    o.ascii(", \"caplen\": ").dec(f.caplen);
    boolean eth = f.hasEthernet();
    o.ascii(", \"eth_src\": ");
    mac(o, f, eth, 6);
    o.ascii(", \"eth_dst\": ");
    mac(o, f, eth, 0);
    o.ascii(", \"protocol\": ");
    String proto = f.protoName();
    if (proto == null) {
      o.ascii("null");
    } else {
      o.ch('"').ascii(proto).ch('"');
    }
    o.ascii(", \"src\": ");
    address(o, f, f.src);
    o.ascii(", \"src_port\": ");
    number(o, f.hasPorts(), f.sport);
    o.ascii(", \"dst\": ");
    address(o, f, f.dst);
    o.ascii(", \"dst_port\": ");
    number(o, f.hasPorts(), f.dport);
    boolean tcp = f.proto == Protocols.IP_TCP;
    o.ascii(", \"tcp_flags\": ");
    if (tcp) {
      o.ch('"');
      f.tcpFlagString(o);
      o.ch('"');
    } else {
      o.ascii("null");
    }
    o.ascii(", \"seqnum\": ");
    number(o, tcp, f.seq);
    o.ascii(", \"acknum\": ");
    number(o, tcp, f.ack);
    o.ascii(", \"icmp_type\": ");
    number(o, f.isIcmp(), f.icmpType);
    o.ascii(", \"icmp_code\": ");
    number(o, f.isIcmp(), f.icmpCode);
    o.ascii(", \"payload\": \"");
    o.hexBytes(f.frame, f.payloadStart(), f.payloadEnd());
    o.ch('"');
    facts.write(o);
    if (outOfRange) {
      o.ascii(", \"ts_out_of_range\": true");
    }
    o.ch('}');
  }

  private static void mac(Out o, Fields f, boolean eth, int at) {
    if (!eth) {
      o.ascii("null");
      return;
    }
    o.ch('"');
    Fields.mac(o, f.frame, at);
    o.ch('"');
  }

  private static void address(Out o, Fields f, byte[] a) {
    if (!f.hasAddress(a)) {
      o.ascii("null");
      return;
    }
    o.ch('"');
    f.address(o, a);
    o.ch('"');
  }

  private static void number(Out o, boolean present, long v) {
    if (present) {
      o.dec(v);
    } else {
      o.ascii("null");
    }
  }

  /**
   * {@code s} as a JSON string (UTF-8, quotes and control characters escaped): C0 as JSON
   * requires, and DEL and C1 too (JSON allows them raw, a terminal acts on them), as Python's
   * {@code json.dumps} does; an interface name may hold any of them.
   */
  static byte[] quoted(String s) {
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return Fields.utf8(b.append('"').toString());
  }

  private JsonFields() {}
}
