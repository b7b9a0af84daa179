package pcap4py.helper;

/**
 * The initial sequence numbers of the TCP connections seen so far, as tcpdump keeps them for its
 * relative numbers: one entry per connection (both directions), set on a connection's first
 * segment with ACK (again on every SYN). Open addressing over fixed arrays; when three quarters
 * full it forgets everything (memory stays bounded; a forgotten connection starts over, as after
 * a SYN). Keys are 64-bit hashes of the addresses and ports in a fixed order.
 */
final class TcpSeqTable {

  static final int CAPACITY = 1 << 16;

  private final long[] keys = new long[CAPACITY];
  private final long[] seqs = new long[CAPACITY];
  private final long[] acks = new long[CAPACITY];
  private int used;

  /** The slot of {@code key} (0 is never a key), or the empty slot where it would go. */
  int slot(long key) {
    int i = (int) (mix(key) & (CAPACITY - 1));
    while (keys[i] != 0 && keys[i] != key) {
      i = (i + 1) & (CAPACITY - 1);
    }
    return i;
  }

  boolean found(int slot) {
    return keys[slot] != 0;
  }

  /** Records a connection; returns its slot (the table may have been emptied first). */
  int put(long key, int slot, long seq, long ack) {
    if (keys[slot] == 0) {
      if (used >= CAPACITY * 3 / 4) {
        java.util.Arrays.fill(keys, 0L);
        used = 0;
        slot = slot(key);
      }
      used++;
    }
    keys[slot] = key;
    seqs[slot] = seq;
    acks[slot] = ack;
    return slot;
  }

  long seq(int slot) {
    return seqs[slot];
  }

  long ack(int slot) {
    return acks[slot];
  }

  /** A key for the bytes {@code b[from..from+n)} folded in, never 0. */
  static long hash(long h, byte[] b, int from, int n) {
    for (int i = from; i < from + n; i++) {
      h = (h ^ (b[i] & 0xff)) * 0x100000001b3L;
    }
    return h;
  }

  static long hashInt(long h, int v) {
    for (int s = 24; s >= 0; s -= 8) {
      h = (h ^ ((v >>> s) & 0xff)) * 0x100000001b3L;
    }
    return h;
  }

  static final long SEED = 0xcbf29ce484222325L;

  private static long mix(long k) {
    k ^= k >>> 33;
    k *= 0xff51afd7ed558ccdL;
    k ^= k >>> 33;
    return k;
  }
}
