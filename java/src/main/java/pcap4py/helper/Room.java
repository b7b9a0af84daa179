package pcap4py.helper;

/**
 * Sizes of the working arrays that grow with the traffic instead of being made at their largest.
 *
 * <p>Java zeroes a new array whole, so an array made at its largest is resident whole from the
 * start (and is copied whole when a collection promotes it): a 100-packet read held ~6 MB of
 * output and frame room it never used. These arrays start at {@link #FIRST} bytes and double as
 * a frame or a round's output asks, up to their largest.
 */
final class Room {

  /** The first size of a growing array: a typical frame, or a round of short lines. */
  static final int FIRST = 64 << 10;

  /**
   * The most a line formatter's output grows to by doubling: ~10,000 text lines a call, so the
   * crossings back to Python cost nothing measurable; only a frame whose worst-case output needs
   * more (a 256 KiB frame's hex rows) takes it further.
   */
  static final int MOST_OUT = 1 << 20;

  private Room() {}

  /** The size to grow an array of {@code have} bytes to, to hold {@code need}, at most {@code most}. */
  static int grown(int have, int need, int most) {
    return (int) Math.min(most, Math.max(need, 2L * have));
  }
}
