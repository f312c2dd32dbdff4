package io.laminar.storage.store.s3;

import io.laminar.storage.store.CheckpointCorruptException;
import io.laminar.storage.store.Crc32cReporting;
import java.io.IOException;
import java.io.InputStream;
import java.util.Base64;
import java.util.Locale;
import java.util.function.Supplier;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.s3.model.ChecksumType;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;

/**
 * Reads one object with a plain GET and checks it: the bytes are checksummed as they pass, and at the
 * end their count must be the object's size and, if the server reported a full-object CRC32C, their
 * CRC32C must be it; otherwise the read fails with {@link CheckpointCorruptException}. If the
 * connection breaks off, the read resumes where it stopped with a ranged GET pinned to the object's
 * ETag ({@code If-Match}), so a replaced object can never be spliced in; up to the store's
 * {@code maxAttempts}, with its backoff.
 *
 * <p>It reports the CRC32C of what it returned ({@link Crc32cReporting}), so that a
 * {@link io.laminar.storage.store.VerifyingInputStream} checking a state file against its manifest
 * uses this one computation rather than checksumming every byte again.
 *
 * <p>Not thread-safe, like any stream.
 */
final class S3ObjectStream extends InputStream implements Crc32cReporting {

    private static final Logger log = LoggerFactory.getLogger(S3ObjectStream.class);

    private final S3CheckpointStore store;
    private final String key;
    private final Supplier<String> what;
    private final long size;
    private final String eTag;
    private final Integer expectedCrc;
    private final CRC32C crc = new CRC32C();
    private ResponseInputStream<GetObjectResponse> in;
    private long position;
    private int resumes;
    private boolean verified;
    private boolean closed;

    private S3ObjectStream(S3CheckpointStore store, String key, Supplier<String> what,
            ResponseInputStream<GetObjectResponse> in) {
        this.store = store;
        this.key = key;
        this.what = what;
        this.in = in;
        var response = in.response();
        this.size = response.contentLength() == null ? -1 : response.contentLength();
        this.eTag = response.eTag();
        this.expectedCrc = fullObjectCrc(response);
    }

    /**
     * Opens the object at {@code key}.
     *
     * @throws java.nio.file.NoSuchFileException if there is none
     */
    static S3ObjectStream open(S3CheckpointStore store, String key, Supplier<String> what) throws IOException {
        var request = GetObjectRequest.builder().bucket(store.bucket()).key(key)
                .checksumMode(software.amazon.awssdk.services.s3.model.ChecksumMode.ENABLED).build();
        var in = store.call("read " + what.get(), key, () -> store.client().getObject(request));
        return new S3ObjectStream(store, key, what, in);
    }

    /** The object's size as the server announced it, or -1 if it did not. */
    long size() {
        return size;
    }

    /** The CRC32C of every byte returned so far: each byte of the object once, resumed reads included. */
    @Override
    public long crc32cOfBytesRead() {
        return crc.getValue();
    }

    /** The CRC32C of the whole object if the response carries one (not a composite of parts), else null. */
    private static Integer fullObjectCrc(GetObjectResponse response) {
        var value = response.checksumCRC32C();
        if (value == null || value.contains("-") || response.checksumType() == ChecksumType.COMPOSITE) {
            return null;
        }
        try {
            var bytes = Base64.getDecoder().decode(value);
            if (bytes.length != 4) {
                return null;
            }
            return (bytes[0] & 0xff) << 24 | (bytes[1] & 0xff) << 16 | (bytes[2] & 0xff) << 8 | bytes[3] & 0xff;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    @Override
    public int read() throws IOException {
        var one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
        if (closed) {
            throw new IOException("the stream of " + store.uri(key) + " is closed");
        }
        if (length == 0) {
            return 0;
        }
        while (true) {
            int n;
            try {
                n = in.read(buffer, offset, length);
            } catch (IOException | RuntimeException e) {
                if (e instanceof CheckpointCorruptException) {
                    throw e;
                }
                if (e instanceof SdkClientException && String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT)
                        .contains("checksum")) {
                    // The SDK compared the object's stored checksum with the bytes it passed on.
                    throw corrupt("the CRC32C check of the client failed (" + e.getMessage() + ")", e);
                }
                if (size >= 0 && position >= size) {
                    // Every byte arrived; the failure is in how the response ended: judge the bytes.
                    verifyEnd();
                    return -1;
                }
                resume(e);
                continue;
            }
            if (n < 0) {
                if (size >= 0 && position < size) {
                    resume(new IOException("the connection ended after " + position + " of " + size + " bytes"));
                    continue;
                }
                verifyEnd();
                return -1;
            }
            crc.update(buffer, offset, n);
            position += n;
            if (size >= 0 && position > size) {
                throw corrupt("the server sent more than the " + size + " bytes it announced");
            }
            return n;
        }
    }

    /** Re-opens the object from {@link #position} after a broken read; gives up after maxAttempts. */
    private void resume(Exception failure) throws IOException {
        closeQuietly();
        resumes++;
        if (resumes >= store.maxAttempts()) {
            throw new IOException("cannot read " + what.get() + " (" + store.uri(key) + "): the download broke off "
                    + resumes + " times, last at byte " + position + " (" + failure + "). Check the connection to"
                    + " the S3 endpoint.", failure);
        }
        log.debug("reading {} broke off at byte {} ({}); resuming", store.uri(key), position, failure.toString());
        S3CheckpointStore.sleep(store.backoff(resumes));
        var request = GetObjectRequest.builder().bucket(store.bucket()).key(key).range("bytes=" + position + "-")
                .ifMatch(eTag).build();
        try {
            in = store.call("resume reading " + what.get() + " at byte " + position, key,
                    () -> store.client().getObject(request));
        } catch (S3CheckpointStore.PreconditionFailed e) {
            throw new IOException("cannot read " + what.get() + " (" + store.uri(key) + "): it was replaced while it"
                    + " was read (its ETag changed); something other than this store writes under its prefix", e);
        }
    }

    private void verifyEnd() {
        if (verified) {
            return;
        }
        if (size >= 0 && position != size) {
            throw corrupt("it has " + position + " bytes, but the server announced " + size);
        }
        if (expectedCrc != null && (int) crc.getValue() != expectedCrc) {
            throw corrupt(String.format("its bytes have CRC32C %08x, but the server stored %08x for it",
                    crc.getValue(), Integer.toUnsignedLong(expectedCrc)));
        }
        verified = true;
    }

    private CheckpointCorruptException corrupt(String problem) {
        return corrupt(problem, null);
    }

    private CheckpointCorruptException corrupt(String problem, Throwable cause) {
        return new CheckpointCorruptException(CheckpointCorruptException.UNKNOWN_CHECKPOINT_ID, "Reading "
                + what.get() + " (" + store.uri(key) + ") failed: " + problem + ". The bytes were damaged on the way"
                + " or in storage; do not use what was read.", cause);
    }

    private void closeQuietly() {
        try {
            in.abort(); // do not drain the rest of a broken body
            in.close();
        } catch (IOException | RuntimeException e) {
            // the connection is broken already
        }
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        if (!verified) {
            in.abort(); // the rest is not wanted: do not read it just to reuse the connection
        }
        in.close();
    }
}
