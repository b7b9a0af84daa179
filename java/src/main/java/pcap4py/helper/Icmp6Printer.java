package pcap4py.helper;

/**
 * ICMPv6 as tcpdump -n prints it: echo, unreachable, too big, neighbour and router discovery with
 * their targets (with -v their flags and link-address options), MLDv1/v2 (with -v the group
 * records), and with -v the checksum verdict.
 */
final class Icmp6Printer {

  private static final String[] UNREACH = {
    "unreachable route", "unreachable prohibited", "beyond scope", "unreachable address",
    "unreachable port",
  };
  private static final String[] MLD2_RECORDS = {null, "is_in", "is_ex", "to_in", "to_ex", "allow", "block"};

  private final TextPrinter p;
  private final Out out;
  private final Frame f;
  private final Dumps dumps;

  Icmp6Printer(TextPrinter p) {
    this.p = p;
    this.out = p.out;
    this.f = p.f;
    this.dumps = new Dumps(p.out);
  }

  void print(int off, long length) {
    f.proto = "icmp6";
    boolean v = p.flags.verbose > 0;
    int type = f.u8(off);
    int code = f.u8(off + 1);
    if (v && !p.fragment) {
      checksum(off, length);
    }
    String name = name(type);
    out.ascii("ICMP6, ");
    p.facts.icmpStart = out.pos;
    p.facts.icmpEnd = out.pos;
    if (name == null) {
      out.ascii("unknown icmp6 type (").dec(type).ch(')');
    } else {
      out.ascii(name);
    }
    boolean nd = type >= 133 && type <= 137;
    if (v && nd) {
      out.ascii(", length ").dec(length);
    }
    switch (type) {
      case 1:
        out.ascii(", ").ascii(code < UNREACH.length ? UNREACH[code] : "unknown unreach code (" + code + ")");
        if (code == 4) {
          port(off + 8);
        } else if (code == 2) {
          out.ch(' ');
          p.ipv6(off + 8 + 24);
          out.ascii(", source address ");
          p.ipv6(off + 8 + 8);
        } else if (code < UNREACH.length) {
          out.ch(' ');
          p.ipv6(off + 8 + 24);
        }
        break;
      case 2:
        out.ascii(", mtu ").dec(f.u32(off + 4));
        break;
      case 3:
        if (code == 0) {
          out.ascii(" for ");
          p.ipv6(off + 8 + 24);
        } else if (code == 1) {
          out.ascii(" (reassembly)");
        } else {
          out.ascii(", unknown code (").dec(code).ch(')');
        }
        break;
      case 128:
      case 129:
        out.ascii(", id ").dec(f.u16(off + 4)).ascii(", seq ").dec(f.u16(off + 6));
        break;
      case 130:
        if (length == 24) {
          mld1(off);
        } else if (length >= 28) {
          out.ascii(" v2");
          query2(off, length);
        } else {
          out.ascii(" unknown-version (len ").dec(length).ascii(") ");
        }
        break;
      case 131:
      case 132:
        mld1(off);
        break;
      case 133:
        if (v) {
          options(off + 8, off + length);
        }
        break;
      case 134:
        if (v) {
          options(off + 16, off + length);
        }
        break;
      case 135:
        f.need(off + 8, 16);
        out.ascii(", who has ");
        p.ipv6(off + 8);
        if (v) {
          options(off + 24, off + length);
        }
        break;
      case 136:
        f.need(off + 8, 16);
        out.ascii(", tgt is ");
        p.ipv6(off + 8);
        if (v) {
          long fl = f.u32(off + 4);
          out.ascii(", Flags [");
          boolean any = false;
          String[] names = {"router", "solicited", "override"};
          for (int i = 0; i < 3; i++) {
            if ((fl & (0x80000000L >>> i)) != 0) {
              out.ascii(any ? ", " : "").ascii(names[i]);
              any = true;
            }
          }
          out.ascii(any ? "]" : "none]");
          options(off + 24, off + length);
        }
        break;
      case 137:
        out.ascii(", ");
        p.ipv6(off + 8);
        out.ascii(" to ");
        p.ipv6(off + 24);
        if (v) {
          options(off + 40, off + length);
        }
        break;
      case 143:
        report2(off, length);
        break;
      default:
        if (name == null || type == 4) {
          out.ascii(", length ").dec(length);
          if (p.flags.verbose <= 1) {
            dumps.hex(f.b, off, (int) Math.min(off + length, f.end));
          }
          return;
        }
    }
    p.facts.icmpEnd = out.pos;
    if (!v) {
      out.ascii(", length ").dec(length);
    }
  }

  private void checksum(int off, long length) {
    if (!f.has(off, (int) length)) {
      return;
    }
    long sum = Checksum.pseudo(f.b, p.ipOff, 6, Protocols.IP_ICMPV6, length);
    int folded = Checksum.fold(Checksum.add(sum, f.b, off, (int) length));
    if (folded != 0xffff) {
      int stored = f.u16(off + 2);
      out.ascii("[bad icmp6 cksum 0x").hex(stored, 4).ascii(" -> 0x")
          .hex(Checksum.shouldBe(stored, folded), 4).ascii("!] ");
    } else {
      out.ascii("[icmp6 sum ok] ");
    }
  }

  private void port(int inner) {
    // the quoted IPv6 header, then the transport (extension headers skipped)
    int next = f.u8(inner + 6);
    int at = inner + 40;
    while (next == 0 || next == 60 || next == 43) {
      int n = (f.u8(at + 1) + 1) * 8;
      next = f.u8(at);
      at += n;
    }
    int dport = f.u16(at + 2);
    out.ascii(", ");
    p.ipv6(inner + 24);
    if (next == Protocols.IP_TCP) {
      out.ascii(" tcp port ").dec(dport);
    } else if (next == Protocols.IP_UDP) {
      out.ascii(" udp port ").dec(dport);
    } else {
      out.ascii(" protocol ").dec(next).ascii(" port ").dec(dport).ascii(" unreachable");
    }
  }

