package pcap4py.helper;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Whether a packet was sent or received, from the point of view of one owner (a container): the
 * one place that decides it, for the line formatter, the pcapng writer and Python's packets.
 *
 * <p>On Ethernet a frame the owner did not send is one it received, broadcasts and multicasts
 * included: {@link #OUTBOUND} when the source MAC is one of the owner's, {@link #INBOUND}
 * otherwise. Loopback frames (all-zero MACs) and frames without a link header go by IP: sent from
 * one of the owner's addresses is outbound (so loopback traffic, sent and received by the owner
 * itself, is outbound), sent to one inbound. Without an owner, the Linux cooked headers' packet
 * type says what the kernel saw ({@link #kernelDirection}).
 *
 * <p>The values are pcapng's epb_flags direction bits (01 inbound, 10 outbound, 0 unknown).
 */
public final class PointOfView {

  static final int UNKNOWN = 0;
  static final int INBOUND = 1;
  static final int OUTBOUND = 2;

  private static final int SLL_OUTGOING = 4; // PACKET_OUTGOING in the cooked header's packet type

  private final byte[][] macs;
  private final byte[][] ips;
  private final byte[] mac = new byte[6];

  /** The owner of these MACs ("aa:bb:cc:dd:ee:ff") and IPs (v4 or v6 literals: no name lookup). */
  public PointOfView(String[] macs, String[] ips) throws UnknownHostException {
    this.macs = new byte[macs.length][];
    for (int i = 0; i < macs.length; i++) {
      this.macs[i] = parseMac(macs[i]);
    }
    this.ips = new byte[ips.length][];
    for (int i = 0; i < ips.length; i++) {
      this.ips[i] = InetAddress.getByName(ips[i]).getAddress();
    }
  }

  /**
   * The direction of one packet. {@code frame} holds its bytes from {@code frameOff} ({@code
   * caplen} of them, link type {@code dlt}); {@code rec} holds its {@link Summary} record from
   * {@code recOff} (IP version, ethertype and the two addresses are read there).
   */
  int direction(int dlt, byte[] frame, int frameOff, int caplen, byte[] rec, int recOff) {
    if (dlt == Summary.DLT_EN10MB && caplen >= 14 && !zero(frame, frameOff + 6, 6)) {
      System.arraycopy(frame, frameOff + 6, mac, 0, 6);
      return owns(macs, mac, 0, 6) ? OUTBOUND : INBOUND;
    }
    int version = rec[recOff + Record.IP_VERSION];
    boolean arp = Record.le16(rec, recOff + Record.ETHERTYPE) == Protocols.ETHERTYPE_ARP;
    int size = version == 6 ? 16 : (version == 4 || arp) ? 4 : 0;
    if (size == 0) {
      return UNKNOWN;
    }
    if (owns(ips, rec, recOff + Record.SRC, size)) {
      return OUTBOUND;
    }
    return owns(ips, rec, recOff + Record.DST, size) ? INBOUND : UNKNOWN;
  }

  /**
   * Python's batch API: the direction of each of the {@code count} packets of a batch into {@code
   * out}, one JPype call per batch. {@code dlts} is the link type per source index.
   */
  public void directions(ByteBuffer meta, ByteBuffer data, int count, int[] dlts, byte[] out) {
    byte[] rec = new byte[Record.SIZE];
    byte[] head = new byte[14]; // enough of the frame for the source MAC
    for (int i = 0; i < count; i++) {
      int at = i * Record.SIZE;
      for (int k = 0; k < rec.length; k++) {
        rec[k] = meta.get(at + k);
      }
      int caplen = Record.le32(rec, Record.CAPLEN);
      int offset = Record.le32(rec, Record.DATA_OFFSET);
      int n = Math.min(caplen, head.length);
      for (int k = 0; k < n; k++) {
        head[k] = data.get(offset + k);
      }
      int source = rec[Record.SOURCE_INDEX] & 0xff;
      int dlt = source < dlts.length ? dlts[source] : dlts[0];
      out[i] = (byte) direction(dlt, head, 0, caplen, rec, 0);
    }
  }

  /** What the kernel saw, from a Linux cooked header's packet type (unknown on other links). */
  static int kernelDirection(int dlt, byte[] frame, int frameOff, int caplen) {
    if (dlt == Summary.DLT_LINUX_SLL && caplen >= 2) {
      return ((frame[frameOff] & 0xff) << 8 | (frame[frameOff + 1] & 0xff)) == SLL_OUTGOING ? OUTBOUND : INBOUND;
    }
    if (dlt == Summary.DLT_LINUX_SLL2 && caplen >= 11) {
      return frame[frameOff + 10] == SLL_OUTGOING ? OUTBOUND : INBOUND;
    }
    return UNKNOWN;
  }

  private static boolean owns(byte[][] set, byte[] value, int off, int size) {
    for (byte[] v : set) {
      if (v.length == size && Arrays.equals(v, 0, size, value, off, off + size)) {
        return true;
      }
    }
    return false;
  }

  private static boolean zero(byte[] b, int off, int n) {
    for (int i = off; i < off + n; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }

  private static byte[] parseMac(String text) {
    String[] parts = text.split("[:-]");
    if (parts.length != 6) {
      throw new IllegalArgumentException("not a MAC address: " + text);
    }
    byte[] b = new byte[6];
    for (int i = 0; i < 6; i++) {
      b[i] = (byte) Integer.parseInt(parts[i], 16);
    }
    return b;
  }
}
