package pcap4py.helper;

/** Syslog (UDP 514) as tcpdump prints it: facility.severity and length; with -v the message. */
final class SyslogPrinter {

  private static final String[] FACILITIES = {
    "kernel", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "security", "console", "cron", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
  };
  private static final String[] SEVERITIES = {"emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"};

  private final TextPrinter p;
  private final Out out;
  private final Frame f;

  SyslogPrinter(TextPrinter p) {
    this.p = p;
    this.out = p.out;
    this.f = p.f;
  }

  void print(int at, long len) {
    f.proto = "syslog";
    int off = 0;
    if (f.u8(at) != '<') {
      out.ascii("[|syslog]");
      return;
    }
    off++;
    int pri = 0;
    while (off <= 3 && f.u8(at + off) >= '0' && f.u8(at + off) <= '9') {
      pri = pri * 10 + f.u8(at + off) - '0';
      off++;
    }
    if (f.u8(at + off) != '>') {
      out.ascii("[|syslog]");
      return;
    }
    off++;
    int facility = (pri & 0x3f8) >> 3;
    int severity = pri & 7;
    if (p.flags.verbose < 1) {
      out.ascii("SYSLOG ");
      facility(facility);
      out.ch('.').ascii(SEVERITIES[severity]).ascii(", length: ").dec(len);
      return;
    }
    out.ascii("SYSLOG, length: ").dec(len).ascii("\n\tFacility ");
    facility(facility);
    out.ascii(" (").dec(facility).ascii("), Severity ").ascii(SEVERITIES[severity]).ascii(" (").dec(severity)
        .ascii(")\n\tMsg: ");
    for (; off < len; off++) {
      out.printChar(f.u8(at + off));
    }
    if (p.flags.verbose > 1) {
      new Dumps(out).hex(f.b, at, (int) Math.min(at + len, f.end));
    }
  }

  private void facility(int facility) {
    if (facility < FACILITIES.length) {
      out.ascii(FACILITIES[facility]);
    } else {
      out.ascii("unknown (").dec(facility).ch(')');
    }
  }
}
