package pcap4py.helper;

/**
 * tcpdump -n's text for one packet, with its printing flags: the packet number (-#), the time
 * stamp (-t...), the link layer ({@link LinkPrinter}), the protocols above it (one small printer
 * per protocol family, found through {@link #ether} and {@link #ip}), tcpdump's {@code [|proto]}
 * marker where the capture ends too soon, and the hex and ASCII rows (-x, -X, -A).
 *
 * <p>The printers share this object: the output, the frame, the flags and what the IP layer
 * found (addresses, whether a fragment). Nothing is allocated per packet but the first sight of a
 * TCP connection.
 */
final class TextPrinter {

  final Out out;
  final Frame f = new Frame();
  PrintFlags flags = PrintFlags.DEFAULT;
  final Fields.Clock clock;
  final Fields.Clock dateClock;
  /** What the printers decoded, for JSON (filled on every packet). */
  final Facts facts = new Facts();

  // what the IP layer found, for the printers above it
  int ipVersion;
  int ipOff; // where the (innermost) IP header starts
  int ipNext; // the protocol the IP header names (IPv6: before extension headers)
  boolean fragment; // not the first fragment, or a fragment at all (no checksums)

  final LinkPrinter link;
  final ArpPrinter arp;
  final IpPrinter ipPrinter;
  final TcpPrinter tcp;
  final UdpPrinter udp;
  final IcmpPrinter icmp;
  final Icmp6Printer icmp6;
  private final Dumps dumps;

  private long number;
  private long firstTs = -1;
  private long prevTs = -1;

  TextPrinter(Out out, String zone) {
    this.out = out;
    this.clock = Fields.Clock.local(zone);
    this.dateClock = Fields.Clock.localDate(zone);
    this.dumps = new Dumps(out);
    // the printers keep this printer's output and frame: made once both exist
    this.link = new LinkPrinter(this);
    this.arp = new ArpPrinter(this);
    this.ipPrinter = new IpPrinter(this);
    this.tcp = new TcpPrinter(this);
    this.udp = new UdpPrinter(this);
    this.icmp = new IcmpPrinter(this);
    this.icmp6 = new Icmp6Printer(this);
  }

  /** One packet's lines (no final newline). {@code name}: the interface to name first, or null;
   *  {@code direction}: with a point of view ("in", "out" or null: unknown), printed in tcpdump
   *  -i any's columns; without one (a multi-interface file) the name alone. */
  void packet(long ts, byte[] frame, int caplen, long origlen, int dlt, byte[] name, String direction) {
    packet(ts, frame, caplen, origlen, dlt, name, direction, false);
  }

  void packet(long ts, byte[] frame, int caplen, long origlen, int dlt, byte[] name, String direction,
      boolean viewed) {
    number++;
    if (flags.number) {
      int start = out.pos;
      out.dec(number);
      int digits = out.pos - start;
      out.pos = start;
      out.spaces(Math.max(0, 5 - digits)).dec(number).ascii("  ");
    }
    stamp(ts);
    f.load(frame, caplen, origlen);
    ipVersion = 0;
    fragment = false;
    facts.reset();
    int hdr = 0;
    try {
      if (name != null && viewed) {
        column(name, direction);
      } else if (name != null) {
        out.bytes(name).ch(' ');
      }
      hdr = link.print(dlt);
    } catch (Frame.Truncated | IndexOutOfBoundsException t) {
      // the capture ends too soon (or a hostile length points outside the frame): tcpdump's marker
      out.ascii(" [|").ascii(f.proto).ch(']');
      hdr = Math.max(hdr, link.headerLength);
    }
    dump(hdr);
  }

  /** tcpdump -i any's interface and direction columns. */
  private void column(byte[] name, String direction) {
    out.bytes(name).spaces(Math.max(0, 5 - name.length)).ch(' ');
    String d = "in".equals(direction) ? "In" : "out".equals(direction) ? "Out" : "?";
    out.ascii(d).spaces(3 - d.length()).ch(' ');
  }

  private void stamp(long ts) {
    switch (flags.tstamp) {
      case PrintFlags.TS_NONE:
        return;
      case PrintFlags.TS_EPOCH:
        out.dec(Long.divideUnsigned(ts, 1_000_000_000L)).ch('.')
            .dec(Long.remainderUnsigned(ts, 1_000_000_000L) / 1000, 6);
        break;
      case PrintFlags.TS_DELTA:
        delta(prevTs < 0 ? 0 : ts - prevTs);
        break;
      case PrintFlags.TS_DATE:
        dateClock.append(out, ts);
        break;
      case PrintFlags.TS_SINCE_FIRST:
        if (firstTs < 0) {
          firstTs = ts;
        }
        delta(ts - firstTs);
        break;
      default:
        clock.append(out, ts);
    }
    prevTs = ts;
    out.ch(' ');
  }

