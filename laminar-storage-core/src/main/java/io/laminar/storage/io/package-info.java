/**
 * The file-system seam: every file the library changes is opened, written, synced, renamed, linked
 * and deleted through {@link io.laminar.storage.io.FileIO} (directories are created, and some files
 * listed and read, with the JDK directly), so tests can inject I/O failures ({@code FaultyFileIO}) and
 * simulate power cuts that lose, tear or reorder what was not synced ({@code PowerLossFileIO}), both
 * in the core's test-jar. Depends on nothing but the JDK.
 */
package io.laminar.storage.io;
