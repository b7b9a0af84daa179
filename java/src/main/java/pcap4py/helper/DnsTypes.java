package pcap4py.helper;

/** DNS record type names as tcpdump prints them. */
final class DnsTypes {

  private static final String[] LOW = {
    null, "A", "NS", "MD", "MF", "CNAME", "SOA", "MB", "MG", "MR", "NULL", "WKS", "PTR", "HINFO",
    "MINFO", "MX", "TXT", "RP", "AFSDB", "X25", "ISDN", "RT", "NSAP", "NSAP_PTR", "SIG", "KEY", "PX",
    "GPOS", "AAAA", "LOC", "NXT", "EID", "NIMLOC", "SRV", "ATMA", "NAPTR", "KX", "CERT", "A6", "DNAME",
    "SINK", "OPT", "APL", "DS", "SSHFP", "IPSECKEY", "RRSIG", "NSEC", "DNSKEY", "DHCID", "NSEC3",
    "NSEC3PARAM", "TLSA", "SMIMEA", null, "HIP", null, null, null, "CDS", "CDNSKEY", "OPENPGPKEY",
    "CSYNC", "ZONEMD",
  };

  private DnsTypes() {}

  static String name(int t) {
    if (t < LOW.length) {
      return LOW[t];
    }
    switch (t) {
      case 99: return "SPF";
      case 100: return "UINFO";
      case 101: return "UID";
      case 102: return "GID";
      case 103: return "UNSPEC";
      case 249: return "TKEY";
      case 250: return "TSIG";
      case 251: return "IXFR";
      case 252: return "AXFR";
      case 253: return "MAILB";
      case 254: return "MAILA";
      case 255: return "ANY";
      case 256: return "URI";
      case 257: return "CAA";
      case 32768: return "TA";
      case 32769: return "DLV";
      default: return null;
    }
  }
}
