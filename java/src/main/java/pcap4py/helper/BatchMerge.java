package pcap4py.helper;

import java.nio.ByteBuffer;

/** Merging the batches of a read round by time: which batch holds the earliest next packet. */
final class BatchMerge {

  private BatchMerge() {}

  /**
   * The batch whose next record ({@code next[b]} of {@code counts[b]}) has the least time stamp
   * (unsigned; ties: the first such batch), or -1 when every batch is done. The records are
   * little-endian ({@link Record}).
   */
  static int earliest(ByteBuffer[] metas, int[] counts, int[] next) {
    int pick = -1;
    long least = 0;
    for (int b = 0; b < metas.length; b++) {
      if (next[b] < counts[b]) {
        long ts = metas[b].getLong(next[b] * Record.SIZE);
        if (pick < 0 || Long.compareUnsigned(ts, least) < 0) {
          pick = b;
          least = ts;
        }
      }
    }
    return pick;
  }
}
