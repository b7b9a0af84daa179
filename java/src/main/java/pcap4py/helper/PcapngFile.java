package pcap4py.helper;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;

/**
 * Where a pcapng writer's blocks go: a file (or standard output, '-') behind one buffer, which
 * {@link #flush} empties onto it; {@link #reopen} goes on in another file (rotation).
 */
final class PcapngFile implements HoldBack.Target {

  /** Blocks are encoded here; a bigger block is written around it. */
  final ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
  private final boolean stdout;
  private WritableByteChannel channel;
  private long flushed; // bytes of this file already written to the channel
  private long limit = -1; // -C: full once it holds more than this (-1: no limit)

  /** Creates (truncates) {@code path}; '-' is standard output. */
  PcapngFile(String path) throws IOException {
    stdout = path.equals("-");
    channel = open(path);
  }

  private static WritableByteChannel open(String path) throws IOException {
    if (path.equals("-")) {
      return new FileOutputStream(FileDescriptor.out).getChannel();
    }
    try {
      return FileChannel.open(Paths.get(path), StandardOpenOption.WRITE, StandardOpenOption.CREATE,
          StandardOpenOption.TRUNCATE_EXISTING);
    } catch (FileSystemException e) {
      throw new IOException(reason(e), e);
    }
  }

  /** The system's words for why a file could not be opened (Java's message is often the name alone). */
  static String reason(FileSystemException e) {
    if (e instanceof NoSuchFileException) {
      return "No such file or directory";
    }
    if (e instanceof AccessDeniedException) {
      return "Permission denied";
    }
    if (e instanceof NotDirectoryException) {
      return "Not a directory";
    }
    return e.getReason() != null ? e.getReason() : String.valueOf(e.getMessage());
  }

  void setSizeLimit(long bytes) {
    limit = bytes;
  }

  /** Whether the file has grown past its size limit. */
  @Override
  public boolean full() {
    return limit >= 0 && flushed + buffer.position() > limit;
  }

  /** Copies one encoded block in (flushing first if it does not fit). */
  @Override
  public void put(ByteBuffer block) throws IOException {
    if (buffer.remaining() < block.remaining()) {
      flush();
    }
    if (block.remaining() > buffer.capacity()) {
      write(block);
      return;
    }
    buffer.put(block);
  }

  /** Makes room for {@code n} bytes in the buffer. */
  void room(int n) throws IOException {
    if (buffer.remaining() < n) {
      flush();
    }
  }

  /** Writes what the buffer holds to the file. */
  void flush() throws IOException {
    buffer.flip();
    write(buffer);
    buffer.clear();
  }

  private void write(ByteBuffer bytes) throws IOException {
    flushed += bytes.remaining();
    while (bytes.hasRemaining()) {
      channel.write(bytes);
    }
  }

  /**
   * Flushes, then goes on in {@code path} starting with {@code preamble}; the new file is opened
   * first, so one that cannot be opened leaves this one open.
   */
  void reopen(String path, byte[] preamble) throws IOException {
    flush();
    WritableByteChannel next = open(path);
    if (!stdout) {
      channel.close();
    }
    channel = next;
    flushed = 0;
    put(ByteBuffer.wrap(preamble));
  }

  /** Flushes and closes (stdout stays open for the rest of the process). */
  void close() throws IOException {
    try {
      flush();
    } finally {
      if (!stdout) {
        channel.close();
      }
    }
  }
}
