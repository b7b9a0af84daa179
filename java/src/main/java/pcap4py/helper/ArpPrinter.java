package pcap4py.helper;

/** ARP and RARP as tcpdump -n prints them (Ethernet/IPv4 addresses; others by their sizes). */
final class ArpPrinter {

  private final TextPrinter p;
  private final Out out;
  private final Frame f;

  ArpPrinter(TextPrinter p) {
    this.p = p;
    this.out = p.out;
    this.f = p.f;
  }

  void print(int off, long len, boolean rarp) {
    f.proto = "arp";
    int hrd = f.u16(off);
    int pro = f.u16(off + 2);
    int hln = f.u8(off + 4);
    int pln = f.u8(off + 5);
    int op = f.u16(off + 6);
    int sha = off + 8;
    int spa = sha + hln;
    int tha = spa + pln;
    int tpa = tha + hln;
    if (!f.has(tpa, pln)) {
      out.ascii("[|ARP]");
      p.unknownPayload(off);
      return;
    }
    if (!p.flags.link) {
      out.ascii(rarp ? "RARP, " : "ARP, ");
    }
    boolean v = p.flags.verbose > 0;
    if ((pro != Protocols.ETHERTYPE_IPV4 && pro != 0x1000) || pln != 4 || hln == 0 || v) {
      out.ascii(hrd == 1 ? "Ethernet" : hrd == 6 ? "IEEE 802" : "Unknown Hardware (" + hrd + ")")
          .ascii(" (len ").dec(hln).ascii("), ");
      String name = Protocols.etherName(pro);
      if (name == null) {
        out.ascii("Unknown Protocol (0x").hex(pro, 4).ch(')');
      } else {
        out.ascii(name);
      }
      out.ascii(" (len ").dec(pln).ch(')');
      if (!v) {
        out.ascii(", length ").dec(len);
        return;
      }
      out.ascii(", ");
    }
    switch (op) {
      case 1:
        out.ascii("Request who-has ");
        protoAddress(tpa, pro, pln);
        if (nonzero(tha, hln)) {
          out.ascii(" (");
          linkAddress(tha, hln);
          out.ch(')');
        }
        out.ascii(" tell ");
        protoAddress(spa, pro, pln);
        break;
      case 2:
        out.ascii("Reply ");
        protoAddress(spa, pro, pln);
        out.ascii(" is-at ");
        linkAddress(sha, hln);
        break;
      case 3:
        out.ascii("Reverse Request who-is ");
        linkAddress(tha, hln);
        out.ascii(" tell ");
        linkAddress(sha, hln);
        break;
      case 4:
        out.ascii("Reverse Reply ");
        linkAddress(tha, hln);
        out.ascii(" at ");
        protoAddress(tpa, pro, pln);
        break;
      default:
        out.ascii("Unknown (").dec(op).ascii(") ");
        p.unknownPayload(off);
        return;
    }
    out.ascii(", length ").dec(len);
  }

  private void protoAddress(int at, int pro, int pln) {
    if (pro != Protocols.ETHERTYPE_IPV4 && pro != 0x1000) {
      out.ascii("<wrong proto type>");
    } else if (pln != 4) {
      out.ascii("<wrong len>");
    } else {
      p.ipv4(at);
    }
  }

  private void linkAddress(int at, int n) {
    if (n == 6) {
      p.mac(at);
      return;
    }
    for (int i = 0; i < n; i++) {
      if (i > 0) {
        out.ch(':');
      }
      out.hexByte(f.u8(at + i), false);
    }
  }

  private boolean nonzero(int at, int n) {
    for (int i = 0; i < n; i++) {
      if (f.u8(at + i) != 0) {
        return true;
      }
    }
    return false;
  }
}
