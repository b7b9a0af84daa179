package pcap4py.helper;

/**
 * Files carry LINKTYPE_ values, handles and sources DLT_ values; they differ only where libpcap's
 * linktype_to_dlt changes them on Linux. The one map on the Java side; Python's is
 * {@code pcap4py/engine/numbers.py}'s LINKTYPE_TO_DLT, and {@link #table()} lets a test compare them.
 */
public final class LinkTypes {

  private static final int[][] LINKTYPE_TO_DLT = {{100, 11}, {101, 12}, {102, 15}, {103, 16}, {106, 19}};

  private LinkTypes() {}

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
