package io.laminar.storage.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * Where this JVM's threads spent their time, from Linux's per-thread {@code /proc/self/task/TID/schedstat}
 * (nanoseconds on a CPU, nanoseconds runnable but waiting for one, timeslices run), summed per group
 * of threads named by a function of the thread's {@code comm} name. Time blocked in a system call
 * (the disk's share) is in neither number. On a busy machine the run-queue wait after each wake-up
 * is what a durable write pays on top of the disk. Empty where {@code /proc} has no such files.
 *
 * <p>A snapshot is immutable; {@link #since} subtracts an earlier one (threads that ended in between
 * are lost, threads started in between count from zero).
 */
public final class ThreadSchedule {

    /** One group's totals. */
    public record Totals(long cpuNanos, long waitNanos, long timeslices) {
        Totals plus(Totals other) {
            return new Totals(cpuNanos + other.cpuNanos, waitNanos + other.waitNanos, timeslices + other.timeslices);
        }

        Totals minus(Totals other) {
            return new Totals(cpuNanos - other.cpuNanos, waitNanos - other.waitNanos, timeslices - other.timeslices);
        }
    }

    private final Map<String, Totals> byThread;
    private final Map<String, String> groupOfThread;

    private ThreadSchedule(Map<String, Totals> byThread, Map<String, String> groupOfThread) {
        this.byThread = byThread;
        this.groupOfThread = groupOfThread;
    }

    /** The current totals of every thread of this JVM that {@code group} names a group for (null: left out). */
    public static ThreadSchedule snapshot(Function<String, String> group) {
        var byThread = new HashMap<String, Totals>();
        var groups = new HashMap<String, String>();
        try (var tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (var task : tasks) {
                try {
                    var name = group.apply(Files.readString(task.resolve("comm")).trim());
                    if (name == null) {
                        continue;
                    }
                    var fields = Files.readString(task.resolve("schedstat")).trim().split(" ");
                    var tid = task.getFileName().toString();
                    byThread.put(tid, new Totals(Long.parseLong(fields[0]), Long.parseLong(fields[1]),
                            Long.parseLong(fields[2])));
                    groups.put(tid, name);
                } catch (IOException | RuntimeException e) {
                    // the thread ended while being read
                }
            }
        } catch (IOException | RuntimeException e) {
            return new ThreadSchedule(Map.of(), Map.of());
        }
        return new ThreadSchedule(byThread, groups);
    }

    /** Each group's totals since {@code earlier}, in the order the groups first appear. */
    public Map<String, Totals> since(ThreadSchedule earlier) {
        var result = new LinkedHashMap<String, Totals>();
        byThread.forEach((tid, now) -> {
            var before = earlier.byThread.getOrDefault(tid, new Totals(0, 0, 0));
            result.merge(groupOfThread.get(tid), now.minus(before), Totals::plus);
        });
        return result;
    }
}
