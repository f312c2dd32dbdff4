package io.laminar.storage.wal;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * What the tests that write a log with one I/O backend and open it with another share: small
 * segments (so a run rotates), tagged records of mixed sizes, and reading a whole log back.
 */
public final class BackendInterop {

    private BackendInterop() {
    }

    /** Options with {@code backend} and 64 KiB segments, records up to 8 KiB. */
    public static WalOptions.Builder smallSegments(WalIoBackend backend) {
        return WalOptions.builder().ioBackend(backend).segmentSize(64 * 1024).maxRecordSize(8192)
                .writeBufferSize(32 * 1024);
    }

    /** Record {@code i}: random bytes starting with {@code r<i>}, one in ten up to 6000 bytes long. */
    public static byte[] record(int i, Random random) {
        var bytes = new byte[1 + random.nextInt(i % 10 == 0 ? 6000 : 300)];
        random.nextBytes(bytes);
        var tag = ("r" + i).getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(tag, 0, bytes, 0, Math.min(tag.length, bytes.length));
        return bytes;
    }

    /** Every record's payload, in order. */
    public static List<byte[]> readAll(WriteAheadLog wal) {
        var out = new ArrayList<byte[]>();
        try (var reader = wal.reader()) {
            for (WalRecord r; (r = reader.next()) != null; ) {
                out.add(r.payloadBytes());
            }
        }
        return out;
    }
}
