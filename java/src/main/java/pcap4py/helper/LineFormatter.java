package pcap4py.helper;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Formats whole batches as output lines into a buffer Python writes with one {@code os.write}:
 * tcpdump -n's text lines ({@code text}), tcpdump -X's hex rows or, with a container's point of
 * view, the OUT:/IN: payload tables ({@code hexdump}), JSON lines ({@code jsonl}) and the records of
 * one streamed JSON array ({@code json}: Python writes the brackets). No Python object is made per
 * packet.
 *
 * <p>Use: {@link #begin} with one round's batches (several are merged by time stamp), then {@link
 * #next} until it returns 0; each call fills the output buffer with as many whole packets as fit.
 * With {@link #setPointOfView} (a container's MACs and IPs) each packet gets its direction. One
 * thread at a time.
 */
public final class LineFormatter {

  private static final int TEXT = 0;
  private static final int HEXDUMP = 1;
  private static final int JSONL = 2;
  private static final int JSON = 3;

  private static final String[] DIRECTIONS = {null, "in", "out"}; // by PointOfView's values

  private final int format;
  private final boolean withInterface;
  private byte[][] names; // interface names as text, by source index (grown by addSource)
  private byte[][] jsonNames; // and as JSON strings
  private int[] linktypes;
  private final Fields.Clock local;
  private final Fields.Clock utc = Fields.Clock.utc();
  private final Fields f = new Fields();
  private byte[] usualFrame = new byte[Room.FIRST]; // grows to the usual largest as frames ask
  private byte[] frame = usualFrame; // a bigger one for a frame above the usual size, while it is formatted
  private final Out out;
  private byte[] usualOut; // the output buffer's own array (a frame above the usual size borrows a bigger one)
  private final int outCapacity; // the size of the caller's buffers: usualOut grows up to it
  private boolean outFull; // the last call stopped for room in usualOut: the next one doubles it
  private int handedOut; // bytes of out already copied to the caller's buffers (a big frame's output, in pieces)
  private final TextPrinter text;
  private JsonFacts facts; // JSON formats only

  private PointOfView pov; // null: packets have no direction (unless their source has its own)
  private PointOfView[] povs = new PointOfView[0]; // per source index, where sources differ
  private boolean firstRecord = true;

  // the round being formatted
  private byte[][] metas = new byte[0][]; // the records, copied once per round
  private ByteBuffer[] metaBuffers = new ByteBuffer[0]; // the same, for the one merge by time
  private ByteBuffer[] datas = new ByteBuffer[0];
  private int[] counts = new int[0];
  private int[] cursors = new int[0];

  /**
   * {@code format}: text, hexdump, jsonl or json; {@code interfaces} and {@code linktypes} per
   * source index; {@code zone}: the time zone of text time stamps (a tz database name or an
   * offset such as +05:30); {@code outCapacity}: the size of the buffers {@link #next} fills.
   */
  public LineFormatter(String format, String[] interfaces, int[] linktypes, boolean withInterface,
      String zone, int outCapacity) {
    this.format = Arrays.asList("text", "hexdump", "jsonl", "json").indexOf(format);
    if (this.format < 0) {
      throw new IllegalArgumentException("no such line format: " + format);
    }
    if (outCapacity < maxBytes(Summary.MAX_FRAME, 4096)) {
      throw new IllegalArgumentException("output buffer too small for one frame: " + outCapacity);
    }
    this.withInterface = withInterface;
    this.linktypes = linktypes.clone();
    this.names = new byte[interfaces.length][];
    this.jsonNames = new byte[interfaces.length][];
    for (int i = 0; i < interfaces.length; i++) {
      names[i] = Fields.utf8(interfaces[i]);
      jsonNames[i] = JsonFields.quoted(interfaces[i]);
    }
    this.local = Fields.Clock.local(zone);
    this.outCapacity = outCapacity;
    this.out = new Out(Math.min(Room.FIRST, outCapacity));
    this.usualOut = out.buf;
    this.text = new TextPrinter(out, zone);
    this.facts = this.format >= JSONL ? new JsonFacts(zone) : null;
  }

  /** tcpdump's printing flags for the text lines (see {@link PrintFlags}). */
  public void setPrintFlags(PrintFlags flags) {
    text.flags = flags;
  }

  /** Takes this point of view: every packet gets its direction (see {@link PointOfView}). */
  public void setPointOfView(PointOfView pov) {
    this.pov = pov;
  }

  /** Source {@code source}'s packets take this point of view (several containers in one capture). */
  public void setPointOfView(int source, PointOfView pov) {
    if (source >= povs.length) {
      povs = Arrays.copyOf(povs, source + 1);
    }
    povs[source] = pov;
  }

  /** A source joining the capture: it takes the next source index. */
  public void addSource(String name, int linktype) {
    int n = names.length;
    names = Arrays.copyOf(names, n + 1);
    jsonNames = Arrays.copyOf(jsonNames, n + 1);
    linktypes = Arrays.copyOf(linktypes, n + 1);
    names[n] = Fields.utf8(name);
    jsonNames[n] = JsonFields.quoted(name);
    linktypes[n] = linktype;
  }

  /** A source joining with the index of one that left (a long capture reuses indexes): it replaces it. */
  public void setSource(int index, String name, int linktype) {
    if (index >= names.length) {
      addSource(name, linktype);
      return;
    }
    names[index] = Fields.utf8(name);
    jsonNames[index] = JsonFields.quoted(name);
    linktypes[index] = linktype;
    if (index < povs.length) {
      povs[index] = null;
    }
  }

  /** Starts a round of one batch. */
  public void begin(ByteBuffer meta, ByteBuffer data, int count) {
    begin(new ByteBuffer[] {meta}, new ByteBuffer[] {data}, new int[] {count});
  }

  /** Starts a round of several batches, to be merged by time stamp. */
  public void begin(ByteBuffer[] metas, ByteBuffer[] datas, int[] counts) {
    this.metas = new byte[metas.length][];
    for (int i = 0; i < metas.length; i++) {
      this.metas[i] = new byte[counts[i] * Record.SIZE];
      metas[i].position(0);
      metas[i].get(this.metas[i]);
    }
    this.datas = datas;
    this.metaBuffers = new ByteBuffer[metas.length];
    for (int i = 0; i < metas.length; i++) { // little-endian, as Record says (the caller's order may differ)
      this.metaBuffers[i] = ByteBuffer.wrap(this.metas[i]).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    }
    this.counts = counts;
    this.cursors = new int[metas.length];
  }

  /**
   * Formats the next packets of the round into {@code dst} (from offset 0); returns the byte
   * count, 0 once the round is done. A frame above the usual size (up to its link type's
   * largest, {@link LinkTypes#maxSnaplen}) is formatted alone into a buffer of its own, handed
   * over in pieces of {@code dst}'s size by this and the next calls; normal traffic never needs it.
   */
  public int next(ByteBuffer dst) {
    if (handedOut < out.pos) {
      return handOut(dst);
    }
    out.pos = 0;
    handedOut = 0;
    if (outFull) {
      growOut(0);
    }
    int b;
    while ((b = nextBatch()) >= 0) {
      int rec = cursors[b] * Record.SIZE;
      f.load(metas[b], rec);
      int src = f.sourceIndex < names.length ? f.sourceIndex : 0;
      int budget = f.caplen <= Summary.MAX_FRAME ? maxBytes(f.caplen, jsonNames[src].length)
          : bigFrameBytes(f.caplen, jsonNames[src].length);
      if (out.remaining() < budget) {
        if (out.pos > 0) {
          outFull = usualOut.length < Math.min(Room.MOST_OUT, outCapacity);
          break; // the rest goes in the next call
        }
        if (budget <= outCapacity) {
          growOut(budget);
        } else {
          out.buf = bigArray(budget); // a big frame, alone: its output is handed over in pieces
        }
      }
      frame = frameFor(f.caplen);
      ByteBuffer data = datas[b];
      data.position(f.dataOff);
      data.get(frame, 0, f.caplen);
      f.frame = frame;
      f.dlt = linktypes[src];
      PointOfView view = src < povs.length && povs[src] != null ? povs[src] : pov;
      if (view != null) {
        f.direction = DIRECTIONS[view.direction(f.dlt, frame, 0, f.caplen, metas[b], rec)];
      } else { // JSON: what a Linux cooked header says, as Python's Packet.direction
        f.direction = format >= JSONL ? DIRECTIONS[PointOfView.kernelDirection(f.dlt, frame, 0, f.caplen)] : null;
      }
      append(src, view != null);
      cursors[b]++;
      frame = usualFrame;
    }
    return handOut(dst);
  }

  /** The array to copy a frame of {@code caplen} bytes into: the usual one, grown if need be. */
  private byte[] frameFor(int caplen) {
    if (caplen <= usualFrame.length) {
      return usualFrame;
    }
    if (caplen > Summary.MAX_FRAME) {
      return bigArray(caplen);
    }
    usualFrame = new byte[Room.grown(usualFrame.length, caplen, Summary.MAX_FRAME)];
    return usualFrame;
  }

  /** A bigger usual output array (empty now), with room for {@code need} bytes at least. */
  private void growOut(int need) {
    int most = need > Room.MOST_OUT ? outCapacity : Math.min(Room.MOST_OUT, outCapacity);
    usualOut = new byte[Room.grown(usualOut.length, need, most)];
    out.buf = usualOut;
    outFull = false;
  }

  /** An array for a big frame or its output; refused in words when the Java heap cannot hold it. */
  private byte[] bigArray(int n) {
    try {
      return new byte[n];
    } catch (OutOfMemoryError e) {
      throw new IllegalStateException("not enough Java heap to format a frame of " + f.caplen
          + " bytes (raise it with PCAP4PY_JVM_OPTIONS=-Xmx2g)");
    }
  }

  /** Copies the next piece of the formatted output into {@code dst}; returns its length. */
  private int handOut(ByteBuffer dst) {
    int n = Math.min(out.pos - handedOut, dst.capacity());
    dst.clear();
    dst.put(out.buf, handedOut, n);
    handedOut += n;
    if (handedOut == out.pos && out.buf != usualOut) {
      out.buf = usualOut; // the big frame's buffer goes (its bytes are all handed over)
      out.pos = 0;
      handedOut = 0;
    }
    return n;
  }

  /** The batch whose next packet is the earliest (ties: the first batch), or -1: the pcapng
   *  writer's merge ({@link BatchMerge}). */
  private int nextBatch() {
    return metas.length == 1 ? (cursors[0] < counts[0] ? 0 : -1) : BatchMerge.earliest(metaBuffers, counts, cursors);
  }

  private static int maxBytes(int caplen, int nameBytes) {
    // hex rows take ~4.4 bytes per frame byte (twice with an unknown payload's rows), JSON 2 plus
    // the facts; DNS names at most ~4 per byte (DnsPrinter's budget)
    return 9 * caplen + JsonFields.maxBytes(0, nameBytes) + 2 * nameBytes;
  }

  /**
   * An upper bound of a frame above the usual size's output: such a frame is never IP (only a few
   * link types allow it), so no printer decodes it; what grows with it is its hex (JSON's payload,
   * 2 bytes a byte; hex and ASCII rows, under 5), and a text line without dumps is one short line.
   */
  private int bigFrameBytes(int caplen, int nameBytes) {
    int perByte = format >= JSONL ? 2 : format == HEXDUMP || text.flags.dump != PrintFlags.HEX_NONE ? 5 : 0;
    return perByte * caplen + JsonFields.maxBytes(0, nameBytes) + 2 * nameBytes;
  }

  private void append(int src, boolean viewed) {
    switch (format) {
      case TEXT:
        text.packet(f.ts, frame, f.caplen, f.origlen, f.dlt, withInterface || viewed ? names[src] : null,
            f.direction, viewed);
        out.ch('\n');
        break;
      case HEXDUMP:
        hexdump(src);
        break;
      case JSONL:
        facts.decode(f);
        JsonFields.write(out, f, jsonNames[src], utc, facts);
        out.ch('\n');
        break;
      default: // JSON: records of an array Python opens and closes
        if (!firstRecord) {
          out.ch(',').ch('\n');
        }
        firstRecord = false;
        facts.decode(f);
        JsonFields.write(out, f, jsonNames[src], utc, facts);
    }
  }

  // --- hexdump: tcpdump -X, or OUT:/IN: and a payload table --------------------------------------

  private void hexdump(int src) {
    if ("out".equals(f.direction) || "in".equals(f.direction)) {
      boolean out_ = "out".equals(f.direction);
      out.ascii(out_ ? "OUT: " : "IN:  ");
      f.address(out, out_ ? f.dst : f.src);
      if (f.hasPorts()) {
        out.ch(':').dec(out_ ? f.dport : f.sport);
      }
      out.ch('\n');
      payloadTable(f.payloadStart(), f.payloadEnd());
      return;
    }
    text.packet(f.ts, frame, f.caplen, f.origlen, f.dlt, withInterface ? names[src] : null, f.direction);
    out.ch('\n');
    frameRows();
  }

  private static final String RULE = "+-------------------------------------------------+----------------+\n";
  private static final String RULER = "  00 01 02 03 04 05 06 07 08 09 10 11 12 13 14 15\n";

  private void payloadTable(int start, int end) {
    if (start >= end) {
      return;
    }
    out.ascii(RULER).ascii(RULE);
    for (int i = start; i < end; i += 16) {
      int n = Math.min(16, end - i);
      out.ascii("| ");
      for (int j = 0; j < n; j++) {
        if (j > 0) {
          out.ch(' ');
        }
        out.hexByte(frame[i + j], true);
      }
      out.spaces(47 - (3 * n - 1)).ascii(" |");
      printable(i, n);
      out.spaces(16 - n).ascii("|\n");
    }
    out.ascii(RULE);
  }

  private void frameRows() {
    for (int i = 0; i < f.caplen; i += 16) {
      int n = Math.min(16, f.caplen - i);
      out.ascii("\t0x").hex(i, 4).ascii(":  ");
      int width = 0;
      for (int j = 0; j < n; j += 2) {
        if (j > 0) {
          out.ch(' ');
          width++;
        }
        int k = Math.min(2, n - j);
        out.hexBytes(frame, i + j, i + j + k);
        width += 2 * k;
      }
      out.spaces(39 - width + 2);
      printable(i, n);
      out.ch('\n');
    }
  }

  private void printable(int from, int n) {
    for (int j = 0; j < n; j++) {
      int b = frame[from + j] & 0xff;
      out.ch(b >= 32 && b < 127 ? (char) b : '.');
    }
  }

  /** tcpdump's time stamp (local time, microseconds), for the formats Python writes itself. */
  public String clock(long tsNs) {
    Out o = new Out(32);
    local.append(o, tsNs);
    return new String(o.buf, 0, o.pos, java.nio.charset.StandardCharsets.US_ASCII);
  }
}
