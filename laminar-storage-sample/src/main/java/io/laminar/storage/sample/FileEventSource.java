package io.laminar.storage.sample;

import io.laminar.storage.runtime.LaminarRuntime;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;

/**
 * The replayable source: a file of JSON lines {@code {"key": "...", "amount": <integer>}}, read by
 * byte offset and followed as it grows (like {@code tail -f}), when
 * {@code laminar.sample.source.file} is set.
 *
 * <h2>Exactly once</h2>
 * The file is read in chunks of whole lines. Each chunk is split by the cores of its keys, and
 * every core gets its part, empty or not ({@link CoreLedger#applyLines}): it changes each of its
 * keys once, stamped with the offset of the key's last line, and records the chunk's end as the
 * core's {@link SourcePosition}. At a checkpoint the manifest records the lowest position of all
 * cores ({@link FileSourceCheckpoints}); a restart resumes there, and the lines read again that
 * the restored state already holds are skipped key by key. So each line counts once, however the
 * process stops.
 *
 * <p>A line that is not such an object (bad JSON, a missing key, an amount that is not a 64-bit
 * integer) is skipped with a warning naming its offset, the same way on every read. Blank lines
 * are ignored. A file that becomes shorter than what was read stops the source with an error.
 *
 * <h2>Lifecycle</h2>
 * Starts after the runtime (which the starter starts before the web server) and stops before it,
 * on its own thread. Start fails the application if the file is missing, shorter than the
 * checkpoint's offset, or not the file the data directory was built from.
 *
 * <p>Thread-safety: {@link #start()} and {@link #stop()} are called by the application context;
 * {@link #status()} may be called from any thread.
 */
