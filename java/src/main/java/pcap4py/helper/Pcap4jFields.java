package pcap4py.helper;

import java.lang.reflect.Field;

/** The native pointers Pcap4J keeps in private fields (a handle's pcap_t, a dumper's pcap_dumper_t). */
final class Pcap4jFields {

  private Pcap4jFields() {}

  static Object get(Class<?> type, Object target, String name) {
    try {
      Field f = type.getDeclaredField(name);
      f.setAccessible(true);
      return f.get(target);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("incompatible Pcap4J: no field " + name + " in " + type, e);
    }
  }
}
