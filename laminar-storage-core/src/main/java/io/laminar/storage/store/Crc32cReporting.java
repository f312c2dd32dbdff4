package io.laminar.storage.store;

/**
 * A stream returned by {@link CheckpointStore#openFile} that computes the CRC32C of the bytes it
 * hands out anyway (for example to check them against the object store's own checksum of the
 * object), so that a {@link VerifyingInputStream} over it compares that value with the manifest's
 * instead of computing the same checksum a second time.
 *
 * <p>An implementation updates the checksum with exactly the bytes its read methods return, in the
 * order it returns them, and with nothing else (a retried or resumed transfer counts each byte of
 * the file once): a verifying stream trusts it as its own computation.
 */
public interface Crc32cReporting {

    /** The CRC32C (in the low 32 bits) of every byte this stream has returned so far. */
    long crc32cOfBytesRead();
}
