package pcap4py.helper;

/**
 * pcapng's numbers, for the reader and the writer alike: block types, option codes, and
 * libpcap's words for a damaged block.
 */
final class Pcapng {

  // block types
  static final int SHB = 0x0A0D0D0A;
  static final int IDB = 1;
  static final int PB = 2; // obsolete packet block
  static final int SPB = 3;
  static final int ISB = 5;
  static final int EPB = 6;
  static final int BYTE_ORDER_MAGIC = 0x1A2B3C4D;

  // options of every block
  static final int OPT_ENDOFOPT = 0;
  static final int OPT_COMMENT = 1;
  // section header
  static final int SHB_HARDWARE = 2;
  static final int SHB_OS = 3;
  static final int SHB_USERAPPL = 4;
  // interface description
  static final int IF_NAME = 2;
  static final int IF_DESCRIPTION = 3;
  static final int IF_TSRESOL = 9;
  static final int IF_FILTER = 11;
  static final int IF_TSOFFSET = 14;
  // enhanced packet
  static final int EPB_FLAGS = 2;
  // interface statistics
  static final int ISB_IFRECV = 4;
  static final int ISB_IFDROP = 5;
  static final int ISB_USRDELIV = 8;

  private Pcapng() {}

  /** libpcap's max_snaplen_for_dlt of a LINKTYPE_ value (see {@link LinkTypes#maxSnaplen}). */
  static int maxSnaplen(int linkType) {
    return LinkTypes.maxSnaplen(LinkTypes.dlt(linkType));
  }

  static String truncated(long wanted, long got) {
    return "truncated pcapng file; tried to read " + wanted + " bytes, only got " + Math.max(got, 0);
  }

  static String tooShort(int type) {
    return "block of type " + (type & 0xffffffffL) + " in pcapng file is too short";
  }
}
