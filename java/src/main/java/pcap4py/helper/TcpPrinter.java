package pcap4py.helper;

/**
 * TCP as tcpdump -n prints it: ports, flags, sequence numbers relative to the connection's first
 * ones (absolute with -S), ack, win, urg, options, length, the checksum with -v, and the
 * applications tcpdump recognises by port ({@link TcpApps}); with -q only "tcp LENGTH".
 */
final class TcpPrinter {

  private static final String FLAG_LETTERS = "FSRP.UEW";
  private static final int SYN = 0x02;
  private static final int FIN = 0x01;
  private static final int RST = 0x04;
  private static final int ACK = 0x10;
  private static final int URG = 0x20;

  private final TextPrinter p;
  private final Out out;
  private final Frame f;
  private final TcpSeqTable table = new TcpSeqTable();
  private final TcpApps apps;

  TcpPrinter(TextPrinter p) {
    this.p = p;
    this.out = p.out;
    this.f = p.f;
    this.apps = new TcpApps(p);
  }

  void print(int off, long length) {
    f.proto = "tcp";
    if (!f.has(off, 4)) {
      p.addresses(-1, -1);
      out.ch(':');
      throw Frame.TRUNCATED;
    }
    int sport = f.u16(off);
    int dport = f.u16(off + 2);
    p.endpoints(Protocols.IP_TCP, sport, dport);
    out.ascii(": ");
    int hlen = (f.u8(off + 12) >> 4) * 4;
    if (hlen < 20) {
      out.ascii(" tcp ").dec(length - hlen).ascii(" [bad hdr length ").dec(hlen)
          .ascii(" - too short, < 20]");
      return;
    }
    long seq = f.u32(off + 4);
    long ack = f.u32(off + 8);
    int win = f.u16(off + 14);
    int urp = f.u16(off + 18);
    if (p.flags.quick) {
      out.ascii("tcp ").dec(length - hlen);
      if (hlen > length) {
        out.ascii(" [bad hdr length ").dec(hlen).ascii(" - too long, > ").dec(length).ch(']');
      }
      return;
    }
    int flags = f.u8(off + 13);
    out.ascii("Flags [");
    if (flags == 0) {
      out.ascii("none");
    }
    for (int bit = 0; bit < 8; bit++) {
      if ((flags & (1 << bit)) != 0) {
        out.ch(FLAG_LETTERS.charAt(bit));
      }
    }
    out.ch(']');
    boolean rev = false;
    long thseq = 0;
    long thack = 0;
    if (!p.flags.absoluteSeq && (flags & ACK) != 0) {
      rev = reversed(sport, dport);
      long key = key(sport, dport, rev);
      int slot = table.slot(key);
      if (!table.found(slot) || (flags & SYN) != 0) {
        slot = rev ? table.put(key, slot, (ack - 1) & 0xffffffffL, seq)
            : table.put(key, slot, seq, (ack - 1) & 0xffffffffL);
      } else if (rev) {
        seq = (seq - table.ack(slot)) & 0xffffffffL;
        ack = (ack - table.seq(slot)) & 0xffffffffL;
      } else {
        seq = (seq - table.seq(slot)) & 0xffffffffL;
        ack = (ack - table.ack(slot)) & 0xffffffffL;
      }
      thseq = table.seq(slot);
      thack = table.ack(slot);
    }
    if (hlen > length) {
      out.ascii(" [bad hdr length ").dec(hlen).ascii(" - too long, > ").dec(length).ch(']');
      return;
    }
    if (p.flags.verbose > 0 && !p.fragment) {
      checksum(off, length);
    }
    long len = length - hlen;
    if (p.flags.verbose > 1 || len > 0 || (flags & (SYN | FIN | RST)) != 0) {
      out.ascii(", seq ").dec(seq);
      if (len > 0) {
        out.ch(':').dec((seq + len) & 0xffffffffL);
      }
    }
    if ((flags & ACK) != 0) {
      out.ascii(", ack ").dec(ack);
    }
    out.ascii(", win ").dec(win);
    p.facts.tcpWindow = win;
    if ((flags & URG) != 0) {
      out.ascii(", urg ").dec(urp);
    }
    if (hlen > 20) {
      TcpOptions.print(p, off + 20, hlen - 20, rev, thseq, thack);
    }
    out.ascii(", length ").dec(len);
    if (len > 0) {
      apps.print(sport, dport, off + hlen, len, flags);
    }
  }

  private void checksum(int off, long length) {
    if (!f.has(off, (int) Math.min(length, Integer.MAX_VALUE))) {
      return;
    }
    int stored = f.u16(off + 16);
    long sum = Checksum.pseudo(f.b, p.ipOff, p.ipVersion, Protocols.IP_TCP, length);
    int folded = Checksum.fold(Checksum.add(sum, f.b, off, (int) length));
    out.ascii(", cksum 0x").hex(stored, 4);
    if (folded != 0xffff) {
      out.ascii(" (incorrect -> 0x").hex(Checksum.shouldBe(stored, folded), 4).ch(')');
    } else {
      out.ascii(" (correct)");
    }
  }

  /** Whether this segment goes against the table's order (source after destination). */
  private boolean reversed(int sport, int dport) {
    int n = p.ipVersion == 6 ? 16 : 4;
    int src = p.ipOff + (p.ipVersion == 6 ? 8 : 12);
    int dst = src + n;
    for (int i = 0; i < n; i++) {
      int a = f.b[src + i] & 0xff;
      int b = f.b[dst + i] & 0xff;
      if (a != b) {
        return a > b;
      }
    }
    return sport > dport;
  }

  private long key(int sport, int dport, boolean rev) {
    int n = p.ipVersion == 6 ? 16 : 4;
    int src = p.ipOff + (p.ipVersion == 6 ? 8 : 12);
    int dst = src + n;
    long h = TcpSeqTable.SEED ^ n;
    h = TcpSeqTable.hash(h, f.b, rev ? dst : src, n);
    h = TcpSeqTable.hash(h, f.b, rev ? src : dst, n);
    h = TcpSeqTable.hashInt(h, rev ? (dport << 16 | sport) : (sport << 16 | dport));
    return h == 0 ? 1 : h;
  }
}