@Component
final class FileEventSource implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(FileEventSource.class);
    private static final int READ_BUFFER = 1 << 20;

    private final LaminarRuntime runtime;
    private final CoreLedgers ledgers;
    private final SampleProperties.Source settings;
    private final JsonMapper json = JsonMapper.builder().build();
    private final Object lock = new Object();
    private volatile boolean running;
    private Thread thread;

    // The status, written by the source thread.
    private volatile String file;
    private volatile long resumedFrom = -1;
    private volatile long offset = -1;
    private volatile long linesApplied;
    private volatile long linesAlreadyApplied;
    private volatile long linesRejected;
    private volatile String error;

    FileEventSource(LaminarRuntime runtime, CoreLedgers ledgers, SampleProperties properties) {
        this.runtime = runtime;
        this.ledgers = ledgers;
        this.settings = properties.getSource();
    }

    /** What {@code GET /api/source} answers. */
    record Status(boolean enabled, String file, long resumedFrom, long offset, long linesApplied,
                  long linesAlreadyApplied, long linesRejected, String error) {
    }

    Status status() {
        return new Status(settings.getFile() != null, file, resumedFrom, offset, linesApplied, linesAlreadyApplied,
                linesRejected, error);
    }

    @Override
    public void start() {
        synchronized (lock) {
            if (running || settings.getFile() == null) {
                return;
            }
            var path = settings.getFile().toAbsolutePath().normalize();
            long resume = resumeOffset(path);
            file = path.toString();
            resumedFrom = resume;
            offset = resume;
            running = true;
            thread = new Thread(() -> run(path, resume), "laminar-sample-file-source");
            thread.setDaemon(true);
            thread.start();
        }
    }

    /** The offset the checkpoint recorded, after checking that the state and the file agree with it. */
    private long resumeOffset(Path path) {
        var name = path.toString();
        var resume = FileSourceCheckpoints.resumePoint(runtime.recoveredSources());
        long furthest = 0;
        for (int core = 0; core < runtime.cores(); core++) {
            var position = runtime.submit(core, context -> ledgers.on(context).sourcePosition()).join();
            if (position != null) {
                if (!position.file().equals(name)) {
                    throw new IllegalStateException("laminar.sample.source.file is " + name + ", but the state in "
                            + runtime.wal().directory().toAbsolutePath().getParent() + " was built from the file " + position.file()
                            + " (core " + core + " applied it through offset " + position.offset() + "). Its keys "
                            + "remember offsets of that file only: set laminar.sample.source.file back to it, or "
                            + "use a new laminar.storage.dir");
                }
                furthest = Math.max(furthest, position.offset());
            }
        }
        if (resume.isPresent() && !resume.get().file().equals(name)) {
            throw new IllegalStateException("laminar.sample.source.file is " + name + ", but the restored checkpoint "
                    + "read " + resume.get().file() + " through offset " + resume.get().offset()
                    + ": set laminar.sample.source.file back to it, or use a new laminar.storage.dir");
        }
        if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
            throw new IllegalStateException("laminar.sample.source.file names " + name + ", which is not a "
                    + "readable file: create it (it may be empty) or unset the property");
        }
        long size;
        try {
            size = Files.size(path);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the size of the source file " + name + ": " + e, e);
        }
        if (size < furthest) {
            throw new IllegalStateException("the source file " + name + " has " + size + " bytes, but the state "
                    + "holds its lines through offset " + furthest + ": it was truncated or replaced. The source only "
                    + "reads files that are appended to; restore the file, or use a new laminar.storage.dir");
        }
        long offset = resume.map(SourcePosition::offset).orElse(0L);
        log.info("file source {}: resuming at offset {} (from {}); the state holds lines up to offset {}, and "
                + "the lines in between are skipped key by key", name, offset,
                resume.isPresent() ? "the restored checkpoint" : "the start: no checkpoint recorded an offset",
                furthest);
        return offset;
    }

    private void run(Path path, long from) {
        long position = from;
        boolean skippingLongLine = false;
        try (var channel = Files.newByteChannel(path, StandardOpenOption.READ)) {
            var buffer = ByteBuffer.allocate(READ_BUFFER);
            while (running) {
                long size = channel.size();
                if (size < position) {
                    fail("the source file " + path + " now has " + size + " bytes, but offset " + position
                            + " was read already: it was truncated or replaced; the source stopped", null);
                    return;
                }
                if (size == position) {
                    LockSupport.parkNanos(settings.getPollInterval().toNanos());
                    continue;
                }
                buffer.clear().limit((int) Math.min(buffer.capacity(), size - position));
                channel.position(position);
                while (buffer.hasRemaining() && channel.read(buffer) > 0) {
                    // read until the buffer holds what the file had
                }
                buffer.flip();
                if (skippingLongLine) {
                    int newline = indexOf(buffer, 0, (byte) '\n');
                    if (newline < 0) {
                        position += buffer.limit();
                        continue;
                    }
                    position += newline + 1;
                    skippingLongLine = false;
                    continue;
                }
                var chunk = parse(path.toString(), buffer, position);
                if (chunk == null) {
                    if (buffer.limit() == buffer.capacity()) {
                        linesRejected++;
                        log.warn("file source {}: skipping the line at offset {}: longer than {} bytes", path,
                                position, READ_BUFFER);
                        skippingLongLine = true;
                        position += buffer.limit();
                    } else {
                        // Only the start of a line is written yet: wait for its newline.
                        LockSupport.parkNanos(settings.getPollInterval().toNanos());
                    }
                    continue;
                }
                apply(chunk);
                position = chunk.end;
                offset = position;
            }
        } catch (IOException e) {
            fail("cannot read the source file " + path + " at offset " + position + ": " + e, e);
        } catch (RuntimeException e) {
            if (running) {
                fail("the file source " + path + " stopped at offset " + position + ": " + e, e);
            }
        }
    }

    /** A chunk read from the file: per core, its part. */
    private record Chunk(long end, List<FilePart> parts) {
    }

    /** Up to chunkLines whole lines from the start of {@code buffer}; null if it holds no whole line. */
    private Chunk parse(String name, ByteBuffer buffer, long start) {
        var byCore = new ArrayList<LinkedHashMap<String, List<long[]>>>();
        for (int core = 0; core < runtime.cores(); core++) {
            byCore.add(new LinkedHashMap<>());
        }
        int lineStart = 0;
        int lines = 0;
        while (lines < settings.getChunkLines()) {
            int newline = indexOf(buffer, lineStart, (byte) '\n');
            if (newline < 0) {
                break;
            }
            long lineOffset = start + lineStart;
            int end = newline > lineStart && buffer.get(newline - 1) == '\r' ? newline - 1 : newline;
            var event = event(name, buffer.array(), lineStart, end - lineStart, lineOffset);
            if (event != null) {
                int core = runtime.coreOf(event.key().getBytes(StandardCharsets.UTF_8));
                byCore.get(core).computeIfAbsent(event.key(), k -> new ArrayList<>())
                        .add(new long[] {lineOffset, event.amount()});
            }
            lineStart = newline + 1;
            lines++;
        }
        if (lines == 0) {
            return null;
        }
        long chunkEnd = start + lineStart;
        var parts = new ArrayList<FilePart>(byCore.size());
        for (var keys : byCore) {
            var keyLines = new ArrayList<FilePart.KeyLines>(keys.size());
            keys.forEach((key, list) -> {
                var offsets = new long[list.size()];
                var amounts = new long[list.size()];
                for (int i = 0; i < offsets.length; i++) {
                    offsets[i] = list.get(i)[0];
                    amounts[i] = list.get(i)[1];
                }
                keyLines.add(new FilePart.KeyLines(key, offsets, amounts));
            });
            parts.add(new FilePart(name, chunkEnd, keyLines));
        }
        return new Chunk(chunkEnd, parts);
    }

    /** The event of a line, or null for a blank line or one that is rejected (with a warning). */
    private Event event(String name, byte[] bytes, int from, int length, long lineOffset) {
        if (new String(bytes, from, length, StandardCharsets.UTF_8).isBlank()) {
            return null;
        }
        var where = "line at offset " + lineOffset + " of " + name;
        try {
            return Event.parse(json.readTree(bytes, from, length), where);
        } catch (InvalidInputException e) {
            linesRejected++;
            log.warn("file source: skipping the {}", e.getMessage());
        } catch (JacksonException e) {
            linesRejected++;
            log.warn("file source: skipping the {}: not a JSON object: {}", where, e.getOriginalMessage());
        }
        return null;
    }

    /** Hands every core its part and waits until all have run (in memory: a checkpoint makes them durable). */
    private void apply(Chunk chunk) {
        var futures = new ArrayList<CompletableFuture<FilePart.Outcome>>();
        for (int core = 0; core < chunk.parts.size(); core++) {
            var part = chunk.parts.get(core);
            futures.add(runtime.submit(core, context -> ledgers.on(context).applyLines(part)));
        }
        long applied = 0;
        long skipped = 0;
        for (var future : futures) {
            var outcome = future.join();
            applied += outcome.applied();
            skipped += outcome.alreadyApplied();
        }
        linesApplied += applied;
        linesAlreadyApplied += skipped;
    }

    private static int indexOf(ByteBuffer buffer, int from, byte b) {
        var array = buffer.array();
        for (int i = from; i < buffer.limit(); i++) {
            if (array[i] == b) {
                return i;
            }
        }
        return -1;
    }

    private void fail(String message, Throwable cause) {
        error = message;
        if (cause == null) {
            log.error(message);
        } else {
            log.error(message, cause);
        }
    }

    @Override
    public void stop() {
        Thread running;
        synchronized (lock) {
            if (!this.running) {
                return;
            }
            this.running = false;
            running = thread;
        }
        LockSupport.unpark(running);
        try {
            running.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        log.info("file source {} stopped at offset {}", file, offset);
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** After the runtime's lifecycle and the web server: starts last, stops first. */
    @Override
    public int getPhase() {
        return SmartLifecycle.DEFAULT_PHASE;
    }
}
