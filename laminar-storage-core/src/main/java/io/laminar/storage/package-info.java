/**
 * laminar-storage: the durability layer of a stream processor.
 *
 * <p>Sub-packages by concern: {@code wal} (the write-ahead log), {@code io} (the seam through which
 * every file is opened, so tests can inject failures). This module is plain Java 17: it depends on
 * no Spring and no Micrometer class (an enforcer rule checks it); the Spring Boot starter adapts its
 * listener and statistics interfaces.
 */
package io.laminar.storage;
