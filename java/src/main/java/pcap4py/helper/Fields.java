package pcap4py.helper;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.zone.ZoneRules;
import java.util.Set;

/**
 * One packet's fields as every output shows them: the {@link Summary} record decoded once, the
 * protocol name, addresses in the text {@code inet_ntop} gives, ports only where the protocol has
 * them, tcpdump's flag letters, and the two clocks (local for text, UTC for JSON).
 *
 * <p>A {@code Fields} object is reused from packet to packet ({@link #load}); one per formatter.
 */
final class Fields {

  static final int NO_PROTO = Record.NO_PROTO;
  static final int ETHERTYPE_ARP = Protocols.ETHERTYPE_ARP;

  // the record (see Summary for the layout)
  long ts;
  int caplen;
  long origlen;
  int dataOff;
  int ethertype;
  int proto;
  int tcpFlags;
  int sport;
  int dport;
  int payloadOff;
  int icmpType;
  int icmpCode;
  int sourceIndex;
  int ipVersion;
  long seq;
  long ack;
  long payloadLen;
  final byte[] src = new byte[16];
  final byte[] dst = new byte[16];

  // where it came from, and from whose point of view
  byte[] frame;
  int dlt;
  String direction;

  /** Decodes the record at {@code rec} of {@code m} (a batch's records copied to an array: plain
   *  array reads stay cheap before the JIT has compiled this, unlike ByteBuffer's). */
  void load(byte[] m, int rec) {
    ts = Record.le64(m, rec + Record.TS);
    caplen = Record.le32(m, rec + Record.CAPLEN);
    origlen = Record.le32(m, rec + Record.ORIGLEN) & 0xffffffffL;
    dataOff = Record.le32(m, rec + Record.DATA_OFFSET);
    ethertype = Record.le16(m, rec + Record.ETHERTYPE);
    proto = m[rec + Record.IP_PROTO] & 0xff;
    tcpFlags = m[rec + Record.TCP_FLAGS] & 0xff;
    sport = Record.le16(m, rec + Record.SPORT);
    dport = Record.le16(m, rec + Record.DPORT);
    payloadOff = Record.le16(m, rec + Record.PAYLOAD_OFFSET);
    icmpType = m[rec + Record.ICMP_TYPE] & 0xff;
    icmpCode = m[rec + Record.ICMP_CODE] & 0xff;
    sourceIndex = m[rec + Record.SOURCE_INDEX] & 0xff;
    ipVersion = m[rec + Record.IP_VERSION] & 0xff;
    seq = Record.le32(m, rec + Record.SEQ) & 0xffffffffL;
    ack = Record.le32(m, rec + Record.ACK) & 0xffffffffL;
    payloadLen = Record.le32(m, rec + Record.PAYLOAD_LENGTH) & 0xffffffffL;
    System.arraycopy(m, rec + Record.SRC, src, 0, 16);
    System.arraycopy(m, rec + Record.DST, dst, 0, 16);
  }

  /** Decodes one record given as its 80 bytes. */
  void load(byte[] record) {
    load(record, 0);
  }

  boolean hasPorts() {
    return proto == Protocols.IP_TCP || proto == Protocols.IP_UDP || proto == Protocols.IP_UDPLITE;
  }

  boolean isIcmp() {
    return proto == Protocols.IP_ICMP || proto == Protocols.IP_ICMPV6;
  }

  boolean isEcho() {
    return (proto == Protocols.IP_ICMP && (icmpType == 8 || icmpType == 0))
        || (proto == Protocols.IP_ICMPV6 && (icmpType == 128 || icmpType == 129));
  }

  boolean hasEthernet() {
    return dlt == Summary.DLT_EN10MB && caplen >= 14;
  }

  /** 'TCP', 'UDP', 'ICMP', 'ARP', 'ip-proto-N', 'ethertype-0xNNNN', or null. */
  String protoName() {
    if (proto != NO_PROTO) {
      String name = ipProtoName(proto);
      return name != null ? name : "ip-proto-" + proto;
    }
    if (ethertype != 0) {
      String name = ethertypeName(ethertype);
      return name != null ? name : String.format("ethertype-0x%04x", ethertype);
    }
    return null;
  }

