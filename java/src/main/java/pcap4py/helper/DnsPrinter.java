package pcap4py.helper;

/**
 * DNS and mDNS as tcpdump -n abbreviates them: "ID[flags] TYPE? name. (len)" for a query,
 * "ID[flags] an/ns/ar TYPE data,... (len)" for a response (the answer's name with -v).
 */
final class DnsPrinter {

  private static final String[] OPS = {
    "", " inv_q", " stat", " op3", " notify", " update", " op6", " op7", " op8", " updateA",
    " updateD", " updateDA", " updateM", " updateMA", " zoneInit", " zoneRef",
  };
  private static final String[] RCODES = {
    "", " FormErr", " ServFail", " NXDomain", " NotImp", " Refused", " YXDomain", " YXRRSet",
    " NXRRSet", " NotAuth", " NotZone", " Resp11", " Resp12", " Resp13", " Resp14", " NoChange",
  };

  private final TextPrinter p;
  private final Out out;
  private final Frame f;
  private int base; // where the DNS message starts (compression offsets count from there)
  private int budget; // label bytes left to print: pointers may repeat names, output stays bounded

  DnsPrinter(TextPrinter p) {
    this.p = p;
    this.out = p.out;
    this.f = p.f;
  }

  void print(int at, long length, boolean mdns) {
    if (length < 12) {
      out.ascii("domain [length ").dec(length).ascii(" < 12] (invalid)");
      return;
    }
    f.proto = "domain";
    base = at;
    budget = f.caplen + 256;
    int id = f.u16(at);
    int b2 = f.u16(at + 2);
    int qd = f.u16(at + 4);
    int an = f.u16(at + 6);
    int ns = f.u16(at + 8);
    int ar = f.u16(at + 10);
    int op = (b2 >> 11) & 0xf;
    int cp = at + 12;
    p.facts.dnsId = id;
    p.facts.dnsResponse = (b2 & 0x8000) != 0;
    p.facts.dnsRcode = b2 & 0xf;
    out.dec(id).ascii(OPS[op]);
    if ((b2 & 0x8000) != 0) {
      out.ascii(RCODES[b2 & 0xf]);
      if ((b2 & 0x0400) != 0) out.ch('*');
      if ((b2 & 0x0080) == 0) out.ch('-');
      if ((b2 & 0x0200) != 0) out.ch('|');
      if ((b2 & 0x0020) != 0) out.ch('$');
      if (qd != 1) {
        out.ascii(" [").dec(qd).ascii("q]");
      }
      for (int i = 0; i < qd; i++) {
        if (p.flags.verbose > 1) {
          if (i != 0) {
            out.ch(',');
          }
          out.ascii(" q:");
          cp = question(cp, mdns);
        } else {
          cp = skip(cp) + 4;
        }
      }
      out.ch(' ').dec(an).ch('/').dec(ns).ch('/').dec(ar);
      for (int i = 0; i < an; i++) {
        if (i > 0) {
          if (cp >= f.end) {
            throw Frame.TRUNCATED;
          }
          out.ch(',');
        }
        int start = out.pos + 1; // past the space
        cp = record(cp, mdns);
        p.facts.answer(start, out.pos);
      }
    } else {
      if ((b2 & 0x0100) != 0) out.ch('+');
      if ((b2 & 0x0010) != 0) out.ch('%');
      if ((b2 & 0x6cf) != 0) {
        out.ascii(" [b2&3=0x").hex(b2).ch(']');
      }
      if (op == 1) {
        if (qd != 0) out.ascii(" [").dec(qd).ascii("q]");
        if (an != 1) out.ascii(" [").dec(an).ascii("a]");
      } else {
        if (an != 0) out.ascii(" [").dec(an).ascii("a]");
        if (qd != 1) out.ascii(" [").dec(qd).ascii("q]");
      }
      if (ns != 0) out.ascii(" [").dec(ns).ascii("n]");
      if (ar != 0) out.ascii(" [").dec(ar).ascii("au]");
      for (int i = 0; i < qd; i++) {
        if (i > 0 && cp >= f.end) {
          throw Frame.TRUNCATED;
        }
        cp = question(cp, mdns);
      }
    }
    out.ascii(" (").dec(length).ch(')');
  }

