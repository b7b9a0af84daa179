package pcap4py.helper;

/**
 * Files carry LINKTYPE_ values, handles and sources DLT_ values; they differ only where libpcap's
 * linktype_to_dlt changes them on Linux. The one map on the Java side; Python's is
 * {@code pcap4py/engine/numbers.py}'s LINKTYPE_TO_DLT, and {@link #table()} lets a test compare them.
 */
public final class LinkTypes {

  private static final int[][] LINKTYPE_TO_DLT = {{100, 11}, {101, 12}, {102, 15}, {103, 16}, {106, 19}};

  /** The default snapshot length and most link types' largest frame (libpcap's MAXIMUM_SNAPLEN). */
  static final int MAXIMUM_SNAPLEN = 262144;

  /**
   * The link types whose frames may be bigger (DLT_ values, equal to their LINKTYPE_ values): libpcap's
   * max_snaplen_for_dlt (pcap-common.c), the one table of frame limits; readers refuse a bigger
   * captured length, as libpcap does, and the batch buffers grow for a frame above the usual size.
   */
  private static final int[][] MAX_SNAPLEN = {{231, 128 << 20}, {279, 8 << 20}, {249, 1 << 20}}; // DBUS, EBHSCR, USBPCAP

  private LinkTypes() {}

  /** The largest captured length libpcap reads for DLT_ value {@code dlt}. */
  public static int maxSnaplen(int dlt) {
    for (int[] pair : MAX_SNAPLEN) {
      if (pair[0] == dlt) {
        return pair[1];
      }
    }
    return MAXIMUM_SNAPLEN;
  }

  /** The refusal of a captured length above {@link #maxSnaplen}: libpcap's words, and the link type. */
  static String tooBig(long caplen, int dlt) {
    return "invalid packet capture length " + caplen + ", bigger than the maximum of " + maxSnaplen(dlt)
        + " for link type " + name(dlt);
  }

  /** libpcap's name of a DLT_ value and the value ("DBUS (231)"), or the value alone. */
  static String name(int dlt) {
    String name;
    try {
      name = Libpcap.pcap_datalink_val_to_name(dlt);
    } catch (LinkageError e) {
      name = null; // no libpcap: the number says it
    }
    return name == null ? String.valueOf(dlt) : name + " (" + dlt + ")";
  }

  /** The DLT_ value of a file's LINKTYPE_ value. */
  static int dlt(int linkType) {
    for (int[] pair : LINKTYPE_TO_DLT) {
      if (pair[0] == linkType) {
        return pair[1];
      }
    }
    return linkType;
  }

  /** The LINKTYPE_ value to write for a DLT_ value. */
  static int linkType(int dlt) {
    for (int[] pair : LINKTYPE_TO_DLT) {
      if (pair[1] == dlt) {
        return pair[0];
      }
    }
    return dlt;
  }

  /** "LINKTYPE DLT" per pair that differs. */
  public static String[] table() {
    String[] rows = new String[LINKTYPE_TO_DLT.length];
    for (int i = 0; i < rows.length; i++) {
      rows[i] = LINKTYPE_TO_DLT[i][0] + " " + LINKTYPE_TO_DLT[i][1];
    }
    return rows;
  }
}
