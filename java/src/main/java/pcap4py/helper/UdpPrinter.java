package pcap4py.helper;

/**
 * UDP as tcpdump -n prints it: the addresses and ports, with -v the checksum where tcpdump checks
 * it, then the application tcpdump recognises by port (DNS and mDNS through {@link DnsPrinter}),
 * otherwise "UDP, length N".
 */
final class UdpPrinter {

  private final TextPrinter p;
  private final Out out;
  private final Frame f;
  final DnsPrinter dns;
  private final NtpPrinter ntp;
  private final SyslogPrinter syslog;
  private final DhcpPrinter dhcp;
  private final TunnelPrinter tunnel;

  UdpPrinter(TextPrinter p) {
    this.p = p;
    this.out = p.out;
    this.f = p.f;
    this.dns = new DnsPrinter(p);
    this.ntp = new NtpPrinter(p);
    this.syslog = new SyslogPrinter(p);
    this.dhcp = new DhcpPrinter(p);
    this.tunnel = new TunnelPrinter(p);
  }

  void print(int off, long length) {
    f.proto = "udp";
    if (!f.has(off, 4)) {
      p.addresses(-1, -1);
      out.ascii(": ");
      throw Frame.TRUNCATED;
    }
    int sport = f.u16(off);
    int dport = f.u16(off + 2);
    if (length < 8) {
      ports(sport, dport);
      out.ascii("truncated-udp ").dec(length);
      return;
    }
    if (!f.has(off + 4, 2)) {
      ports(sport, dport);
      throw Frame.TRUNCATED;
    }
    long ulen = f.u16(off + 4);
    if (ulen == 0 && length > 65535) {
      ulen = length;
    }
    if (ulen < 8) {
      ports(sport, dport);
      out.ascii("truncated-udplength ").dec(ulen);
      return;
    }
    ulen -= 8;
    length -= 8;
    if (ulen < length) {
      length = ulen;
    }
    ports(sport, dport);
    if (p.flags.verbose > 0 && !p.fragment && (p.ipVersion == 6 || p.flags.verbose > 1)) {
      checksum(off, length);
    }
    int at = off + 8;
    if (!p.flags.quick) {
      if (sport == 53 || dport == 53) {
        dns.print(at, length, false);
        return;
      }
      if (sport == 5353 || dport == 5353) {
        dns.print(at, length, true);
        return;
      }
      if (sport == 67 || dport == 67 || sport == 68 || dport == 68) {
        dhcp.print(at, length);
        return;
      }
      if (sport == 4789 || dport == 4789) {
        tunnel.vxlan(at, length);
        return;
      }
      if (sport == 6081 || dport == 6081) {
        tunnel.geneve(at, length);
        return;
      }
      if (sport == 123 || dport == 123) {
        ntp.print(at, length);
        return;
      }
      if (sport == 514 || dport == 514) {
        syslog.print(at, length);
        return;
      }
    }
    if (ulen > length && !p.fragment) {
      out.ascii("UDP, bad length ").dec(ulen).ascii(" > ").dec(length);
    } else {
      out.ascii("UDP, length ").dec(ulen);
    }
  }

  private void ports(int sport, int dport) {
    p.endpoints(Protocols.IP_UDP, sport, dport);
    out.ascii(": ");
  }

  private void checksum(int off, long length) {
    int stored = f.u16(off + 6);
    if (p.ipVersion == 4 && stored == 0) {
      out.ascii("[no cksum] ");
      return;
    }
    if (!f.has(off + 8, (int) length)) {
      return;
    }
    long sum = Checksum.pseudo(f.b, p.ipOff, p.ipVersion, Protocols.IP_UDP, length + 8);
    int folded = Checksum.fold(Checksum.add(sum, f.b, off, (int) length + 8));
    if (folded != 0xffff) {
      out.ascii("[bad udp cksum 0x").hex(stored, 4).ascii(" -> 0x")
          .hex(Checksum.shouldBe(stored, folded), 4).ascii("!] ");
    } else {
      out.ascii("[udp sum ok] ");
    }
  }
}
