/**
 * The write-ahead log: {@link io.laminar.storage.wal.WriteAheadLog}, its options, reader, statistics
 * and exceptions. The byte-level format is documented in {@code WalFormat}; how a torn tail is told
 * from corruption in {@code WalRecovery}. Depends on {@code io.laminar.storage.io},
 * {@code io.laminar.storage} ({@code StorageException}) and the JDK (plus the SLF4J API for logging).
 */
package io.laminar.storage.wal;
