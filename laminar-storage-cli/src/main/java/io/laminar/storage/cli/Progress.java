package io.laminar.storage.cli;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A progress bar on stderr (bytes done, rate, ETA), drawn only when the tool runs in a terminal
 * ({@link System#console()} is not null, or {@code LAMINAR_PROGRESS=always}); otherwise it prints
 * nothing at all. Redrawn at most every 200 ms. Used by one thread.
 */
final class Progress implements AutoCloseable {

    private final PrintStream err;
    private final String label;
    private final long total;
    private final boolean enabled;
    private final long started = System.nanoTime();
    private long done;
    private long lastDraw;
    private boolean drawn;

    Progress(String label, long total) {
        this.err = System.err;
        this.label = label;
        this.total = total;
        var env = System.getenv("LAMINAR_PROGRESS");
        this.enabled = "always".equals(env) || (!"never".equals(env) && System.console() != null);
    }

    void advance(long bytes) {
        done += bytes;
        if (!enabled) {
            return;
        }
        long now = System.nanoTime();
        if (now - lastDraw >= 200_000_000L || done >= total) {
            lastDraw = now;
            draw(now);
        }
    }

    private void draw(long now) {
        double seconds = Math.max(1e-9, (now - started) / 1e9);
        double rate = done / seconds;
        int width = 30;
        int filled = total <= 0 ? width : (int) Math.min(width, width * done / total);
        String eta = rate <= 0 || total <= 0 ? "--:--" : time((long) ((total - done) / rate));
        err.print(String.format(Locale.ROOT, "\r%s [%s%s] %s / %s  %s/s  ETA %s ", label, "#".repeat(filled),
                "-".repeat(width - filled), Output.bytes(done), Output.bytes(total), Output.bytes((long) rate), eta));
        err.flush();
        drawn = true;
    }

    private static String time(long seconds) {
        return String.format(Locale.ROOT, "%02d:%02d", seconds / 60, seconds % 60);
    }

    @Override
    public void close() {
        if (enabled && drawn) {
            draw(System.nanoTime());
            err.println();
            err.flush();
        }
    }
}
