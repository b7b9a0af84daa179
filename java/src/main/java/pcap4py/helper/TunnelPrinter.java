package pcap4py.helper;

/** VXLAN (UDP 4789) and GENEVE (UDP 6081) as tcpdump prints them: the header, then the inner
 *  frame through the same printers (a new line after VXLAN's header, as tcpdump). */
final class TunnelPrinter {

  private static final int ETHERTYPE_TEB = 0x6558;

  private final TextPrinter p;
  private final Out out;
  private final Frame f;

  TunnelPrinter(TextPrinter p) {
    this.p = p;
    this.out = p.out;
    this.f = p.f;
  }

  void vxlan(int at, long len) {
    f.proto = "vxlan";
    f.need(at, 8);
    int flags = f.u8(at);
    out.ascii("VXLAN, flags [").ch((flags & 0x08) != 0 ? 'I' : '.').ascii("] (0x").hex(flags, 2)
        .ascii("), vni ").dec((f.u32(at + 4) >> 8) & 0xffffff).ch('\n');
    p.link.ethernet(at + 8, len - 8, false);
  }

  void geneve(int at, long len) {
    f.proto = "geneve";
    int verOpt = f.u8(at);
    if (verOpt >> 6 != 0) {
      out.ascii(" ERROR: unknown-version ").dec(verOpt >> 6);
      return;
    }
    int flags = f.u8(at + 1);
    int proto = f.u16(at + 2);
    long vniWord = f.u32(at + 4);
    out.ascii("Geneve, Flags [");
    if ((flags & 0xc0) == 0) {
      out.ascii("none");
    } else {
      if ((flags & 0x80) != 0) {
        out.ch('O');
      }
      if ((flags & 0x40) != 0) {
        out.ch('C');
      }
    }
    out.ascii("], vni 0x").hex((int) (vniWord >> 8));
    if ((vniWord & 0xff) != 0) {
      out.ascii(", rsvd 0x").hex((int) (vniWord & 0xff));
    }
    if (p.flags.link) {
      String name = Protocols.etherName(proto);
      out.ascii(", proto ").ascii(proto == ETHERTYPE_TEB ? "TEB" : name == null ? "unknown" : name)
          .ascii(" (0x").hex(proto, 4).ch(')');
    }
    int opts = (verOpt & 0x3f) * 4;
    if (len - 8 < opts) {
      out.ascii(" truncated-geneve - ").dec(opts - (len - 8)).ascii(" bytes missing");
      return;
    }
    f.need(at + 8, opts);
    if (opts > 0) {
      out.ascii(", options [");
      if (p.flags.verbose > 0) {
        options(at + 8, opts);
      } else {
        out.dec(opts).ascii(" bytes");
      }
      out.ch(']');
    }
    out.ascii(p.flags.verbose > 0 ? "\n\t" : ": ");
    int inner = at + 8 + opts;
    long innerLen = len - 8 - opts;
    if (!p.ether(proto, inner, innerLen)) {
      if (proto == ETHERTYPE_TEB) {
        p.link.ethernet(inner, innerLen, false);
      } else {
        out.ascii("geneve-proto-0x").hex(proto);
      }
    }
  }

  private void options(int at, int n) {
    int end = at + n;
    boolean first = true;
    while (at < end) {
      int cls = f.u16(at);
      int type = f.u8(at + 2);
      int olen = 4 + (f.u8(at + 3) & 0x1f) * 4;
      out.ascii(first ? "" : ", ").ascii("class ")
          .ascii(cls == 0x0102 ? "Open Virtual Networking (OVN)" : cls == 0x0100 ? "Linux" : "Unknown")
          .ascii(" (0x").hex(cls).ascii(") type 0x").hex(type).ascii(" len ").dec(olen);
      if (p.flags.verbose > 1 && olen > 4) {
        out.ascii(" data ");
        for (int i = at + 4; i < at + olen; i += 4) {
          out.hex((int) f.u32(i), 8);
        }
      }
      first = false;
      at += olen;
    }
  }
}