  /** tcpdump's -ttt and -ttttt: " HH:MM:SS.uuuuuu" of a difference. */
  private void delta(long ns) {
    if (ns < 0) {
      out.ch('-');
      ns = -ns;
    } else {
      out.ch(' ');
    }
    long us = ns / 1000;
    long s = us / 1_000_000;
    out.dec(s / 3600, 2).ch(':').dec(s / 60 % 60, 2).ch(':').dec(s % 60, 2).ch('.').dec(us % 1_000_000, 6);
  }

  private void dump(int hdr) {
    int d = flags.dump;
    if (d == PrintFlags.HEX_NONE) {
      return;
    }
    // -xx, -XX, -AA include the link header; -x, -X, -A start after it
    boolean link = d == PrintFlags.HEX_LINK || d == PrintFlags.HEX_ASCII_LINK || d == PrintFlags.ASCII_LINK;
    int from = link ? 0 : Math.min(hdr, f.caplen);
    if (d == PrintFlags.HEX || d == PrintFlags.HEX_LINK) {
      dumps.hex(f.b, from, f.caplen);
    } else if (d == PrintFlags.HEX_ASCII || d == PrintFlags.HEX_ASCII_LINK) {
      dumps.hexAscii(f.b, from, f.caplen);
    } else {
      dumps.ascii(f.b, from, f.caplen);
    }
  }

  /** The rows tcpdump prints for a payload no printer knows (unless a dump flag prints them all). */
  void unknownPayload(int from) {
    if (flags.dump == PrintFlags.HEX_NONE && from < f.caplen) {
      dumps.hexAscii(f.b, from, f.caplen);
    }
  }

  /** What an ethertype carries, from {@code off} ({@code len} bytes on the wire); false: unknown. */
  boolean ether(int type, int off, long len) {
    switch (type) {
      case Protocols.ETHERTYPE_IPV4:
      case Protocols.ETHERTYPE_IPV6:
        ipPrinter.print(off, len, type == Protocols.ETHERTYPE_IPV6 ? 6 : 4);
        return true;
      case Protocols.ETHERTYPE_ARP:
      case Protocols.ETHERTYPE_RARP:
        arp.print(off, len, type == Protocols.ETHERTYPE_RARP);
        return true;
      default:
        return false;
    }
  }

  /** An IP payload of protocol {@code proto} at {@code off}, {@code len} bytes per the IP header. */
  void ip(int proto, int off, long len) {
    switch (proto) {
      case Protocols.IP_TCP:
        tcp.print(off, len);
        break;
      case Protocols.IP_UDP:
        udp.print(off, len);
        break;
      case Protocols.IP_ICMP:
        icmp.print(off, len);
        break;
      case Protocols.IP_ICMPV6:
        icmp6.print(off, len);
        break;
      case Protocols.IP_IPIP:
        ipPrinter.print(off, len, 4);
        break;
      case Protocols.IP_IPV6:
        ipPrinter.print(off, len, 6);
        break;
      default:
        // no printer here: what tcpdump prints for a protocol it has none for
        out.ascii(" ip-proto-").dec(proto).ch(' ').dec(len);
    }
  }

  /** A source address then a destination, as the IP layer found them (with ports when port >= 0). */
  void addresses(int sport, int dport) {
    address(true);
    if (sport >= 0) {
      out.ch('.').dec(sport);
    }
    out.ascii(" > ");
    address(false);
    if (dport >= 0) {
      out.ch('.').dec(dport);
    }
  }

  /** A transport's endpoints: with the addresses when the IP header names the transport
   *  itself, only the ports after IPv6 extension headers (as tcpdump). */
  void endpoints(int proto, int sport, int dport) {
    if (ipNext == proto) {
      addresses(sport, dport);
    } else {
      out.dec(sport).ascii(" > ").dec(dport);
    }
  }

  void address(boolean source) {
    if (ipVersion == 6) {
      ipv6(ipOff + (source ? 8 : 24));
    } else {
      ipv4(ipOff + (source ? 12 : 16));
    }
  }

  void ipv4(int at) {
    f.need(at, 4);
    Fields.ipv4(out, f.b, at);
  }

  private final byte[] addr6 = new byte[16];

  void ipv6(int at) {
    f.need(at, 16);
    System.arraycopy(f.b, at, addr6, 0, 16);
    Fields.ipv6(out, addr6);
  }

  void mac(int at) {
    f.need(at, 6);
    Fields.mac(out, f.b, at);
  }
}
