package io.laminar.storage.test;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;

/**
 * The temporary {@code laminar.storage.dir} of one test application context (bean
 * {@code laminarStorageTestDirectory}): inject it to look at the files. Deleted with everything in
 * it when the context is closed, after the storage's beans, unless
 * {@link AutoConfigureLaminarStorage#keep()} is set.
 */
public final class TemporaryDataDirectory implements DisposableBean {

    private static final Logger log = LoggerFactory.getLogger(TemporaryDataDirectory.class);

    private final Path path;
    private final boolean keep;

    TemporaryDataDirectory(Path path, boolean keep) {
        this.path = Objects.requireNonNull(path, "path");
        this.keep = keep;
    }

    /** The directory: {@code laminar.storage.dir} of this context. */
    public Path path() {
        return this.path;
    }

    @Override
    public void destroy() throws IOException {
        if (this.keep) {
            log.info("keeping the laminar-storage test directory {}", this.path);
            return;
        }
        if (!Files.exists(this.path)) {
            return;
        }
        Files.walkFileTree(this.path, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path directory, IOException failure) throws IOException {
                if (failure != null) {
                    throw failure;
                }
                Files.deleteIfExists(directory);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    @Override
    public String toString() {
        return "TemporaryDataDirectory[" + this.path + "]";
    }
}