  private int question(int cp, boolean mdns) {
    int name = cp;
    cp = skip(cp);
    f.need(cp, 4);
    int type = f.u16(cp);
    int cls = f.u16(cp + 2);
    out.ch(' ');
    int start = out.pos;
    type(type);
    int c = mdns ? cls & 0x7fff : cls;
    if (c != 1) {
      out.ch(' ');
      klass(c);
    }
    if (mdns) {
      out.ascii((cls & 0x8000) != 0 ? " (QU)" : " (QM)");
    }
    out.ascii("? ");
    name(name);
    p.facts.question(start, out.pos);
    return cp + 4;
  }

  private int record(int cp, boolean mdns) {
    if (p.flags.verbose > 0) {
      out.ch(' ');
      cp = name(cp);
    } else {
      cp = skip(cp);
    }
    f.need(cp, 10);
    int type = f.u16(cp);
    int cls = f.u16(cp + 2);
    int c = mdns ? cls & 0x7fff : cls;
    if (c != 1 && type != 41) {
      out.ch(' ');
      klass(c);
    }
    if (mdns && (cls & 0x8000) != 0) {
      out.ascii(" (Cache flush)");
    }
    int len = f.u16(cp + 8);
    cp += 10;
    int rp = cp + len;
    out.ch(' ');
    type(type);
    if (rp > f.end) {
      throw Frame.TRUNCATED;
    }
    switch (type) {
      case 1:
        out.ch(' ');
        p.ipv4(cp);
        break;
      case 28:
        out.ch(' ');
        p.ipv6(cp);
        break;
      case 2: case 5: case 12: case 39:
        out.ch(' ');
        name(cp);
        break;
      case 15:
        out.ch(' ');
        name(cp + 2);
        out.ch(' ').dec(f.u16(cp));
        break;
      case 16:
        while (cp < rp) {
          out.ascii(" \"");
          int n = f.u8(cp);
          f.need(cp + 1, n);
          for (int i = 0; i < n; i++) {
            out.printChar(f.u8(cp + 1 + i));
          }
          out.ch('"');
          cp += 1 + n;
        }
        break;
      case 33:
        out.ch(' ');
        name(cp + 6);
        out.ch(':').dec(f.u16(cp + 4)).ch(' ').dec(f.u16(cp)).ch(' ').dec(f.u16(cp + 2));
        break;
      case 41:
        out.ascii(" UDPsize=").dec(cls);
        break;
      default:
        break;
    }
    return rp;
  }

  /** Past a name (tcpdump's ns_nskip). */
  private int skip(int cp) {
    int i = f.u8(cp++);
    int guard = 0;
    while (i != 0 && guard++ < 256) {
      if ((i & 0xc0) == 0xc0) {
        return cp + 1;
      }
      if ((i & 0xc0) == 0x40) {
        throw Frame.TRUNCATED; // extended label types: rare, left as cut
      }
      cp += i;
      i = f.u8(cp++);
    }
    return cp;
  }

  /** Prints a name with its dots (tcpdump's fqdn_print); returns where the record goes on. */
  private int name(int cp) {
    int maxOffset = cp - base;
    int i = f.u8(cp++);
    int rp = -1;
    if (i == 0) {
      out.ch('.');
      return cp;
    }
    int guard = 0;
    while (i != 0 && guard++ < 512) {
      if ((i & 0xc0) == 0xc0) {
        if (rp < 0) {
          rp = cp + 1;
        }
        int offset = ((i << 8) | f.u8(cp)) & 0x3fff;
        if (offset >= maxOffset) {
          out.ascii("<BAD PTR>");
          throw Frame.TRUNCATED;
        }
        maxOffset = offset;
        cp = base + offset;
        i = f.u8(cp++);
        continue;
      }
      if ((i & 0xc0) != 0) {
        out.ascii("<ELT ").dec(i & 0x3f).ch('>');
        throw Frame.TRUNCATED;
      }
      f.need(cp, i);
      budget -= i + 1;
      if (budget < 0) {
        throw Frame.TRUNCATED; // more name than the frame could honestly hold
      }
      for (int k = 0; k < i; k++) {
        out.printChar(f.b[cp + k] & 0xff);
      }
      cp += i;
      out.ch('.');
      i = f.u8(cp++);
    }
    return rp < 0 ? cp : rp;
  }

  private void klass(int c) {
    switch (c) {
      case 1: out.ascii("IN"); break;
      case 3: out.ascii("CHAOS"); break;
      case 4: out.ascii("HS"); break;
      case 255: out.ascii("ANY"); break;
      default: out.ascii("(Class ").dec(c).ch(')');
    }
  }

  private void type(int t) {
    String name = DnsTypes.name(t);
    if (name == null) {
      out.ascii("Type").dec(t);
    } else {
      out.ascii(name);
    }
  }
}
