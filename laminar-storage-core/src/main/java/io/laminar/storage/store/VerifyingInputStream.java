package io.laminar.storage.store;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.CRC32C;

/**
 * Reads a state file and checks it against the {@link StateFileRef} a manifest recorded: when the
 * end of the file is reached, its size and CRC32C must match, otherwise reading throws
 * {@link CheckpointCorruptException} naming the checkpoint and the file; a file longer than
 * recorded fails as soon as the extra byte is read.
 *
 * <p>The bytes are handed out before the end is checked, so a reader must treat what it read as
 * unverified until {@code read} returned -1 (for example, restore into a fresh state and switch to
 * it only then): that is how a corrupted byte never comes back as data.
 *
 * <p>If the store's stream computes the CRC32C of what it returns anyway ({@link Crc32cReporting},
 * as the S3 store's does against the server's checksum), this stream takes that value at the end
 * instead of checksumming every byte a second time; otherwise it checksums the bytes itself.
 *
 * <p>Not thread-safe, like any stream.
 */
public final class VerifyingInputStream extends FilterInputStream {

    private final StateFileRef ref;
    private final long checkpointId;
    /** Null when the source reports the checksum of what it returned ({@link #source}). */
    private final CRC32C crc;
    private final Crc32cReporting source;
    private long read;
    private boolean verified;
    private String problem;

    private VerifyingInputStream(InputStream in, StateFileRef ref, long checkpointId) {
        super(in);
        this.source = in instanceof Crc32cReporting reporting ? reporting : null;
        this.crc = source == null ? new CRC32C() : null;
        this.ref = ref;
        this.checkpointId = checkpointId;
    }

    /** Opens the file of {@code ref} in {@code store}, verifying it as it is read. */
    public static VerifyingInputStream open(CheckpointStore store, StateFileRef ref, long checkpointId)
            throws IOException {
        return new VerifyingInputStream(store.openFile(ref.path()), ref, checkpointId);
    }

    /** Whether the whole file has been read and matched its reference. */
    public boolean verified() {
        return verified;
    }

    /**
     * What did not match, once reading threw {@link CheckpointCorruptException} (for example "its
     * CRC32C is 1a2b3c4d, but 5e6f7a8b was recorded"); null before.
     */
    public String problem() {
        return problem;
    }

    @Override
    public int read() throws IOException {
        int b = in.read();
        if (b < 0) {
            verifyEnd();
        } else {
            if (crc != null) {
                crc.update(b);
            }
            counted(1);
        }
        return b;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
        int n = in.read(buffer, offset, length);
        if (n < 0) {
            verifyEnd();
        } else {
            if (crc != null) {
                crc.update(buffer, offset, n);
            }
            counted(n);
        }
        return n;
    }

    @Override
    public long skip(long n) throws IOException {
        // Skipped bytes must be checksummed too, so skipping reads them.
        long skipped = 0;
        var buffer = new byte[8192];
        while (skipped < n) {
            int r = read(buffer, 0, (int) Math.min(buffer.length, n - skipped));
            if (r < 0) {
                break;
            }
            skipped += r;
        }
        return skipped;
    }

    @Override
    public boolean markSupported() {
        return false;
    }

    @Override
    public synchronized void mark(int readLimit) {
    }

    @Override
    public synchronized void reset() throws IOException {
        throw new IOException("mark/reset not supported: a verifying stream checksums every byte once");
    }

    private void counted(long n) {
        read += n;
        if (read > ref.size()) {
            throw corrupt("it is longer than the " + ref.size() + " bytes recorded");
        }
    }

    private void verifyEnd() {
        if (verified) {
            return;
        }
        if (read != ref.size()) {
            throw corrupt("it has " + read + " bytes, but " + ref.size() + " were recorded");
        }
        long value = crc != null ? crc.getValue() : source.crc32cOfBytesRead() & 0xFFFF_FFFFL;
        var actual = String.format("%08x", value);
        if (!actual.equals(ref.crc32c())) {
            throw corrupt("its CRC32C is " + actual + ", but " + ref.crc32c() + " was recorded");
        }
        verified = true;
    }

    private CheckpointCorruptException corrupt(String problem) {
        this.problem = problem;
        return new CheckpointCorruptException(checkpointId, "State file '" + ref.path() + "' of checkpoint "
                + checkpointId + " is corrupt: " + problem + ". Do not use what was read from it: recover from an"
                + " older checkpoint that does not reference this file, or restore the file from a backup.");
    }
}
