package pcap4py.helper;

/**
 * The 80-byte record the readers write per packet and every consumer reads: the one definition of
 * its layout on the Java side. Python's is {@code pcap4py/engine/record.py}; {@link #layout()} lets
 * a test compare the two. Offsets are from the record's start; integers little-endian.
 *
 * <pre>
 *  0 u64 timestamp, ns        20 u16 ethertype (0 unknown)   32 u8  source index
 *  8 u32 captured length      22 u8  IP protocol (255 none)  33 u8  IP version (0, 4, 6)
 * 12 u32 original length      23 u8  TCP flags               34 u16 VLAN id (0 none)
 * 16 u32 offset in data area  24 u16 src port / ICMP id      36 u32 TCP seq
 *                             26 u16 dst port / ICMP seq     40 u32 TCP ack
 *                             28 u16 payload offset in frame 44 u32 payload length (per IP header)
 *                             30 u8  ICMP type, 31 u8 code   48 16B src address, 64 16B dst
 * </pre>
 */
public final class Record {

  static final int SIZE = 80;

  static final int TS = 0;
  static final int CAPLEN = 8;
  static final int ORIGLEN = 12;
  static final int DATA_OFFSET = 16;
  static final int ETHERTYPE = 20;
  static final int IP_PROTO = 22;
  static final int TCP_FLAGS = 23;
  static final int SPORT = 24; // also the ICMP echo id and the ARP opcode
  static final int DPORT = 26; // also the ICMP echo sequence
  static final int PAYLOAD_OFFSET = 28;
  static final int ICMP_TYPE = 30;
  static final int ICMP_CODE = 31;
  static final int SOURCE_INDEX = 32;
  static final int IP_VERSION = 33;
  static final int VLAN = 34;
  static final int SEQ = 36;
  static final int ACK = 40;
  static final int PAYLOAD_LENGTH = 44;
  static final int SRC = 48;
  static final int DST = 64;
  static final int ADDRESS_BYTES = 16;

  /** IP_PROTO when the frame carries no IP (0 is IPv6's hop-by-hop option, so it cannot mean none). */
  static final int NO_PROTO = 255;

  private Record() {}

  /** "name offset size" per field, in order: what the Python side's table must say too. */
  public static String[] layout() {
    return new String[] {
      "ts_ns 0 8", "caplen 8 4", "origlen 12 4", "data_off 16 4", "ethertype 20 2", "ip_proto 22 1",
      "tcp_flags 23 1", "sport 24 2", "dport 26 2", "payload_off 28 2", "icmp_type 30 1",
      "icmp_code 31 1", "source_index 32 1", "ip_version 33 1", "vlan 34 2", "seq 36 4", "ack 40 4",
      "payload_len 44 4", "src 48 16", "dst 64 16",
    };
  }

  static int le16(byte[] m, int i) {
    return (m[i] & 0xff) | ((m[i + 1] & 0xff) << 8);
  }

  static int le32(byte[] m, int i) {
    return (m[i] & 0xff) | ((m[i + 1] & 0xff) << 8) | ((m[i + 2] & 0xff) << 16) | ((m[i + 3] & 0xff) << 24);
  }

  static long le64(byte[] m, int i) {
    return (le32(m, i) & 0xffffffffL) | ((long) le32(m, i + 4) << 32);
  }
}
