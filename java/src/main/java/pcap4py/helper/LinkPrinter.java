package pcap4py.helper;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * The link layers as tcpdump -n prints them: Ethernet (with -e its MACs, ethertype and length;
 * 802.1Q tags), Linux cooked v1 and v2 (v2: the interface name and In/Out/M/B/P columns), raw IP
 * and BSD loopback. It hands the payload to {@link TextPrinter#ether}.
 */
final class LinkPrinter {

  private static final String[] PACKET_TYPES = {"In", "B", "M", "P", "Out"};

  private final TextPrinter p;
  private final Out out;
  private final Frame f;
  /** The link header's length, known as soon as it is read (the -x dump starts after it). */
  int headerLength;
  private final Map<Integer, byte[]> ifNames = new HashMap<>();

  LinkPrinter(TextPrinter p) {
    this.p = p;
    this.out = p.out;
    this.f = p.f;
  }

  /** Prints the packet from its link layer on; returns the link header's length. */
  int print(int dlt) {
    headerLength = 0;
    switch (dlt) {
      case Summary.DLT_EN10MB:
        return ethernet();
      case Summary.DLT_LINUX_SLL:
        return sll();
      case Summary.DLT_LINUX_SLL2:
        return sll2();
      case Summary.DLT_RAW:
      case Summary.DLT_RAW_OPENBSD:
      case Summary.DLT_RAW_BSDOS:
        return raw();
      case Summary.DLT_NULL:
      case Summary.DLT_LOOP:
        return loopback(dlt);
      default:
        out.ascii("link-type ").dec(dlt).ascii(", length ").dec(f.origlen);
        return 0;
    }
  }

  private int ethernet() {
    f.proto = "ether";
    if (f.caplen < 14) {
      throw Frame.TRUNCATED;
    }
    headerLength = 14;
    return ethernet(0, f.origlen, true);
  }

  /** An Ethernet frame at {@code base} ({@code wire} bytes; {@code top}: the packet's own link
   *  layer, not one inside a tunnel); returns where its payload starts. */
  int ethernet(int base, long wire, boolean top) {
    f.proto = "ether";
    f.need(base, 14);
    boolean e = p.flags.link;
    if (e) {
      p.mac(base + 6);
      out.ascii(" > ");
      p.mac(base);
      out.ascii(", ");
    }
    int type = f.u16(base + 12);
    int off = base + 14;
    if (type <= 1500) {
      if (e) {
        out.ascii("802.3, length ").dec(wire).ascii(": ");
      }
      out.ascii("LLC, length ").dec(wire - 14);
      return off;
    }
    if (e) {
      etherType(type);
      out.ascii(", length ").dec(wire).ascii(": ");
    }
    while (type == Protocols.ETHERTYPE_VLAN || type == Protocols.ETHERTYPE_QINQ || type == 0x9100) {
      int tci = f.u16(off);
      type = f.u16(off + 2);
      off += 4;
      if (top) {
        headerLength = off;
      }
      if (e) { // without -e tcpdump says nothing of the tags
        out.ascii("vlan ").dec(tci & 0xfff).ascii(", p ").dec(tci >> 13);
        if ((tci & 0x1000) != 0) {
          out.ascii(", DEI");
        }
        out.ascii(", ");
        etherType(type);
        out.ascii(", ");
      }
    }
    return payload(type, off, base, wire - (off - base), top);
  }

  private int payload(int type, int off, boolean ethernet) {
    return payload(type, off, ethernet ? 0 : -1, f.origlen - off, true);
  }

  /** The payload of ethertype {@code type} at {@code off}; {@code base}: where the Ethernet
   *  header starts (-1: no Ethernet header to print for an unknown type). */
  private int payload(int type, int off, int base, long len, boolean top) {
    if (top) {
      headerLength = off;
    }
    if (!p.ether(type, off, len)) {
      if (!p.flags.link) {
        if (base >= 0) {
          p.mac(base + 6);
          out.ascii(" > ");
          p.mac(base);
          out.ascii(", ");
        }
        etherType(type);
        out.ascii(", length ").dec(len + (base >= 0 ? off - base : off)).ascii(": ");
      }
      p.unknownPayload(off);
    }
    return off;
  }

  private void etherType(int type) {
    String name = Protocols.etherName(type);
    if (p.flags.quick) {
      if (name == null) {
        out.ascii("Unknown Ethertype (0x").hex(type, 4).ch(')');
      } else {
        out.ascii(name);
      }
      return;
    }
    out.ascii("ethertype ").ascii(name == null ? "Unknown" : name).ascii(" (0x").hex(type, 4).ch(')');
  }

  private int sll() {
    f.proto = "sll";
    if (f.caplen < 16) {
      throw Frame.TRUNCATED;
    }
    headerLength = 16;
    int type = f.u16(14);
    if (p.flags.link) {
      int pkttype = f.u16(0);
      String t = pkttype < PACKET_TYPES.length ? PACKET_TYPES[pkttype] : "?";
      out.spaces(3 - t.length()).ascii(t).ch(' ');
      linkAddress(f.u16(4), 6);
      ethertypeColumn(type);
    }
    return payload(type, 16, false);
  }

  private int sll2() {
    f.proto = "sll2";
    if (f.caplen < 20) {
      throw Frame.TRUNCATED;
    }
    headerLength = 20;
    int type = f.u16(0);
    long ifindex = f.u32(4);
    int pkttype = f.u8(10);
    byte[] name = ifName((int) ifindex);
    out.bytes(name).spaces(Math.max(0, 5 - name.length)).ch(' ');
    String t = pkttype < PACKET_TYPES.length ? PACKET_TYPES[pkttype] : "?";
    out.ascii(t).spaces(3 - t.length()).ch(' ');
    if (p.flags.link) {
      out.ascii("ifindex ").dec(ifindex).ch(' ');
      linkAddress(f.u8(11), 12);
      ethertypeColumn(type);
    }
    return payload(type, 20, false);
  }

  private void linkAddress(int len, int at) {
    for (int i = 0; i < Math.min(len, 8); i++) {
      if (i > 0) {
        out.ch(':');
      }
      out.hexByte(f.u8(at + i), false);
    }
    out.ch(' ');
  }

  private void ethertypeColumn(int type) {
    if (p.flags.quick) {
      return; // cooked headers say nothing more with -q
    }
    etherType(type);
    out.ascii(", length ").dec(f.origlen).ascii(": ");
  }

  /** The name of interface {@code index} in this process's namespace, as tcpdump looks it up
   *  when it reads the file ("?" when there is none); remembered per index. */
  private byte[] ifName(int index) {
    byte[] name = ifNames.get(index);
    if (name == null) {
      name = IfNames.name(index);
      if (ifNames.size() < 4096) {
        ifNames.put(index, name);
      }
    }
    return name;
  }

  private int raw() {
    f.proto = "raw";
    int version = f.u8(0) >> 4;
    if (version == 4 || version == 6) {
      p.ipPrinter.print(0, f.origlen, version);
    } else {
      out.ascii("IP").dec(version);
    }
    return 0;
  }

  private int loopback(int dlt) {
    f.proto = "null";
    if (f.caplen < 4) {
      throw Frame.TRUNCATED;
    }
    headerLength = 4;
    long family = dlt == Summary.DLT_LOOP ? f.u32(0)
        : (f.b[0] & 0xff) | (f.b[1] & 0xff) << 8 | (f.b[2] & 0xff) << 16 | (long) (f.b[3] & 0xff) << 24;
    if (family > 0xffff && dlt == Summary.DLT_NULL) { // written on a host of the other byte order
      family = f.u32(0);
    }
    String name = family == 2 ? "IPv4" : family == 24 || family == 28 || family == 30 ? "IPv6" : null;
    if (p.flags.link || name == null) {
      out.ascii("AF ").ascii(name == null ? "Unknown" : name).ascii(" (").dec(family).ascii("), length ")
          .dec(f.origlen).ascii(": ");
    }
    if (name == null) {
      p.unknownPayload(4);
    } else {
      p.ipPrinter.print(4, f.origlen - 4, name.equals("IPv4") ? 4 : 6);
    }
    return 4;
  }

  /** libc's if_indextoname through JNA (Java's NetworkInterface skips interfaces without
   *  addresses); registered on first use. */
  static final class IfNames {
    private static boolean registered;

    static native Pointer if_indextoname(int index, byte[] name);

    static synchronized byte[] name(int index) {
      byte[] buf = new byte[64];
      try {
        if (!registered) {
          Native.register(IfNames.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
          registered = true;
        }
        if (index > 0 && if_indextoname(index, buf) != null) {
          int n = 0;
          while (n < buf.length && buf[n] != 0) {
            n++;
          }
          return new String(buf, 0, n, StandardCharsets.UTF_8).getBytes(StandardCharsets.UTF_8);
        }
      } catch (LinkageError e) {
        // no libc through JNA: names unknown, as tcpdump prints them then
      }
      return new byte[] {'?'};
    }
  }
}
