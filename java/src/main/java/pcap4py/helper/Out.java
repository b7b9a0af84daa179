package pcap4py.helper;

import java.nio.charset.StandardCharsets;

/** A byte sink over a fixed array: ASCII, decimal and hex appended with no allocation. */
final class Out {

  private static final byte[] HEX_LOWER = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] HEX_UPPER = "0123456789ABCDEF".getBytes(StandardCharsets.US_ASCII);

  /** Every byte's two lowercase hex digits, at 2*b and 2*b+1. */
  private static final byte[] HEX_PAIRS = new byte[512];

  static {
    for (int b = 0; b < 256; b++) {
      HEX_PAIRS[2 * b] = HEX_LOWER[b >> 4];
      HEX_PAIRS[2 * b + 1] = HEX_LOWER[b & 0xf];
    }
  }

  byte[] buf;
  int pos;

  Out(int capacity) {
    buf = new byte[capacity];
  }

  int remaining() {
    return buf.length - pos;
  }

  Out ch(char c) {
    buf[pos++] = (byte) c;
    return this;
  }

  /** An ASCII-only string (literals, names). */
  /** One byte as tcpdump's fn_print_char prints it: M- for the high bit, ^X for controls. */
  Out printChar(int c) {
    if (c >= 0x80) {
      ascii("M-");
      c &= 0x7f;
    }
    if (c < 0x20 || c == 0x7f) {
      return ch('^').ch((char) (c ^ 0x40));
    }
    return ch((char) c);
  }

  Out ascii(String s) {
    for (int i = 0, n = s.length(); i < n; i++) {
      buf[pos++] = (byte) s.charAt(i);
    }
    return this;
  }

  Out bytes(byte[] b) {
    System.arraycopy(b, 0, buf, pos, b.length);
    pos += b.length;
    return this;
  }

  Out dec(long v) {
    if (v < 0) {
      ch('-');
      v = -v;
    }
    if (v < 10) {
      return ch((char) ('0' + v));
    }
    int start = pos;
    while (v > 0) {
      buf[pos++] = (byte) ('0' + v % 10);
      v /= 10;
    }
    reverse(start, pos - 1);
    return this;
  }

  /** {@code v} in decimal, zero-padded to {@code width} digits. */
  Out dec(long v, int width) {
    int start = pos;
    for (int i = 0; i < width; i++) {
      buf[pos++] = '0';
    }
    int p = pos - 1;
    while (v > 0 && p >= start) {
      buf[p--] = (byte) ('0' + v % 10);
      v /= 10;
    }
    return this;
  }

  /** Lowercase hex, no leading zeros (at least one digit). */
  Out hex(int v) {
    int shift = 28;
    while (shift > 0 && ((v >>> shift) & 0xf) == 0) {
      shift -= 4;
    }
    for (; shift >= 0; shift -= 4) {
      buf[pos++] = HEX_LOWER[(v >>> shift) & 0xf];
    }
    return this;
  }

  /** Lowercase hex, zero-padded to at least {@code width} digits. */
  Out hex(int v, int width) {
    int digits = 1;
    while (digits < 8 && (v >>> (digits * 4)) != 0) {
      digits++;
    }
    for (int i = digits; i < width; i++) {
      buf[pos++] = '0';
    }
    for (int s = (digits - 1) * 4; s >= 0; s -= 4) {
      buf[pos++] = HEX_LOWER[(v >>> s) & 0xf];
    }
    return this;
  }

  Out hexByte(int b, boolean upper) {
    byte[] digits = upper ? HEX_UPPER : HEX_LOWER;
    buf[pos++] = digits[(b >> 4) & 0xf];
    buf[pos++] = digits[b & 0xf];
    return this;
  }

  /** {@code src[from..to)} as lowercase hex, two digits a byte (a small loop the JIT compiles early). */
  Out hexBytes(byte[] src, int from, int to) {
    byte[] b = buf;
    int p = pos;
    for (int i = from; i < to; i++) {
      int v = (src[i] & 0xff) << 1;
      b[p] = HEX_PAIRS[v];
      b[p + 1] = HEX_PAIRS[v + 1];
      p += 2;
    }
    pos = p;
    return this;
  }

  Out spaces(int n) {
    for (int i = 0; i < n; i++) {
      buf[pos++] = ' ';
    }
    return this;
  }

  private void reverse(int i, int j) {
    while (i < j) {
      byte t = buf[i];
      buf[i++] = buf[j];
      buf[j--] = t;
    }
  }
}
