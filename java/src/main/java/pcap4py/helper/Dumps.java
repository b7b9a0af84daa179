package pcap4py.helper;

/** tcpdump's -x, -X and -A rows, byte for byte. */
final class Dumps {

  private final Out out;

  Dumps(Out out) {
    this.out = out;
  }

  /** -x: "\n\t0xOOOO: " then " hhhh" per two bytes, 16 bytes a row. */
  void hex(byte[] b, int from, int to) {
    hex("\n\t", b, from, to);
  }

  /** As {@link #hex(byte[], int, int)}, each row after {@code indent}. */
  void hex(String indent, byte[] b, int from, int to) {
    for (int i = from; i < to; i += 16) {
      out.ascii(indent).ascii("0x").hex(i - from, 4).ch(':').ch(' ');
      int n = Math.min(16, to - i);
      for (int j = 0; j < n; j += 2) {
        out.ch(' ').hexBytes(b, i + j, i + Math.min(j + 2, n));
      }
    }
  }

  /** -X: as -x, the hex padded to 40 columns, two spaces, then the printable bytes. */
  void hexAscii(byte[] b, int from, int to) {
    for (int i = from; i < to; i += 16) {
      out.ascii("\n\t0x").hex(i - from, 4).ch(':').ch(' ');
      int n = Math.min(16, to - i);
      int start = out.pos;
      for (int j = 0; j < n; j += 2) {
        out.ch(' ').hexBytes(b, i + j, i + Math.min(j + 2, n));
      }
      out.spaces(40 - (out.pos - start)).ch(' ').ch(' ');
      for (int j = 0; j < n; j++) {
        int c = b[i + j] & 0xff;
        out.ch(c > 0x20 && c < 0x7f ? (char) c : '.'); // isgraph: a space is a dot
      }
    }
  }

  /** -A: a new line, then the bytes: newlines, tabs and printable ASCII as they are, a CR before
   *  a LF dropped, anything else a dot. */
  void ascii(byte[] b, int from, int to) {
    out.ch('\n');
    for (int i = from; i < to; i++) {
      int c = b[i] & 0xff;
      if (c == '\r') {
        if (to - (i + 1) > 1 && b[i + 1] != '\n') {
          out.ch('.');
        }
      } else if ((c > 0x20 && c < 0x7f) || c == '\t' || c == ' ' || c == '\n') {
        out.ch((char) c);
      } else {
        out.ch('.');
      }
    }
  }
}
