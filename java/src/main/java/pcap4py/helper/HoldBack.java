package pcap4py.helper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Encoded packet blocks held back in time order until the wall clock is past their time stamp by
 * the hold-back, so that packets a live handle delivers late (a block of them, up to its timeout
 * after the first arrived) still go out in time order across interfaces.
 *
 * <p>Blocks are encoded into {@link #buffer()} (which the encoder may replace by a bigger one,
 * handed back with {@link #keep}), each round's run {@link #remember}ed, then the runs {@link
 * #mergeRuns merged}; {@link #release} hands the due ones to a {@link Target} in time order.
 */
final class HoldBack {

  /** Where released blocks go. */
  interface Target {
    /** Whether no block may go now (a full file waits for the next). */
    boolean full();

    /** Writes one encoded block. */
    void put(ByteBuffer block) throws IOException;
  }

  private ByteBuffer hold = ByteBuffer.allocate(Room.FIRST).order(ByteOrder.LITTLE_ENDIAN); // grown by the encoder
  private ByteBuffer spare = ByteBuffer.allocate(Room.FIRST).order(ByteOrder.LITTLE_ENDIAN);
  private long[] heldTs = new long[1024];
  private int[] heldOff = new int[1024];
  private int[] heldLen = new int[1024];
  private int held;

  /** The buffer to encode held blocks into. */
  ByteBuffer buffer() {
    return hold;
  }

  /** Takes back the buffer encoded into (grown, perhaps). */
  void keep(ByteBuffer grown) {
    hold = grown;
  }

  /** Blocks waiting. */
  int count() {
    return held;
  }

  /** Notes the block encoded at {@code offset}, {@code length} bytes, stamped {@code ts}. */
  void remember(long ts, int offset, int length) {
    if (held == heldTs.length) {
      heldTs = Arrays.copyOf(heldTs, held * 2);
      heldOff = Arrays.copyOf(heldOff, held * 2);
      heldLen = Arrays.copyOf(heldLen, held * 2);
    }
    heldTs[held] = ts;
    heldOff[held] = offset;
    heldLen[held] = length;
    held++;
  }

  /** Merges the sorted runs [0, split) (held before) and [split, count) (this round) into one. */
  void mergeRuns(int split) {
    if (split == 0 || split == held || heldTs[split - 1] <= heldTs[split]) {
      return;
    }
    long[] ts = new long[held];
    int[] off = new int[held];
    int[] len = new int[held];
    int a = 0;
    int b = split;
    for (int k = 0; k < held; k++) {
      boolean fromA = b >= held || (a < split && heldTs[a] <= heldTs[b]);
      int i = fromA ? a++ : b++;
      ts[k] = heldTs[i];
      off[k] = heldOff[i];
      len[k] = heldLen[i];
    }
    System.arraycopy(ts, 0, heldTs, 0, held);
    System.arraycopy(off, 0, heldOff, 0, held);
    System.arraycopy(len, 0, heldLen, 0, held);
  }

  /** Hands the blocks stamped at or before {@code watermark} to {@code target}; keeps the rest, compacted. */
  void release(long watermark, Target target) throws IOException {
    int k = 0;
    ByteBuffer view = hold.duplicate();
    while (k < held && heldTs[k] <= watermark && !target.full()) {
      view.clear();
      view.position(heldOff[k]);
      view.limit(heldOff[k] + heldLen[k]);
      target.put(view);
      k++;
    }
    if (k == 0) {
      return;
    }
    if (spare.capacity() < hold.capacity()) {
      spare = ByteBuffer.allocate(hold.capacity()).order(ByteOrder.LITTLE_ENDIAN);
    }
    spare.clear();
    for (int i = k; i < held; i++) {
      view.clear();
      view.position(heldOff[i]);
      view.limit(heldOff[i] + heldLen[i]);
      heldTs[i - k] = heldTs[i];
      heldOff[i - k] = spare.position();
      heldLen[i - k] = heldLen[i];
      spare.put(view);
    }
    held -= k;
    ByteBuffer t = hold;
    hold = spare;
    spare = t;
  }
}
