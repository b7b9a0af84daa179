package pcap4py.helper;

/** tcpdump's printing flags, as the text printers take them. */
public final class PrintFlags {

  /** Time stamps: -t (none), default, -tt, -ttt, -tttt, -ttttt. */
  static final int TS_NONE = 1;
  static final int TS_DEFAULT = 0;
  static final int TS_EPOCH = 2;
  static final int TS_DELTA = 3;
  static final int TS_DATE = 4;
  static final int TS_SINCE_FIRST = 5;

  /** Dumps: none, -x, -xx, -X, -XX, -A, -AA. */
  static final int HEX_NONE = 0;
  static final int HEX = 1;
  static final int HEX_LINK = 2;
  static final int HEX_ASCII = 3;
  static final int HEX_ASCII_LINK = 4;
  static final int ASCII = 5;
  static final int ASCII_LINK = 6;

  final int verbose;
  final boolean link;
  final boolean quick;
  final boolean absoluteSeq;
  final int tstamp;
  final int dump;
  final boolean number;

  /**
   * {@code verbose}: the count of -v; {@code link}: -e; {@code quick}: -q; {@code absoluteSeq}: -S;
   * {@code tstamp}: the count of -t (0 the default, 1 none, 2..5 as tcpdump); {@code dump}: 0
   * none, 1 -x, 2 -xx, 3 -X, 4 -XX, 5 -A, 6 -AA; {@code number}: -#.
   */
  public PrintFlags(int verbose, boolean link, boolean quick, boolean absoluteSeq, int tstamp, int dump,
      boolean number) {
    this.verbose = verbose;
    this.link = link;
    this.quick = quick;
    this.absoluteSeq = absoluteSeq;
    this.tstamp = tstamp;
    this.dump = dump;
    this.number = number;
  }

  static final PrintFlags DEFAULT = new PrintFlags(0, false, false, false, TS_DEFAULT, HEX_NONE, false);
}
