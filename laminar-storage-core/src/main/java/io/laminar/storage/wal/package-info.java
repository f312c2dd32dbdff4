/**
 * The write-ahead log: {@link io.laminar.storage.wal.WriteAheadLog}, its options, reader, statistics
 * and exceptions. The byte-level format is documented in {@code WalFormat}; how a torn tail is told
 * from corruption in {@code WalRecovery}; how segments are written (the {@link io.laminar.storage.wal.WalIoBackend}s)
 * behind the package-private {@code SegmentWriter}, chosen by {@code SegmentIo}. Depends on
 * {@code io.laminar.storage.io}, {@code io.laminar.storage} ({@code StorageException}) and the JDK, with
 * {@code com.sun.nio.file.ExtendedOpenOption} for O_DIRECT (plus the SLF4J API for logging).
 */
package io.laminar.storage.wal;
