package pcap4py.helper;

/**
 * IPv4 and IPv6 as tcpdump -n prints them: "IP"/"IP6" (not with -e), with -v the header's fields
 * (tos, ttl, id, offset, flags, proto, length, a bad checksum; class, flowlabel, hlim,
 * next-header, payload length), IPv6's hop-by-hop, destination-option and fragment headers, then
 * the payload through {@link TextPrinter#ip}.
 */
final class IpPrinter {

  private final TextPrinter p;
  private final Out out;
  private final Frame f;

  IpPrinter(TextPrinter p) {
    this.p = p;
    this.out = p.out;
    this.f = p.f;
  }

  /** The IP packet at {@code off}, {@code len} bytes on the wire from there. */
  void print(int off, long len, int version) {
    if (version == 6) {
      ipv6(off, len);
    } else {
      ipv4(off, len);
    }
  }

  private void prefix(String name) {
    if (!p.flags.link) {
      out.ascii(name);
    }
  }

  private void ipv4(int off, long wire) {
    f.proto = "ip";
    prefix("IP ");
    int vhl = f.u8(off);
    if (vhl >> 4 != 4) {
      out.ascii((vhl >> 4) == 6 ? "IP6, wrong link-layer encapsulation" : "IP" + (vhl >> 4));
      return;
    }
    f.need(off, 20);
    int hlen = (vhl & 0xf) * 4;
    if (hlen < 20) {
      out.ascii("bad-hlen ").dec(hlen);
      return;
    }
    int total = f.u16(off + 2);
    if (total < hlen) {
      out.ascii("bad-len ").dec(total);
      return;
    }
    if (wire < total) {
      out.ascii("truncated-ip - ").dec(total - wire).ascii(" bytes missing! ");
    }
    f.limit(off + total);
    int frag = f.u16(off + 6);
    int proto = f.u8(off + 9);
    p.ipVersion = 4;
    p.ipOff = off;
    p.ipNext = proto;
    p.fragment = (frag & 0x3fff) != 0;
    if (p.flags.verbose > 0) {
      verbose4(off, hlen, total, frag, proto);
    }
    boolean later = (frag & 0x1fff) != 0;
    long len = total - hlen;
    if (!later) {
      if (proto != Protocols.IP_TCP && proto != Protocols.IP_UDP && proto != Protocols.IP_SCTP) {
        p.addresses(-1, -1);
        out.ascii(": ");
      }
      p.ip(proto, off + hlen, len);
    } else {
      p.addresses(-1, -1);
      out.ascii(": ip-proto-").dec(proto); // a later fragment: only its protocol's number
    }
  }

  private void verbose4(int off, int hlen, int total, int frag, int proto) {
    int tos = f.u8(off + 1);
    out.ascii("(tos 0x").hex(tos >> 2 << 2 == tos ? tos : tos & 0xfc);
    if ((tos & 3) != 0) {
      out.ascii(",").ascii((tos & 3) == 1 ? "ECT(1)" : (tos & 3) == 2 ? "ECT(0)" : "CE");
    }
    out.ascii(", ttl ").dec(f.u8(off + 8)).ascii(", id ").dec(f.u16(off + 4))
        .ascii(", offset ").dec((frag & 0x1fff) * 8).ascii(", flags [");
    if ((frag & 0xe000) == 0) {
      out.ascii("none");
    } else {
      if ((frag & 0x8000) != 0) {
        out.ch('+');
      }
      if ((frag & 0x4000) != 0) {
        out.ascii("DF");
      }
      if ((frag & 0x2000) != 0) {
        out.ch('+');
      }
    }
    out.ascii("], proto ");
    String name = Protocols.ipName(proto);
    out.ascii(name == null ? "unknown" : name).ascii(" (").dec(proto).ascii("), length ").dec(total);
    if (f.has(off, hlen)) {
      int sum = Checksum.fold(Checksum.add(0, f.b, off, hlen));
      if (sum != 0xffff) {
        int stored = f.u16(off + 10);
        out.ascii(", bad cksum ").hex(stored).ascii(" (->")
            .hex(Checksum.shouldBe(stored, sum)).ascii(")!");
      }
    }
    out.ascii(")\n    ");
  }

