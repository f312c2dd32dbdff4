/**
 * The file-system seam: every file the library touches is opened, renamed, deleted and synced
 * through {@link io.laminar.storage.io.FileIO}, so tests can inject I/O failures and power loss.
 * Depends on nothing but the JDK.
 */
package io.laminar.storage.io;