  private static String ipProtoName(int p) {
    switch (p) {
      case Protocols.IP_ICMP: return "ICMP";
      case Protocols.IP_IGMP: return "IGMP";
      case Protocols.IP_TCP: return "TCP";
      case Protocols.IP_UDP: return "UDP";
      case Protocols.IP_GRE: return "GRE";
      case Protocols.IP_ESP: return "ESP";
      case Protocols.IP_ICMPV6: return "ICMPv6";
      case Protocols.IP_SCTP: return "SCTP";
      case Protocols.IP_UDPLITE: return "UDPLite";
      default: return null;
    }
  }

  private static String ethertypeName(int t) {
    switch (t) {
      case Protocols.ETHERTYPE_IPV4: return "IPv4";
      case Protocols.ETHERTYPE_IPV6: return "IPv6";
      case Protocols.ETHERTYPE_ARP: return "ARP";
      case 0x88cc: return "LLDP";
      case 0x8035: return "RARP";
      case 0x8847: return "MPLS";
      default: return null;
    }
  }

  /** Whether src/dst hold an address to print (an ARP sender of 0.0.0.0 counts as none). */
  boolean hasAddress(byte[] a) {
    if (ipVersion == 4 || ipVersion == 6) {
      return true;
    }
    return ethertype == ETHERTYPE_ARP && (a[0] | a[1] | a[2] | a[3]) != 0;
  }

  /** Appends src or dst as inet_ntop writes it, or "None" when there is none (what str(None) prints). */
  void address(Out o, byte[] a) {
    if (!hasAddress(a)) {
      o.ascii("None");
    } else if (ipVersion == 6) {
      ipv6(o, a);
    } else {
      ipv4(o, a, 0);
    }
  }

  static void ipv4(Out o, byte[] a, int at) {
    o.dec(a[at] & 0xff).ch('.').dec(a[at + 1] & 0xff).ch('.').dec(a[at + 2] & 0xff).ch('.').dec(a[at + 3] & 0xff);
  }

  /** glibc's inet_ntop for AF_INET6: the first longest run of 2+ zero words as "::", and
   *  IPv4-compatible and IPv4-mapped addresses with a dotted quad. */
  static void ipv6(Out o, byte[] a) {
    int bestBase = -1, bestLen = 0, curBase = -1, curLen = 0;
    for (int i = 0; i < 8; i++) {
      if (word(a, i) == 0) {
        if (curBase == -1) {
          curBase = i;
          curLen = 1;
        } else {
          curLen++;
        }
      } else if (curBase != -1) {
        if (bestBase == -1 || curLen > bestLen) {
          bestBase = curBase;
          bestLen = curLen;
        }
        curBase = -1;
      }
    }
    if (curBase != -1 && (bestBase == -1 || curLen > bestLen)) {
      bestBase = curBase;
      bestLen = curLen;
    }
    if (bestBase != -1 && bestLen < 2) {
      bestBase = -1;
    }
    for (int i = 0; i < 8; i++) {
      if (bestBase != -1 && i >= bestBase && i < bestBase + bestLen) {
        if (i == bestBase) {
          o.ch(':');
        }
        continue;
      }
      if (i != 0) {
        o.ch(':');
      }
      if (i == 6 && bestBase == 0 && (bestLen == 6 || (bestLen == 5 && word(a, 5) == 0xffff))) {
        ipv4(o, a, 12);
        return;
      }
      o.hex(word(a, i));
    }
    if (bestBase != -1 && bestBase + bestLen == 8) {
      o.ch(':');
    }
  }

  /** The {@code i}th 16-bit word of an IPv6 address (no array per address: printers call this
   *  for every packet). */
  private static int word(byte[] a, int i) {
    return ((a[2 * i] & 0xff) << 8) | (a[2 * i + 1] & 0xff);
  }

  static void mac(Out o, byte[] f, int at) {
    for (int i = 0; i < 6; i++) {
      if (i > 0) {
        o.ch(':');
      }
      o.hexByte(f[at + i], false);
    }
  }