  private void mld1(int off) {
    out.ascii(" max resp delay: ").dec(f.u16(off + 4)).ascii(" addr: ");
    p.ipv6(off + 8);
  }

  private void query2(int off, long len) {
    int mrc = f.u16(off + 4);
    long mrd = mrc < 32768 ? mrc : ((long) ((mrc & 0x0fff) | 0x1000)) << (((mrc & 0x7000) >> 12) + 3);
    if (p.flags.verbose > 0) {
      out.ascii(" [max resp delay=").dec(mrd).ch(']');
    }
    out.ascii(" [gaddr ");
    p.ipv6(off + 8);
    int nsrcs = f.u16(off + 26);
    if (nsrcs > 0) {
      if (len < 28 + nsrcs * 16L) {
        out.ascii(" [invalid number of sources]");
      } else if (p.flags.verbose > 1) {
        out.ascii(" {");
        for (int j = 0; j < nsrcs; j++) {
          out.ch(' ');
          p.ipv6(off + 28 + 16 * j);
        }
        out.ascii(" }");
      } else {
        out.ascii(", ").dec(nsrcs).ascii(" source(s)");
      }
    }
    out.ch(']');
  }

  private void report2(int off, long len) {
    if (len < 8) {
      out.ascii(" [invalid len ").dec(len).ch(']');
      return;
    }
    int groups = f.u16(off + 6);
    out.ascii(", ").dec(groups).ascii(" group record(s)");
    if (p.flags.verbose == 0) {
      return;
    }
    long group = 8;
    for (int i = 0; i < groups; i++) {
      if (len < group + 20) {
        out.ascii(" [invalid number of groups]");
        return;
      }
      int g = (int) (off + group);
      out.ascii(" [gaddr ");
      p.ipv6(g + 4);
      int rt = f.u8(g);
      out.ch(' ');
      if (rt > 0 && rt < MLD2_RECORDS.length) {
        out.ascii(MLD2_RECORDS[rt]);
      } else {
        out.ascii(" [v2-report-#").dec(rt).ch(']');
      }
      int nsrcs = f.u16(g + 2);
      if (len < group + 20 + nsrcs * 16L) {
        out.ascii(" [invalid number of sources ").dec(nsrcs).ch(']');
        return;
      }
      if (p.flags.verbose == 1) {
        out.ascii(", ").dec(nsrcs).ascii(" source(s)");
      } else {
        out.ascii(" {");
        for (int j = 0; j < nsrcs; j++) {
          out.ch(' ');
          p.ipv6(g + 20 + 16 * j);
        }
        out.ascii(" }");
      }
      group += 20 + nsrcs * 16L;
      out.ch(']');
    }
  }

  /** -v: neighbour discovery options, one "\n\t  NAME option (T), length L (N): VALUE" each. */
  private void options(int at, long end) {
    int stop = (int) Math.min(end, f.end);
    while (at < stop) {
      int type = f.u8(at);
      int n = f.u8(at + 1);
      if (n == 0) {
        return; // tcpdump stops at a zero length
      }
      out.ascii("\n\t  ").ascii(optionName(type)).ascii(" option (").dec(type).ascii("), length ")
          .dec(n * 8).ascii(" (").dec(n).ascii("): ");
      switch (type) {
        case 1:
        case 2:
          for (int i = 0; i < n * 8 - 2; i++) {
            if (i > 0) {
              out.ch(':');
            }
            out.hexByte(f.u8(at + 2 + i), false);
          }
          break;
        case 5:
          out.dec(f.u32(at + 4));
          break;
        default:
          dumps.hex(f.b, at + 2, Math.min(at + n * 8, f.end));
      }
      if (p.flags.verbose > 1) {
        dumps.hex("\n\t    ", f.b, at + 2, Math.min(at + n * 8, f.end));
      }
      at += n * 8;
    }
  }

  private static String optionName(int type) {
    switch (type) {
      case 1: return "source link-address";
      case 2: return "destination link-address";
      case 3: return "prefix info";
      case 4: return "redirected header";
      case 5: return "mtu";
      case 7: return "advertisement interval";
      case 8: return "homeagent information";
      case 24: return "route info";
      case 25: return "rdnss";
      case 31: return "dnssl";
      default: return "unknown";
    }
  }

  private static String name(int type) {
    switch (type) {
      case 1: return "destination unreachable";
      case 2: return "packet too big";
      case 3: return "time exceeded";
      case 4: return "parameter problem";
      case 128: return "echo request";
      case 129: return "echo reply";
      case 130: return "multicast listener query";
      case 131: return "multicast listener report";
      case 132: return "multicast listener done";
      case 133: return "router solicitation";
      case 134: return "router advertisement";
      case 135: return "neighbor solicitation";
      case 136: return "neighbor advertisement";
      case 137: return "redirect";
      case 138: return "router renumbering";
      case 139: return "node information query";
      case 140: return "node information reply";
      case 141: return "inverse neighbor solicitation";
      case 142: return "inverse neighbor advertisement";
      case 143: return "multicast listener report v2";
      case 144: return "ha discovery request";
      case 145: return "ha discovery reply";
      case 146: return "mobile router solicitation";
      case 147: return "mobile router advertisement";
      case 151: return "multicast router advertisement";
      case 152: return "multicast router solicitation";
      case 153: return "multicast router termination";
      default: return null;
    }
  }
}
