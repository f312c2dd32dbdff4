package io.laminar.storage.store.s3;

import io.laminar.storage.store.CheckpointCorruptException;
import io.laminar.storage.store.Crc32cReporting;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.ArrayDeque;
import java.util.Base64;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
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
 * <h2>Ranged reads</h2>
 * Opened with a range size {@code R} (state files: the store's {@code downloadRangeSize}), an object
 * of at least {@code 2R} bytes is read in parallel, as S3 is fastest read: the first {@code R} bytes
 * come through the first GET, and from the first read on up to {@code rangesAhead} ranged GETs of the
 * next ranges of {@code R} bytes run ahead on the store's download threads, each pinned to the
 * object's ETag and filling a buffer of its own (a range that breaks off resumes where it stopped, up
 * to {@code maxAttempts}). The bytes are still returned in order, checksummed as they are returned,
 * and judged at the end against the size and the full-object CRC32C of the first GET. Memory: at most
 * {@code rangesAhead + 1} buffers of {@code R} bytes per stream, reused range after range.
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
    /** Bytes [0, firstGetEnd) come through the first GET ({@link #in}), the rest in ranges. */
    private final long firstGetEnd;
    private final int rangeSize;
    private final int rangesAhead;
    /** The ranged GETs under way or done and not yet returned, in the order of their bytes. */
    private final ArrayDeque<RangeFetch> ahead = new ArrayDeque<>();
    /** The first byte no ranged GET has asked for yet. */
    private long nextRangeStart;
    /** The range being returned: its bytes and how many of them were returned. */
    private byte[] range;
    private int rangeLength;
    private int rangeReturned;

    private S3ObjectStream(S3CheckpointStore store, String key, Supplier<String> what,
            ResponseInputStream<GetObjectResponse> in, int rangeSize, int rangesAhead) {
        this.store = store;
        this.key = key;
        this.what = what;
        this.in = in;
        var response = in.response();
        this.size = response.contentLength() == null ? -1 : response.contentLength();
        this.eTag = response.eTag();
        this.expectedCrc = fullObjectCrc(response);
        boolean ranged = rangesAhead > 0 && eTag != null && size >= 2L * rangeSize;
        this.rangeSize = rangeSize;
        this.rangesAhead = rangesAhead;
        this.firstGetEnd = ranged ? rangeSize : size;
        this.nextRangeStart = firstGetEnd;
    }

    /**
     * Opens the object at {@code key} to be read with one GET.
     *
     * @throws java.nio.file.NoSuchFileException if there is none
     */
    static S3ObjectStream open(S3CheckpointStore store, String key, Supplier<String> what) throws IOException {
        return open(store, key, what, Integer.MAX_VALUE, 0);
    }

    /**
     * Opens the object at {@code key}; if it has at least {@code 2 * rangeSize} bytes and
     * {@code rangesAhead > 0}, it is read in ranges (see the class comment).
     *
     * @throws java.nio.file.NoSuchFileException if there is none
     */
    static S3ObjectStream open(S3CheckpointStore store, String key, Supplier<String> what, int rangeSize,
            int rangesAhead) throws IOException {
        var request = GetObjectRequest.builder().bucket(store.bucket()).key(key)
                .checksumMode(software.amazon.awssdk.services.s3.model.ChecksumMode.ENABLED).build();
        var in = store.call("read " + what.get(), key, () -> store.client().getObject(request));
        return new S3ObjectStream(store, key, what, in, rangeSize, rangesAhead);
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
        if (firstGetEnd < size) {
            if (ahead.isEmpty() && range == null) {
                startRanges(); // at the first read: a stream opened only for its size costs no range
            }
            if (position >= firstGetEnd) {
                return readRange(buffer, offset, length);
            }
            length = (int) Math.min(length, firstGetEnd - position);
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
            if (position == firstGetEnd && firstGetEnd < size) {
                closeQuietly(); // the ranges bring the rest
            }
            return n;
        }
    }

    // ---- ranged reads -------------------------------------------------------------------------

    /** Starts the first {@code rangesAhead} ranged GETs after the first GET's bytes. */
    private void startRanges() throws IOException {
        for (int i = 0; i < rangesAhead && nextRangeStart < size; i++) {
            startRange(new byte[rangeSize]);
        }
    }

    /** Starts the ranged GET of the next range into {@code into}, on the store's download threads. */
    private void startRange(byte[] into) throws IOException {
        var fetch = new RangeFetch(nextRangeStart, (int) Math.min(rangeSize, size - nextRangeStart), into);
        try {
            fetch.result = store.downloads().submit(fetch::fetch);
        } catch (RejectedExecutionException e) {
            throw new IOException("cannot read " + what.get() + " (" + store.uri(key) + "): the store is closed", e);
        }
        nextRangeStart += fetch.length;
        ahead.add(fetch);
    }

    /** Returns bytes of the ranges, waiting for the next one when the current one is used up. */
    private int readRange(byte[] buffer, int offset, int length) throws IOException {
        if (range == null || rangeReturned == rangeLength) {
            if (position == size) {
                verifyEnd();
                return -1;
            }
            nextRange();
        }
        int n = Math.min(length, rangeLength - rangeReturned);
        System.arraycopy(range, rangeReturned, buffer, offset, n);
        crc.update(buffer, offset, n);
        rangeReturned += n;
        position += n;
        return n;
    }

    /** Waits for the oldest ranged GET, and starts the next one in the buffer just used up. */
    private void nextRange() throws IOException {
        var fetch = ahead.poll();
        if (fetch == null || fetch.start != position) {
            throw new IllegalStateException("no range fetched at byte " + position + " of " + store.uri(key));
        }
        byte[] bytes;
        try {
            bytes = fetch.result.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while reading " + what.get() + " (" + store.uri(key) + ")");
        } catch (ExecutionException e) {
            var cause = e.getCause();
            if (store.isClosed()) { // its download threads were interrupted: that is the failure to report
                throw new IOException("cannot read " + what.get() + " (" + store.uri(key) + "): the store was closed"
                        + " while it was read", cause);
            }
            if (cause instanceof IOException io) {
                throw io;
            }
            if (cause instanceof RuntimeException re) {
                throw re;
            }
            throw new IOException("cannot read " + what.get() + " (" + store.uri(key) + "): " + cause, cause);
        }
        var used = range;
        range = bytes;
        rangeLength = fetch.length;
        rangeReturned = 0;
        if (nextRangeStart < size) {
            startRange(used != null ? used : new byte[rangeSize]);
        }
    }

    /**
     * One ranged GET of {@code length} bytes from {@code start}, pinned to the object's ETag, read
     * into {@code into} on a download thread. Written by that thread only; {@link #cancel} may be
     * called from the reader's.
     */
    private final class RangeFetch {
        final long start;
        final int length;
        final byte[] into;
        Future<byte[]> result;
        private volatile ResponseInputStream<GetObjectResponse> response;
        private volatile boolean cancelled;

        RangeFetch(long start, int length, byte[] into) {
            this.start = start;
            this.length = length;
            this.into = into;
        }

        /** Fills {@link #into} with the range; resumes where a broken read stopped, up to maxAttempts. */
        byte[] fetch() throws IOException {
            int filled = 0;
            for (int breaks = 0; ; ) {
                if (cancelled) {
                    throw new InterruptedIOException("reading " + store.uri(key) + " was cancelled");
                }
                long from = start + filled;
                long to = start + length - 1;
                var request = GetObjectRequest.builder().bucket(store.bucket()).key(key)
                        .range("bytes=" + from + "-" + to).ifMatch(eTag).build();
                ResponseInputStream<GetObjectResponse> body;
                try {
                    body = store.call("read bytes " + from + "-" + to + " of " + what.get(), key,
                            () -> store.client().getObject(request));
                } catch (S3CheckpointStore.PreconditionFailed e) {
                    throw replaced(e);
                }
                response = body;
                if (cancelled) {
                    abort(body);
                    throw new InterruptedIOException("reading " + store.uri(key) + " was cancelled");
                }
                var announced = body.response().contentLength();
                if (announced == null || announced != to - from + 1) {
                    abort(body);
                    throw new IOException("cannot read " + what.get() + " (" + store.uri(key) + "): the server answered"
                            + " a GET of bytes " + from + "-" + to + " with " + announced + " bytes; it does not serve"
                            + " ranged GETs. Set the store's rangesAhead to 0 to read each file with one GET.");
                }
                Exception failure;
                try {
                    for (int n; filled < length && (n = body.read(into, filled, length - filled)) >= 0; ) {
                        filled += n;
                    }
                    if (filled == length) {
                        body.close(); // every announced byte is here: the connection can be reused
                        return into;
                    }
                    failure = new IOException("the connection ended after byte " + (start + filled));
                } catch (IOException | RuntimeException e) {
                    failure = e;
                }
                abort(body);
                if (cancelled) {
                    throw new InterruptedIOException("reading " + store.uri(key) + " was cancelled");
                }
                if (++breaks >= store.maxAttempts()) {
                    throw new IOException("cannot read " + what.get() + " (" + store.uri(key) + "): the download of"
                            + " bytes " + start + "-" + to + " broke off " + breaks + " times, last at byte "
                            + (start + filled) + " (" + failure + "). Check the connection to the S3 endpoint.",
                            failure);
                }
                log.debug("reading bytes {}-{} of {} broke off at byte {} ({}); resuming", start, to, store.uri(key),
                        start + filled, failure.toString());
                S3CheckpointStore.sleep(store.backoff(breaks));
            }
        }

        /** Stops the fetch: it ends with an exception nobody waits for, its buffer is dropped. */
        void cancel() {
            cancelled = true;
            if (result != null) {
                // Not interrupted: the SDK answers an interrupt inside a request by reading the rest of
                // the response to close it. The fetch sees the flag once the request returns.
                result.cancel(false);
            }
            var body = response;
            if (body != null) {
                abort(body);
            }
        }
    }

    private IOException replaced(Exception cause) {
        return new IOException("cannot read " + what.get() + " (" + store.uri(key) + "): it was replaced while it"
                + " was read (its ETag changed); something other than this store writes under its prefix", cause);
    }

    private static void abort(ResponseInputStream<GetObjectResponse> body) {
        try {
            body.abort(); // do not drain the rest of a body nobody reads
            body.close();
        } catch (IOException | RuntimeException e) {
            // the connection is broken already
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
        var request = GetObjectRequest.builder().bucket(store.bucket()).key(key)
                .range("bytes=" + position + "-" + (firstGetEnd < size ? String.valueOf(firstGetEnd - 1) : ""))
                .ifMatch(eTag).build();
        try {
            in = store.call("resume reading " + what.get() + " at byte " + position, key,
                    () -> store.client().getObject(request));
        } catch (S3CheckpointStore.PreconditionFailed e) {
            throw replaced(e);
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
        abort(in);
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        for (var fetch : ahead) {
            fetch.cancel();
        }
        ahead.clear();
        range = null;
        if (!verified) {
            in.abort(); // the rest is not wanted: do not read it just to reuse the connection
        }
        in.close();
    }
}
