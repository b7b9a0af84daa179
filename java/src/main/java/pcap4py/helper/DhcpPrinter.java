package pcap4py.helper;

/** BOOTP/DHCP (UDP 67, 68) as tcpdump prints it: op, client MAC, length; with -v the header's
 *  addresses and the RFC 1048 options it knows (others by their size, as tcpdump). */
final class DhcpPrinter {

  private static final String[] MESSAGES = {
    null, "Discover", "Offer", "Request", "Decline", "ACK", "NACK", "Release", "Inform",
  };

  private final TextPrinter p;
  private final Out out;
  private final Frame f;

  DhcpPrinter(TextPrinter p) {
    this.p = p;
    this.out = p.out;
    this.f = p.f;
  }

  void print(int at, long length) {
    f.proto = "bootp";
    int op = f.u8(at);
    out.ascii("BOOTP/DHCP, ");
    if (op == 1 || op == 2) {
      out.ascii(op == 1 ? "Request" : "Reply");
    } else {
      out.ascii("unknown (0x").hex(op, 2).ch(')');
    }
    int htype = f.u8(at + 1);
    int hlen = f.u8(at + 2);
    if (htype == 1 && hlen == 6 && op == 1) {
      out.ascii(" from ");
      p.mac(at + 28);
    }
    out.ascii(", length ").dec(length);
    if (p.flags.verbose == 0) {
      return;
    }
    int hops = f.u8(at + 3);
    if (hops != 0) {
      out.ascii(", hops ").dec(hops);
    }
    out.ascii(", xid 0x").hex((int) f.u32(at + 4));
    int secs = f.u16(at + 8);
    if (secs != 0) {
      out.ascii(", secs ").dec(secs);
    }
    int flags = f.u16(at + 10);
    out.ascii(", Flags [").ascii((flags & 0x8000) != 0 ? "Broadcast" : "none").ch(']');
    if (p.flags.verbose > 1) {
      out.ascii(" (0x").hex(flags, 4).ch(')');
    }
    address("Client-IP", at + 12);
    address("Your-IP", at + 16);
    address("Server-IP", at + 20);
    address("Gateway-IP", at + 24);
    if (htype == 1 && hlen == 6) {
      out.ascii("\n\t  Client-Ethernet-Address ");
      p.mac(at + 28);
    }
    text("sname", at + 44, 64);
    text("file", at + 108, 128);
    int vend = at + 236;
    if (f.has(vend, 4) && f.u32(vend) == 0x63825363L) {
      out.ascii("\n\t  Vendor-rfc1048 Extensions\n\t    Magic Cookie 0x63825363");
      options(vend + 4);
    }
  }

  private void address(String name, int at) {
    if (f.u32(at) != 0) {
      out.ascii("\n\t  ").ascii(name).ch(' ');
      p.ipv4(at);
    }
  }

  private void text(String name, int at, int n) {
    if (f.u8(at) == 0) {
      return;
    }
    out.ascii("\n\t  ").ascii(name).ascii(" \"");
    for (int i = 0; i < n && f.u8(at + i) != 0; i++) {
      out.printChar(f.u8(at + i));
    }
    out.ch('"');
  }

  private void options(int at) {
    while (at < f.end) {
      int tag = f.u8(at++);
      if (tag == 0 && p.flags.verbose < 3) {
        continue;
      }
      if (tag == 255 && p.flags.verbose < 3) {
        return;
      }
      int len = tag == 0 || tag == 255 ? 0 : f.u8(at++);
      String name = DhcpOptions.name(tag);
      char kind = name == null ? '?' : name.charAt(0);
      out.ascii("\n\t    ").ascii(name == null ? "Unknown" : name.substring(1)).ascii(" (").dec(tag)
          .ascii("), length ").dec(len).ascii(len > 0 ? ": " : "");
      f.need(at, len);
      if (kind == '?') {
        kind = (len & 1) != 0 ? 'b' : (len & 2) != 0 ? 's' : 'l';
      }
      int end = at + len;
      boolean first = true;
      switch (kind) {
        case 'a':
          out.ch('"');
          for (int i = at; i < end; i++) {
            out.printChar(f.u8(i));
          }
          out.ch('"');
          at = end;
          break;
        case 'i':
        case 'l':
          for (; end - at >= 4; at += 4, first = false) {
            out.ascii(first ? "" : ",");
            if (kind == 'i') {
              p.ipv4(at);
            } else {
              out.dec(f.u32(at));
            }
          }
          break;
        case 's':
          for (; end - at >= 2; at += 2, first = false) {
            out.ascii(first ? "" : ",").dec(f.u16(at));
          }
          break;
        case '$':
          at = special(tag, at, end);
          break;
        default:
          for (; at < end; at++, first = false) {
            out.ascii(first ? "" : ".").dec(f.u8(at));
          }
      }
      if (at < end) {
        out.ascii("\n\t  trailing data length ").dec(end - at);
      }
      at = end;
    }
  }

  private int special(int tag, int at, int end) {
    switch (tag) {
      case 53: {
        int type = f.u8(at);
        if (type < MESSAGES.length && MESSAGES[type] != null) {
          out.ascii(MESSAGES[type]);
        } else {
          out.ascii("Unknown (").dec(type).ch(')');
        }
        return at + 1;
      }
      case 55: {
        for (int idx = 0; at < end; idx++, at++) {
          int inner = f.u8(at);
          String name = DhcpOptions.name(inner);
          out.ascii(idx % 4 == 0 ? "\n\t      " : ", ").ascii(name == null ? "Unknown" : name.substring(1))
              .ascii(" (").dec(inner).ch(')');
        }
        return at;
      }
      case 61: {
        int type = f.u8(at++);
        if (type == 0) {
          out.ch('"');
          for (; at < end; at++) {
            out.printChar(f.u8(at));
          }
          out.ch('"');
          return at;
        }
        out.ascii(type == 1 ? "ether" : "hardware-type " + type + ",").ch(' ');
        for (boolean first = true; at < end; at++, first = false) {
          out.ascii(first ? "" : ":").hexByte(f.u8(at), false);
        }
        return at;
      }
      default:
        return end;
    }
  }
}
