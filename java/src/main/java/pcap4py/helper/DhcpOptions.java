package pcap4py.helper;

/** DHCP option names as tcpdump prints them, each after a letter saying how its data prints
 *  (i: addresses, l: 32-bit numbers, s: 16-bit numbers, a: text, b: bytes, $: its own way). */
final class DhcpOptions {

  private DhcpOptions() {}

  static String name(int tag) {
    switch (tag) {
      case 0: return "bPad";
      case 1: return "iSubnet-Mask";
      case 2: return "lTime-Zone";
      case 3: return "iDefault-Gateway";
      case 4: return "iTime-Server";
      case 5: return "iIEN-Name-Server";
      case 6: return "iDomain-Name-Server";
      case 7: return "iLOG";
      case 9: return "iLPR-Server";
      case 12: return "aHostname";
      case 13: return "sBS";
      case 15: return "aDomain-Name";
      case 17: return "aRP";
      case 19: return "bIPF";
      case 23: return "bTTL";
      case 26: return "sMTU";
      case 28: return "iBR";
      case 33: return "pSR";
      case 40: return "aYD";
      case 41: return "iYS";
      case 42: return "iNTP";
      case 43: return "bVO";
      case 44: return "iNetbios-Name-Server";
      case 46: return "bNetbios-Node";
      case 47: return "aNetbios-Scope";
      case 50: return "iRequested-IP";
      case 51: return "lLease-Time";
      case 53: return "$DHCP-Message";
      case 54: return "iServer-ID";
      case 55: return "$Parameter-Request";
      case 56: return "aMSG";
      case 57: return "sMSZ";
      case 58: return "lRN";
      case 59: return "lRB";
      case 60: return "aVendor-Class";
      case 61: return "$Client-ID";
      case 66: return "aTFTP";
      case 67: return "aBF";
      case 255: return "bEND";
      default: return null;
    }
  }
}