  private static final String FLAG_LETTERS = "FSRP.UEW";

  /** tcpdump's flag letters: 'S', 'S.', 'P.', ... or 'none'. */
  void tcpFlagString(Out o) {
    if (tcpFlags == 0) {
      o.ascii("none");
      return;
    }
    for (int bit = 0; bit < 8; bit++) {
      if ((tcpFlags & (1 << bit)) != 0) {
        o.ch(FLAG_LETTERS.charAt(bit));
      }
    }
  }

  /** Where the captured part of the transport payload lies in the frame: [start, end). */
  int payloadStart() {
    return payloadOff == 0 ? 0 : Math.min(payloadOff, caplen);
  }

  int payloadEnd() {
    if (payloadOff == 0) {
      return 0;
    }
    return (int) Math.min((long) payloadOff + payloadLen, caplen);
  }

  /** A clock that formats the part of a time stamp up to the second once per second. */
  static final class Clock {
    private final ZoneRules rules; // null: UTC, ISO 8601 date and time
    private final boolean date; // with rules: the local date first (tcpdump -tttt)
    private long second = Long.MIN_VALUE;
    private final byte[] text;

    /**
     * The tz database's names of UTC (links to Etc/UTC and Etc/GMT, which never had another
     * offset): the zone of most servers and containers, whose rules need no tz database.
     */
    private static final Set<String> UTC_NAMES = Set.of("UTC", "Etc/UTC", "UCT", "Etc/UCT",
        "Universal", "Etc/Universal", "Zulu", "Etc/Zulu", "GMT", "Etc/GMT", "GMT0", "Etc/GMT0",
        "GMT+0", "Etc/GMT+0", "GMT-0", "Etc/GMT-0", "Greenwich", "Etc/Greenwich");

    /** Local wall-clock time (HH:MM:SS) in {@code zone}. */
    static Clock local(String zone) {
      return new Clock(rules(zone), false, 8);
    }

    /** Local date and time ('YYYY-MM-DD HH:MM:SS', tcpdump -tttt) in {@code zone}. */
    static Clock localDate(String zone) {
      return new Clock(rules(zone), true, 19);
    }

    /** The zone's rules; UTC's without loading the tz database (~10 ms and 20 classes at start). */
    private static ZoneRules rules(String zone) {
      return UTC_NAMES.contains(zone) ? ZoneOffset.UTC.getRules() : ZoneId.of(zone).getRules();
    }

    /** UTC date and time, 'YYYY-MM-DDTHH:MM:SS'. */
    static Clock utc() {
      return new Clock(null, true, 19);
    }

    private Clock(ZoneRules rules, boolean date, int width) {
      this.rules = rules;
      this.date = date;
      this.text = new byte[width];
    }

    /** Appends the time stamp with microseconds (tcpdump's precision). */
    void append(Out o, long tsNs) {
      // the record's time stamp is an unsigned count of ns since 1970 (see Summary)
      long sec = Long.divideUnsigned(tsNs, 1_000_000_000L);
      if (sec != second) {
        render(sec);
        second = sec;
      }
      o.bytes(text).ch('.').dec(Long.remainderUnsigned(tsNs, 1_000_000_000L) / 1000, 6);
    }

    private void render(long sec) {
      Out o = new Out(text.length + 8);
      long local = rules == null ? sec : sec + rules.getOffset(Instant.ofEpochSecond(sec)).getTotalSeconds();
      if (date) {
        java.time.LocalDate d = java.time.LocalDate.ofEpochDay(Math.floorDiv(local, 86400));
        o.dec(d.getYear(), 4).ch('-').dec(d.getMonthValue(), 2).ch('-').dec(d.getDayOfMonth(), 2)
            .ch(rules == null ? 'T' : ' ');
      }
      timeOfDay(o, Math.floorMod(local, 86400));
      System.arraycopy(o.buf, 0, text, 0, text.length);
    }

    private static void timeOfDay(Out o, long s) {
      o.dec(s / 3600, 2).ch(':').dec(s / 60 % 60, 2).ch(':').dec(s % 60, 2);
    }
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
