package pcap4py.helper;

/** Protocol numbers and ethertypes, named once for every Java reader and printer. */
final class Protocols {

  static final int ETHERTYPE_IPV4 = 0x0800;
  static final int ETHERTYPE_ARP = 0x0806;
  static final int ETHERTYPE_RARP = 0x8035;
  static final int ETHERTYPE_VLAN = 0x8100;
  static final int ETHERTYPE_QINQ = 0x88a8;
  static final int ETHERTYPE_IPV6 = 0x86dd;

  static final int IP_HOPOPTS = 0;
  static final int IP_ICMP = 1;
  static final int IP_IGMP = 2;
  static final int IP_IPIP = 4;
  static final int IP_TCP = 6;
  static final int IP_UDP = 17;
  static final int IP_IPV6 = 41;
  static final int IP_ROUTING = 43;
  static final int IP_FRAGMENT = 44;
  static final int IP_GRE = 47;
  static final int IP_ESP = 50;
  static final int IP_AH = 51;
  static final int IP_ICMPV6 = 58;
  static final int IP_NONE = 59;
  static final int IP_DSTOPTS = 60;
  static final int IP_SCTP = 132;
  static final int IP_UDPLITE = 136;

  private Protocols() {}

  /** tcpdump's name of an IP protocol (its ipproto_values), or null. */
  static String ipName(int p) {
    switch (p) {
      case IP_HOPOPTS: return "Options";
      case IP_ICMP: return "ICMP";
      case IP_IGMP: return "IGMP";
      case IP_IPIP: return "IPIP";
      case IP_TCP: return "TCP";
      case 8: return "EGP";
      case 9: return "IGRP";
      case IP_UDP: return "UDP";
      case IP_IPV6: return "IPv6";
      case IP_ROUTING: return "Routing";
      case IP_FRAGMENT: return "Fragment";
      case 46: return "RSVP";
      case IP_GRE: return "GRE";
      case IP_ESP: return "ESP";
      case IP_AH: return "AH";
      case IP_ICMPV6: return "ICMPv6";
      case IP_NONE: return "NONE";
      case IP_DSTOPTS: return "DSTOPTS";
      case 89: return "OSPF";
      case 103: return "PIM";
      case 112: return "VRRP";
      case IP_SCTP: return "SCTP";
      case IP_UDPLITE: return "UDPLite";
      default: return null;
    }
  }

  /** tcpdump's name of an ethertype (its ethertype_values), or null. */
  static String etherName(int t) {
    switch (t) {
      case ETHERTYPE_IPV4: return "IPv4";
      case ETHERTYPE_ARP: return "ARP";
      case ETHERTYPE_RARP: return "Reverse ARP";
      case ETHERTYPE_VLAN: return "802.1Q";
      case ETHERTYPE_QINQ: return "802.1Q-QinQ";
      case ETHERTYPE_IPV6: return "IPv6";
      case 0x8847: return "MPLS unicast";
      case 0x8848: return "MPLS multicast";
      case 0x88cc: return "LLDP";
      case 0x8863: return "PPPoE D";
      case 0x8864: return "PPPoE S";
      case 0x888e: return "EAPOL";
      case 0x88e5: return "MACsec";
      case 0x9000: return "Loopback";
      default: return null;
    }
  }
}
