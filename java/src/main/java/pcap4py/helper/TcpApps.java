package pcap4py.helper;

/** What tcpdump prints after a TCP segment's length for the ports it knows: HTTP's first line
 *  (every line with -v), SSH's banner, DNS over TCP. */
final class TcpApps {

  private static final String[] HTTP_METHODS = {
    "OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "CONNECT", "PROPFIND", "PROPPATCH",
    "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "ORDERPATCH", "SEARCH", "PATCH",
  };

  private final TextPrinter p;
  private final Out out;
  private final Frame f;

  TcpApps(TextPrinter p) {
    this.p = p;
    this.out = p.out;
    this.f = p.f;
  }

  void print(int sport, int dport, int at, long len, int flags) {
    if ((flags & 0x04) != 0 && p.flags.verbose > 0) {
      return; // tcpdump prints RST data its own way; rare
    }
    if (sport == 22 || dport == 22) {
      ssh(at, len);
    } else if (sport == 80 || dport == 80 || sport == 8080 || dport == 8080) {
      out.ascii(": ");
      text("HTTP", "http", at, len);
    } else if (sport == 53 || dport == 53) {
      if (len >= 2) {
        p.udp.dns.print(at + 2, len - 2, false);
      }
    }
  }

  private void ssh(int at, long len) {
    f.proto = "ssh";
    if (len < 4 || !f.has(at, 4) || f.u8(at) != 'S' || f.u8(at + 1) != 'S' || f.u8(at + 2) != 'H'
        || f.u8(at + 3) != '-') {
      return;
    }
    int end = (int) Math.min(at + len, f.end);
    int i = at;
    while (i < end && f.b[i] != '\r' && f.b[i] != '\n') {
      i++;
    }
    if (i >= end) {
      return;
    }
    out.ascii(": ");
    for (int j = at; j < i; j++) {
      out.printChar(f.b[j] & 0xff);
    }
  }

  /** tcpdump's txtproto_print: a request or response's first line (all lines with -v), else the name. */
  private void text(String name, String proto, int at, long len) {
    f.proto = proto;
    int avail = (int) Math.min(len, Math.max(0, f.end - at));
    int wire = (int) Math.min(len, Integer.MAX_VALUE);
    out.ascii(name);
    if (!isRequestOrResponse(at, avail)) {
      return;
    }
    if (p.flags.verbose > 0) {
      out.ascii(", length: ").dec(len);
      int idx = 0;
      while (idx < wire) {
        int next = line("\n\t", at, idx, wire);
        if (next == 0) {
          break;
        }
        idx = next;
      }
    } else {
      line(": ", at, 0, wire);
    }
  }

  /** One line from {@code idx} of a {@code len}-byte payload, printed once its end is seen;
   *  returns where the next starts, 0 when it is binary. Past the captured bytes: tcpdump's
   *  marker, nothing of the line. */
  private int line(String prefix, int at, int idx, int len) {
    int start = idx;
    while (idx < len) {
      int c = f.u8(at + idx); // past the capture: [|http]
      if (c == '\n') {
        emit(prefix, at + start, idx - start);
        return idx + 1;
      }
      if (c == '\r') {
        if (idx + 1 >= len) {
          return 0;
        }
        if (f.u8(at + idx + 1) == '\n') {
          emit(prefix, at + start, idx - start);
          return idx + 2;
        }
        return 0;
      }
      if ((c < 0x20 || c >= 0x7f) && c != '\t') {
        return 0;
      }
      idx++;
    }
    emit(prefix, at + start, idx - start);
    throw Frame.TRUNCATED; // printable to the end, no line end: cut
  }

  private void emit(String prefix, int from, int n) {
    out.ascii(prefix);
    for (int i = from; i < from + n; i++) {
      out.ch((char) (f.b[i] & 0xff));
    }
  }

  private boolean isRequestOrResponse(int at, int avail) {
    int end1 = token(at, 0, avail);
    if (end1 <= 0) {
      return false;
    }
    for (String m : HTTP_METHODS) {
      if (m.length() == end1 && matches(at, m)) {
        return true;
      }
    }
    int start2 = skipSpaces(at, end1, avail);
    int end2 = token(at, start2, avail);
    if (end2 - start2 != 3) {
      return false;
    }
    for (int i = start2; i < end2; i++) {
      int c = f.b[at + i];
      if (c < '0' || c > '9') {
        return false;
      }
    }
    return true;
  }

  /** The end of the token starting at {@code from} (it must be followed by a space or line end), or -1. */
  private int token(int at, int from, int avail) {
    int i = from;
    while (i < avail) {
      int c = f.b[at + i] & 0xff;
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        return i > from ? i : -1;
      }
      if (c < 0x21 || c >= 0x7f) {
        return -1;
      }
      i++;
    }
    return -1;
  }

  private int skipSpaces(int at, int from, int avail) {
    int i = from;
    while (i < avail && (f.b[at + i] == ' ' || f.b[at + i] == '\t')) {
      i++;
    }
    return i;
  }

  private boolean matches(int at, String s) {
    for (int i = 0; i < s.length(); i++) {
      if (f.b[at + i] != s.charAt(i)) {
        return false;
      }
    }
    return true;
  }
}
