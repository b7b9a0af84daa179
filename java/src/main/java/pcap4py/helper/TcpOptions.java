package pcap4py.helper;

/** TCP options as tcpdump prints them: ", options [mss 1460,sackOK,TS val V ecr E,nop,wscale 7]". */
final class TcpOptions {

  private TcpOptions() {}

  static void print(TextPrinter p, int at, int hlen, boolean rev, long thseq, long thack) {
    Out out = p.out;
    Frame f = p.f;
    out.ascii(", options [");
    p.facts.optionsStart = out.pos;
    p.facts.optionsEnd = out.pos;
    boolean first = true;
    while (hlen > 0) {
      if (!first) {
        out.ch(',');
      }
      first = false;
      int opt = f.u8(at++);
      int len;
      if (opt == 0 || opt == 1) {
        len = 1;
      } else {
        len = f.u8(at++);
        if (len < 2 || len > hlen) {
          out.ascii(name(opt)).ch(']'); // tcpdump: "bad opt" follows
          out.ascii(" [bad opt]");
          return;
        }
        hlen--;
      }
      hlen--;
      out.ascii(name(opt));
      int datalen = 0;
      switch (opt) {
        case 2: // mss
          datalen = check(f, at, 2, hlen);
          out.ch(' ').dec(f.u16(at));
          break;
        case 3: // wscale
          datalen = check(f, at, 1, hlen);
          out.ch(' ').dec(f.u8(at));
          break;
        case 5: // sack
          datalen = len - 2;
          if (datalen % 8 != 0) {
            out.ascii(" invalid sack");
          } else {
            out.ch(' ').dec(datalen / 8).ch(' ');
            for (int i = 0; i < datalen; i += 8) {
              check(f, at, i + 8, hlen);
              long s = f.u32(at + i);
              long e = f.u32(at + i + 4);
              long base = rev ? thseq : thack;
              out.ch('{').dec((s - base) & 0xffffffffL).ch(':').dec((e - base) & 0xffffffffL).ch('}');
            }
          }
          break;
        case 8: // TS
          datalen = check(f, at, 8, hlen);
          out.ascii(" val ").dec(f.u32(at)).ascii(" ecr ").dec(f.u32(at + 4));
          break;
        case 0:
        case 1:
        case 4:
          break;
        case 28: { // uto
          datalen = check(f, at, 2, hlen);
          int uto = f.u16(at);
          out.ascii(" 0x").hex(uto).ch(' ').dec((uto & 1) != 0 ? (uto >> 1) * 60 : uto >> 1);
          break;
        }
        default:
          datalen = len - 2;
          for (int i = 0; i < datalen; i++) {
            check(f, at, i + 1, hlen);
            out.hexByte(f.u8(at + i), false);
          }
      }
      at += datalen;
      hlen -= datalen;
      int seen = datalen + (opt == 0 || opt == 1 ? 1 : 2);
      if (seen != len) {
        out.ascii("[len ").dec(len).ch(']');
      }
      p.facts.optionsEnd = out.pos;
      if (opt == 0) {
        break;
      }
    }
    out.ch(']');
  }

  /** tcpdump's LENCHECK: {@code n} bytes left in the options and captured; returns {@code n}. */
  private static int check(Frame f, int at, int n, int hlen) {
    if (n > hlen) {
      throw Frame.TRUNCATED; // tcpdump prints "[bad opt]"; rare enough to mark as cut
    }
    f.need(at, n);
    return n;
  }

  private static String name(int opt) {
    switch (opt) {
      case 0: return "eol";
      case 1: return "nop";
      case 2: return "mss";
      case 3: return "wscale";
      case 4: return "sackOK";
      case 5: return "sack";
      case 6: return "echo";
      case 7: return "echoreply";
      case 8: return "TS";
      case 11: return "cc";
      case 12: return "ccnew";
      case 13: return "ccecho";
      case 19: return "md5";
      case 27: return "qs";
      case 28: return "uto";
      case 29: return "tcp-ao";
      case 30: return "mptcp";
      case 34: return "tfo";
      case 253: case 254: return "exp";
      default: return "unknown-" + opt;
    }
  }
}
