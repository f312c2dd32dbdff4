/**
 * The changelog path from Ring 0 to Ring 1: per-core {@link io.laminar.storage.changelog.CoreChangelog}s
 * (bounded JCTools SPSC queues fed by the core threads) and the
 * {@link io.laminar.storage.changelog.ChangelogDrainer} that appends their changes to the per-core WAL.
 * Depends on {@code io.laminar.storage.state} (the change format and sink), {@code percore}, {@code replication},
 * {@code io.laminar.storage} ({@code StorageException}), JCTools and the JDK.
 */
package io.laminar.storage.changelog;
