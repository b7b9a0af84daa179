package pcap4py.helper;

/** ICMP as tcpdump -n prints it: echo, unreachable (with what the quoted header names), time
 *  exceeded, redirect and the rest by name; with -v a bad checksum and the quoted IP packet. */
final class IcmpPrinter {

  private final TextPrinter p;
  private final Out out;
  private final Frame f;

  IcmpPrinter(TextPrinter p) {
    this.p = p;
    this.out = p.out;
    this.f = p.f;
  }

  void print(int off, long length) {
    f.proto = "icmp";
    out.ascii("ICMP ");
    p.facts.icmpStart = out.pos;
    p.facts.icmpEnd = out.pos;
    int type = f.u8(off);
    int code = f.u8(off + 1);
    boolean quoted = false;
    switch (type) {
      case 0:
      case 8:
        out.ascii(type == 0 ? "echo reply" : "echo request").ascii(", id ").dec(f.u16(off + 4))
            .ascii(", seq ").dec(f.u16(off + 6));
        break;
      case 3:
        unreachable(off, code);
        quoted = true;
        break;
      case 4:
        out.ascii("source quench");
        quoted = true;
        break;
      case 5:
        redirect(off, code);
        quoted = true;
        break;
      case 10:
        out.ascii("router solicitation");
        break;
      case 11:
        out.ascii(code == 0 ? "time exceeded in-transit" : code == 1 ? "ip reassembly time exceeded"
            : "time exceeded-#" + code);
        quoted = true;
        break;
      case 12:
        if (code == 0) {
          out.ascii("parameter problem - octet ").dec(f.u8(off + 4));
        } else {
          out.ascii("parameter problem - code ").dec(code);
        }
        quoted = true;
        break;
      case 13:
        out.ascii("time stamp query id ").dec(f.u16(off + 4)).ascii(" seq ").dec(f.u16(off + 6));
        break;
      case 15:
        out.ascii("information request");
        break;
      case 16:
        out.ascii("information reply");
        break;
      case 17:
        out.ascii("address mask request");
        break;
      case 18:
        out.ascii("address mask is 0x").hex((int) f.u32(off + 8), 8);
        break;
      default:
        out.ascii("type-#").dec(type);
    }
    p.facts.icmpEnd = out.pos;
    out.ascii(", length ").dec(length);
    if (p.flags.verbose > 0 && !p.fragment && f.has(off, (int) length)) {
      int folded = Checksum.fold(Checksum.add(0, f.b, off, (int) length));
      if (folded != 0xffff) {
        int stored = f.u16(off + 2);
        out.ascii(" (wrong icmp cksum ").hex(stored).ascii(" (->")
            .hex(Checksum.shouldBe(stored, folded)).ascii(")!)");
      }
    }
    if (p.flags.verbose > 0 && quoted) {
      out.ascii("\n\t");
      int inner = off + 8;
      int version = f.u8(inner) >> 4;
      int saved = f.end;
      p.ipPrinter.print(inner, f.u16(inner + 2), version == 6 ? 6 : 4);
      f.end = saved;
    }
  }

  private void unreachable(int off, int code) {
    int ip = off + 8;
    int hl = (f.u8(ip) & 0xf) * 4;
    int proto = f.u8(ip + 9);
    switch (code) {
      case 0: net(ip, "net ", " unreachable"); return;
      case 1: net(ip, "host ", " unreachable"); return;
      case 2:
        dst(ip);
        out.ascii(" protocol ").dec(proto).ascii(" unreachable");
        return;
      case 3: {
        int port = f.u16(ip + hl + 2);
        dst(ip);
        if (proto == Protocols.IP_TCP) {
          out.ascii(" tcp port ").dec(port).ascii(" unreachable");
        } else if (proto == Protocols.IP_UDP) {
          out.ascii(" udp port ").dec(port).ascii(" unreachable");
        } else {
          out.ascii(" protocol ").dec(proto).ascii(" port ").dec(port).ascii(" unreachable");
        }
        return;
      }
      case 4: {
        int mtu = f.u16(off + 6);
        dst(ip);
        out.ascii(" unreachable - need to frag");
        if (mtu != 0) {
          out.ascii(" (mtu ").dec(mtu).ch(')');
        }
        return;
      }
      case 5: dst(ip); out.ascii(" unreachable - source route failed"); return;
      case 6: net(ip, "net ", " unreachable - unknown"); return;
      case 7: net(ip, "host ", " unreachable - unknown"); return;
      case 8: dst(ip); out.ascii(" unreachable - source host isolated"); return;
      case 9: net(ip, "net ", " unreachable - admin prohibited"); return;
      case 10: net(ip, "host ", " unreachable - admin prohibited"); return;
      case 11: net(ip, "net ", " unreachable - tos prohibited"); return;
      case 12: net(ip, "host ", " unreachable - tos prohibited"); return;
      case 13: net(ip, "host ", " unreachable - admin prohibited filter"); return;
      case 14: net(ip, "host ", " unreachable - host precedence violation"); return;
      case 15: net(ip, "host ", " unreachable - precedence cutoff"); return;
      default:
        dst(ip);
        out.ascii(" unreachable - #").dec(code);
    }
  }

  private void net(int ip, String before, String after) {
    out.ascii(before);
    dst(ip);
    out.ascii(after);
  }

  private void dst(int ip) {
    p.ipv4(ip + 16);
  }

  private void redirect(int off, int code) {
    int ip = off + 8;
    String[] names = {"redirect ", "redirect ", "redirect-tos ", "redirect-tos "};
    if (code < 4) {
      out.ascii(names[code]);
      dst(ip);
      out.ascii(code % 2 == 0 ? " to net " : " to host ");
    } else {
      out.ascii("redirect-#").dec(code).ch(' ');
      dst(ip);
      out.ascii(" to ");
    }
    p.ipv4(off + 4);
  }
}
