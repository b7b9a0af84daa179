package pcap4py.helper;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/**
 * The few libpcap calls on the per-packet path, bound with JNA direct mapping.
 *
 * <p>Pcap4J's own per-packet path costs about 10 us (it allocates a header, a timestamp and a
 * byte array per packet); direct-mapped calls on the handle's native pointer cost well under one.
 * The library is the one Pcap4J loads, so both share one libpcap.
 */
final class Libpcap {

  static {
    String name =
        System.getProperty("org.pcap4j.core.pcapLibName", Platform.isWindows() ? "wpcap" : "pcap");
    Native.register(Libpcap.class, NativeLibrary.getInstance(name));
  }

  private Libpcap() {}

  /** pcap_next_ex: 1 packet, 0 none yet (timeout or non-blocking), -1 error, -2 end of file. */
  static native int pcap_next_ex(Pointer pcap, Pointer headerOut, Pointer dataOut);

  /** pcap_dump: the first argument is the pcap_dumper_t, passed as u_char *. */
  static native void pcap_dump(Pointer dumper, Pointer header, Pointer data);

  /** pcap_dump_flush: 0, or -1 when fflush failed (errno says why). */
  static native int pcap_dump_flush(Pointer dumper);

  /** pcap_dump_file: the dumper's stdio FILE. */
  static native Pointer pcap_dump_file(Pointer dumper);

  /** pcap_dump_ftell64: the stream's position, buffered bytes included (libpcap 1.9+). */
  static native long pcap_dump_ftell64(Pointer dumper);

  /** The C library's stdio calls on a dumper's FILE. */
  static final class Stdio {
    static {
      Native.register(Stdio.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
    }

    private Stdio() {}

    /** ferror: non-zero once a write to the stream has failed (pcap_dump's fwrite says nothing). */
    static native int ferror(Pointer file);
  }

  static native int pcap_get_selectable_fd(Pointer pcap);

  static native int pcap_snapshot(Pointer pcap);

  /** pcap_datalink_val_to_name: libpcap's name of a DLT_ value ("EN10MB"), or null. */
  static native String pcap_datalink_val_to_name(int dlt);

  /** pcap_offline_filter: the filter's return value for one packet (0: rejected). */
  static native int pcap_offline_filter(Pointer program, Pointer header, Pointer data);
}
