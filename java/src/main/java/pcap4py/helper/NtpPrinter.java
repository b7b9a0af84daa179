package pcap4py.helper;

/** NTP (UDP 123) as tcpdump prints it: version, mode and length; with -v the time message's fields. */
final class NtpPrinter {

  private static final String[] MODES = {
    "unspecified", "symmetric active", "symmetric passive", "Client", "Server", "Broadcast",
    "Control Message", "Reserved",
  };
  private static final String[] LEAP = {"", "+1s", "-1s", "clock unsynchronized"};
  private static final long JAN_1970 = 2208988800L;
  private static final double FMAXINT = 4294967296.0;

  private final TextPrinter p;
  private final Out out;
  private final Frame f;

  NtpPrinter(TextPrinter p) {
    this.p = p;
    this.out = p.out;
    this.f = p.f;
  }

  void print(int at, long length) {
    f.proto = "ntp";
    int status = f.u8(at);
    int mode = status & 7;
    out.ascii("NTPv").dec((status >> 3) & 7).ascii(", ").ascii(MODES[mode]).ascii(", length ").dec(length);
    if (p.flags.verbose == 0) {
      return;
    }
    out.ch('\n');
    if (mode <= 5) {
      time(at, length, status >> 6);
    }
  }

  private void time(int at, long length, int leap) {
    if (length < 48) {
      out.ascii(" (invalid)");
      return;
    }
    int stratum = f.u8(at + 1);
    out.ascii("\tLeap indicator: ").ascii(LEAP[leap]).ascii(" (").dec(leap).ascii("), Stratum ").dec(stratum)
        .ascii(" (").ascii(stratum == 0 ? "unspecified" : stratum == 1 ? "primary reference"
            : stratum <= 15 ? "secondary reference" : "reserved").ch(')');
    int poll = (byte) f.u8(at + 2);
    out.ascii(", poll ").dec(poll);
    if (poll > -32 && poll < 32) {
      if (poll >= 0) {
        out.ascii(" (").dec(1L << poll).ascii("s)");
      } else {
        out.ascii(" (1/").dec(1L << -poll).ascii("s)");
      }
    }
    out.ascii(", precision ").dec((byte) f.u8(at + 3));
    out.ascii("\n\tRoot Delay: ");
    sfix(at + 4);
    out.ascii(", Root dispersion: ");
    sfix(at + 8);
    out.ascii(", Reference-ID: ");
    if (stratum == 0) {
      out.ascii("(unspec)");
    } else if (stratum == 1) {
      for (int i = 0; i < 4 && f.u8(at + 12 + i) != 0; i++) {
        out.printChar(f.u8(at + 12 + i));
      }
    } else {
      out.ascii("0x").hex((int) f.u32(at + 12), 8);
    }
    out.ascii("\n\t  Reference Timestamp:  ");
    time(at + 16);
    out.ascii("\n\t  Originator Timestamp: ");
    time(at + 24);
    out.ascii("\n\t  Receive Timestamp:    ");
    time(at + 32);
    out.ascii("\n\t  Transmit Timestamp:   ");
    time(at + 40);
    out.ascii("\n\t    Originator - Receive Timestamp:  ");
    delta(at + 32, at + 24);
    out.ascii("\n\t    Originator - Transmit Timestamp: ");
    delta(at + 40, at + 24);
    if (length == 52) {
      out.ascii("\n\tKey id: ").dec(f.u32(at + 48));
    } else if (length > 48 && length != 68 && length != 72) {
      out.ascii("\n\t(").dec(length - 48).ascii(" more bytes after the header)");
    }
  }

  private void sfix(int at) {
    int i = f.u16(at);
    int frac = f.u16(at + 2);
    out.dec(i).ch('.').dec((long) (frac / 65536.0 * 1000000.0), 6);
  }

  private void time(int at) {
    long i = f.u32(at);
    long uf = f.u32(at + 4);
    out.dec(i).ch('.').dec((long) (uf / FMAXINT * 1000000000.0), 9);
    if (i != 0) {
      java.time.LocalDateTime t = java.time.LocalDateTime.ofEpochSecond(i - JAN_1970, 0, java.time.ZoneOffset.UTC);
      out.ascii(" (").dec(t.getYear(), 4).ch('-').dec(t.getMonthValue(), 2).ch('-').dec(t.getDayOfMonth(), 2)
          .ch('T').dec(t.getHour(), 2).ch(':').dec(t.getMinute(), 2).ch(':').dec(t.getSecond(), 2).ascii("Z)");
    }
  }

  /** tcpdump's p_ntp_delta: {@code at} minus {@code old}, signed. */
  private void delta(int at, int old) {
    long u = f.u32(at);
    long ou = f.u32(old);
    long uf = f.u32(at + 4);
    long ouf = f.u32(old + 4);
    if (ou == 0 && ouf == 0) {
      time(at);
      return;
    }
    int i = (int) (u - ou);
    boolean negative;
    long fr;
    if (i > 0) {
      negative = false;
      fr = (uf - ouf) & 0xffffffffL;
      if (ouf > uf) {
        i -= 1;
      }
    } else if (i < 0) {
      negative = true;
      fr = (ouf - uf) & 0xffffffffL;
      if (uf > ouf) {
        i += 1;
      }
      i = -i;
    } else if (uf > ouf) {
      negative = false;
      fr = uf - ouf;
    } else {
      negative = true;
      fr = ouf - uf;
    }
    out.ch(negative ? '-' : '+').dec(i & 0xffffffffL).ch('.').dec((long) (fr / FMAXINT * 1000000000.0), 9);
  }
}