  private void ipv6(int off, long wire) {
    f.proto = "ip6";
    f.need(off, 40); // tcpdump checks the whole header before it names it
    prefix("IP6 ");
    int first = f.u8(off);
    if (first >> 4 != 6) {
      out.ascii("version error: ").dec(first >> 4).ascii(" != 6");
      return;
    }
    f.need(off, 40);
    int payload = f.u16(off + 4);
    int next = f.u8(off + 6);
    p.ipVersion = 6;
    p.ipOff = off;
    p.ipNext = next;
    if (wire < 40 + payload) {
      out.ascii("truncated-ip6 - ").dec(40 + payload - wire).ascii(" bytes missing!");
    }
    if (payload != 0) {
      f.limit(off + 40 + payload);
    }
    if (p.flags.verbose > 0) {
      long flow = f.u32(off);
      out.ch('(');
      if ((flow & 0x0ff00000) != 0) {
        out.ascii("class 0x").hex((int) ((flow & 0x0ff00000) >> 20), 2).ascii(", ");
      }
      if ((flow & 0xfffff) != 0) {
        out.ascii("flowlabel 0x").hex((int) (flow & 0xfffff), 5).ascii(", ");
      }
      out.ascii("hlim ").dec(f.u8(off + 7)).ascii(", next-header ");
      String name = Protocols.ipName(next);
      out.ascii(name == null ? "unknown" : name).ascii(" (").dec(next).ascii(") payload length: ")
          .dec(payload).ascii(") ");
    }
    int at = off + 40;
    long len = payload;
    boolean first_ = true;
    while (true) {
      if (first_ && next != Protocols.IP_TCP && next != Protocols.IP_UDP && next != Protocols.IP_SCTP) {
        p.addresses(-1, -1);
        out.ascii(": ");
      }
      first_ = false;
      if (next == Protocols.IP_HOPOPTS || next == Protocols.IP_DSTOPTS) {
        f.proto = next == 0 ? "hbhopt" : "dstopt";
        int extLen = (f.u8(at + 1) + 1) * 8;
        out.ascii(next == 0 ? "HBH " : "DSTOPT ");
        if (p.flags.verbose > 0) {
          options6(at + 2, at + extLen);
        }
        next = f.u8(at);
        at += extLen;
        len -= extLen;
      } else if (next == Protocols.IP_FRAGMENT) {
        f.proto = "frag6";
        int offlg = f.u16(at + 2);
        out.ascii("frag (");
        if (p.flags.verbose > 0) {
          out.ascii("0x").hex((int) f.u32(at + 4), 8).ch(':');
        }
        out.dec(offlg & 0xfff8).ch('|').dec(len - 8).ascii(") ");
        p.fragment = true;
        next = f.u8(at);
        at += 8;
        len -= 8;
        if ((offlg & 0xfff8) != 0) {
          return; // a later fragment: nothing more to print
        }
      } else {
        break;
      }
    }
    p.ip(next, at, Math.max(0, len));
  }

  /** -v: the options of a hop-by-hop or destination-options header. */
  private void options6(int at, int end) {
    while (at < end) {
      int type = f.u8(at);
      if (type == 0) {
        out.ascii("(pad1)");
        at++;
        continue;
      }
      int olen = f.u8(at + 1);
      switch (type) {
        case 1:
          out.ascii("(padn)");
          break;
        case 5:
          out.ascii("(rtalert: 0x").hex(f.u16(at + 2), 4).ascii(") ");
          break;
        case 0xc2:
          out.ascii("(jumbo: ").dec(f.u32(at + 2)).ascii(") ");
          break;
        default:
          out.ascii("(type 0x").hex(type, 2).ascii(": len=").dec(olen).ascii(")");
      }
      at += olen + 2;
    }
    out.ch(' ');
  }
}
