package pcap4py.helper;

/** The Internet checksum (RFC 1071), as tcpdump verifies it with -v. */
final class Checksum {

  private Checksum() {}

  /** Adds {@code n} bytes from {@code at} to the running 32-bit sum. */
  static long add(long sum, byte[] b, int at, int n) {
    int i = at;
    int end = at + n - 1;
    for (; i < end; i += 2) {
      sum += ((b[i] & 0xff) << 8) | (b[i + 1] & 0xff);
    }
    if (i == end) {
      sum += (b[i] & 0xff) << 8;
    }
    return sum;
  }

  /** The folded 16-bit one's complement sum (0xffff when a header with its checksum is right). */
  static int fold(long sum) {
    while ((sum >>> 16) != 0) {
      sum = (sum & 0xffff) + (sum >>> 16);
    }
    return (int) sum;
  }

  /** What the checksum field should hold, given what it holds and the folded sum over the data
   *  with it (tcpdump's in_cksum_shouldbe). */
  static int shouldBe(int stored, int folded) {
    long s = (stored & 0xffff) + (~folded & 0xffff);
    s = (s & 0xffff) + (s >>> 16);
    s = (s & 0xffff) + (s >>> 16);
    return (int) (s & 0xffff);
  }

  /** The sum of an IPv4 or IPv6 pseudo-header for protocol {@code proto}, {@code len} bytes. */
  static long pseudo(byte[] b, int ipOff, int version, int proto, long len) {
    long sum = version == 6 ? add(0, b, ipOff + 8, 32) : add(0, b, ipOff + 12, 8);
    return sum + proto + (len & 0xffff) + (len >>> 16);
  }
}
