package io.laminar.storage.state;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Snapshots stay exact while other threads read them and their store keeps writing. A writer runs
 * random puts (in place, with another length, of new keys), deletes (also runs of neighbouring
 * keys) and a clear over 3,000 keys of 1 to 40 bytes with shared prefixes, keeps a model in step,
 * and every few hundred operations publishes a snapshot and a frozen copy of the model to the
 * readers, never waiting for them. Mid-run it retires its store and goes on in one made
 * {@code fromSnapshot} of it; earlier a second writer forks its own store from an ordinary snapshot
 * and writes concurrently. Readers check each snapshot they get when it arrives and again when it
 * leaves their window (the latest few, plus some held long while the same keys are rewritten many
 * times): size, forEach, iterator, get and containsKey equal the model of its own lineage, and
 * {@code changesSince} between two of them (or null) is exactly the models' difference. A reader
 * calls {@link System#gc()} now and then. Seeds are fixed; the run is bounded in operations and time.
 */
@Timeout(60)
class ConcurrentSnapshotReadersTest {

    private static final Logger log = LoggerFactory.getLogger(ConcurrentSnapshotReadersTest.class);
    private static final Comparator<byte[]> ORDER = Arrays::compareUnsigned;
    private static final HexFormat HEX = HexFormat.of();
    private static final long SEED = 0x5EED_2024L;
    private static final int KEYS = 3_000;
    private static final int READERS = 2;
    /** The newest snapshots each reader keeps. */
    private static final int LATEST = 6;
    /** How many later arrivals a held snapshot stays for. */
    private static final int HOLD_FOR = 150;
    /** A reader's backlog beyond which a writer skips publishing to it (held snapshots excepted). */
    private static final int BACKLOG = 8;
    /** Writers stop early after this long, whatever is left of their plans (a bound on slow machines). */
    private static final long WRITE_FOR_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final Plan PLAN_A = new Plan(800_000, 60_000, 150_000, 240_000);
    private static final Plan PLAN_B = new Plan(400_000, 0, 0, 150_000);
    private static final int[] VALUE_LENGTHS = {0, 1, 4, 8, 8, 16, 33, 100};

    /** One lineage's state at one moment, in key order; never modified. */
    private record Frozen(byte[][] keys, byte[][] values) {
        static final Frozen EMPTY = new Frozen(new byte[0][], new byte[0][]);

        /** The model's value arrays are never modified after a put, so they are shared, not copied. */
        static Frozen of(TreeMap<byte[], byte[]> model) {
            return new Frozen(model.keySet().toArray(byte[][]::new), model.values().toArray(byte[][]::new));
        }

        byte[] get(byte[] key) {
            int i = Arrays.binarySearch(keys, key, ORDER);
            return i >= 0 ? values[i] : null;
        }

        int size() {
            return keys.length;
        }
    }

    /** A snapshot as published: its writer, its name (with its sequence number), its exact expected state. */
    private record Published(String lineage, String name, StateSnapshot snapshot, Frozen state, boolean hold) {
    }

    private record Held(Published published, int arrival) {
    }

    /** How many operations a writer runs, and after which it forks, retires and clears (0: never). */
    private record Plan(int operations, int forkAt, int retireAt, int clearAt) {
    }

    private final byte[][] keys = keySpace(new Random(SEED), KEYS);
    private final List<Thread> threads = new CopyOnWriteArrayList<>();
    private final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    private final List<BlockingQueue<Published>> queues = new ArrayList<>();
    private final AtomicInteger writing = new AtomicInteger();
    private final Map<String, LongAdder> fullChecks = new ConcurrentHashMap<>();
    private final List<String> heldNames = new CopyOnWriteArrayList<>();
    private final LongAdder diffChecks = new LongAdder();
    private final LongAdder skipped = new LongAdder();
    private final LongAdder operations = new LongAdder();
    private volatile boolean stop;
    private long writeUntil;

    @Test
    void snapshotsStayExactWhileReadersReadAndWritersWrite() throws InterruptedException {
        long started = System.nanoTime();
        writeUntil = started + WRITE_FOR_NANOS;
        writing.set(1); // before the readers start: they stop once no writer is left
        for (int r = 0; r < READERS; r++) {
            var queue = new LinkedBlockingQueue<Published>();
            queues.add(queue);
            start("reader-" + r, new Reader(r, queue, new Random(SEED + 100 + r)));
        }
        start("writer-A", new Writer("A", new Random(SEED + 1), PLAN_A, null));

        long deadline = started + TimeUnit.SECONDS.toNanos(50);
        for (int i = 0; i < threads.size(); i++) { // the list grows when writer A starts writer B
            var thread = threads.get(i);
            thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            if (thread.isAlive()) {
                stop = true;
                failures.add(new AssertionError(thread.getName() + " did not finish in time"));
            }
        }
        if (!failures.isEmpty()) {
            var error = new AssertionError(failures.size() + " thread(s) failed; first: " + failures.peek(),
                    failures.peek());
            failures.stream().skip(1).forEach(error::addSuppressed);
            throw error;
        }
        log.info("{} operations, {} snapshots checked {} times in full, {} deltas, {} deliveries skipped, {} ms",
                operations.sum(), fullChecks.size(), fullChecks.values().stream().mapToLong(LongAdder::sum).sum(),
                diffChecks.sum(), skipped.sum(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));

        assertThat(heldNames).anyMatch(n -> n.contains("retired")).anyMatch(n -> n.contains("fork of"))
                .anyMatch(n -> n.startsWith("B#") && !n.contains("fork of"));
        for (var name : heldNames) { // each reader got it, checked it on arrival and when it let it go
            assertThat(fullChecks.get(name).sum()).as("full checks of %s", name)
                    .isGreaterThanOrEqualTo(2 * READERS);
        }
    }

    @Test
    void everyEpochSnapshotOfOneKeyKeepsItsOwnValue() {
        var random = new Random(SEED);
        var store = new ChangelogAwareStateStore(ChangelogSink.NONE);
        for (int i = 0; i < 1_000; i++) {
            store.put(("background-" + i).getBytes(StandardCharsets.UTF_8), new byte[] {(byte) i});
        }
        var key = "background-500x".getBytes(StandardCharsets.UTF_8);
        byte[][] pool = {randomBytes(random, 8), randomBytes(random, 8), randomBytes(random, 8),
                randomBytes(random, 3), new byte[0], randomBytes(random, 40)};
        var values = new byte[50][];
        var snapshots = new StateSnapshot[50];
        for (int epoch = 0; epoch < 50; epoch++) {
            values[epoch] = pool[random.nextInt(pool.length)];
            // A first write of the epoch, then an overwrite (in place when the length is the same).
            store.put(key, randomBytes(random, values[epoch].length));
            store.put(key, values[epoch].clone());
            snapshots[epoch] = store.snapshot();
        }
        for (int i = 0; i < 50; i++) {
            assertThat(snapshots[i].get(key)).as("epoch %d", i).containsExactly(values[i]);
            assertThat(snapshots[i].size()).isEqualTo(1_001);
            for (int j = 0; j < 50; j++) {
                var expected = Arrays.equals(values[i], values[j]) ? List.<StateChange>of()
                        : List.of(new StateChange(key, values[j]));
                assertThat(snapshots[j].changesSince(snapshots[i]))
                        .as("changes of epoch %d since epoch %d", j, i).isEqualTo(expected);
            }
        }
    }

    private void start(String name, Runnable body) {
        var thread = new Thread(() -> {
            try {
                body.run();
            } catch (Throwable e) {
                failures.add(e);
                stop = true;
            }
        }, name);
        threads.add(thread);
        thread.start();
    }

    /** Owns one store and its model; publishes snapshots to every reader. */
    private final class Writer implements Runnable {
        private final String lineage;
        private final Random random;
        private final Plan plan;
        private final Published base;
        private final TreeMap<byte[], byte[]> model = new TreeMap<>(ORDER);
        private ChangelogAwareStateStore store;
        private int sequence;

        /** {@code base}: the snapshot to fork from, or null to start empty. */
        Writer(String lineage, Random random, Plan plan, Published base) {
            this.lineage = lineage;
            this.random = random;
            this.plan = plan;
            this.base = base;
        }

        @Override
        public void run() {
            try {
                if (base == null) {
                    store = new ChangelogAwareStateStore(ChangelogSink.NONE);
                } else {
                    store = ChangelogAwareStateStore.fromSnapshot(base.snapshot(), ChangelogSink.NONE);
                    for (int i = 0; i < base.state().size(); i++) {
                        model.put(base.state().keys()[i], base.state().values()[i]);
                    }
                    publish(store.snapshot(), " (fork of " + base.name() + ")", true);
                }
                int untilSnapshot = 1;
                for (int op = 1; op <= plan.operations() && !stop; op++) {
                    if ((op & 1023) == 0 && System.nanoTime() > writeUntil) {
                        break;
                    }
                    step();
                    operations.increment();
                    if (op == plan.forkAt()) {
                        var forked = publish(store.snapshot(), "", true);
                        writing.incrementAndGet();
                        start("writer-B", new Writer("B", new Random(SEED + 2), PLAN_B, forked));
                    }
                    if (op == plan.retireAt()) {
                        var retired = publish(store.retire(), " (retired)", true);
                        store = ChangelogAwareStateStore.fromSnapshot(retired.snapshot(), ChangelogSink.NONE);
                    }
                    if (op == plan.clearAt()) {
                        store.clear();
                        model.clear();
                    }
                    if (--untilSnapshot == 0) {
                        publish(store.snapshot(), "", sequence % 20 == 0);
                        untilSnapshot = 200 + random.nextInt(600);
                    }
                }
            } finally {
                writing.decrementAndGet();
            }
        }

        private void step() {
            int i = random.nextInt(keys.length);
            var key = keys[i];
            var old = model.get(key);
            int dice = random.nextInt(100);
            if (dice < 70) {
                int length = old != null && random.nextInt(3) > 0 ? old.length : valueLength(old);
                var value = randomBytes(random, length);
                store.put(key, value);
                model.put(key, value);
            } else if (dice < 99) {
                delete(key);
            } else {
                for (int end = Math.min(keys.length, i + 1 + random.nextInt(48)); i < end; i++) {
                    delete(keys[i]);
                }
            }
        }

        private void delete(byte[] key) {
            boolean present = model.remove(key) != null;
            if (store.delete(key) != present) {
                throw new AssertionError(lineage + ": delete of key " + hex(key) + " should return " + present);
            }
        }

        /** A length from a small set, never that of {@code old}. */
        private int valueLength(byte[] old) {
            while (true) {
                int length = VALUE_LENGTHS[random.nextInt(VALUE_LENGTHS.length)];
                if (old == null || length != old.length) {
                    return length;
                }
            }
        }

        private Published publish(StateSnapshot snapshot, String note, boolean hold) {
            var published = new Published(lineage, lineage + "#" + sequence++ + note, snapshot, Frozen.of(model), hold);
            if (hold) {
                heldNames.add(published.name());
            }
            for (var queue : queues) {
                if (hold || queue.size() < BACKLOG) {
                    queue.add(published);
                } else {
                    skipped.increment();
                }
            }
            return published;
        }
    }

    /** Checks each snapshot it is given on arrival and again when it drops it; between arrivals, spot checks. */
    private final class Reader implements Runnable {
        private final int id;
        private final BlockingQueue<Published> queue;
        private final Random random;
        private final ArrayDeque<Published> latest = new ArrayDeque<>();
        private final ArrayDeque<Held> held = new ArrayDeque<>();
        private int arrivals;

        Reader(int id, BlockingQueue<Published> queue, Random random) {
            this.id = id;
            this.queue = queue;
            this.random = random;
        }

        @Override
        public void run() {
            while (!stop) {
                var next = queue.poll();
                if (next == null && writing.get() == 0) {
                    next = queue.poll(); // the writers' last snapshots were queued before they stopped
                    if (next == null) {
                        break;
                    }
                }
                if (next == null) {
                    spotCheck();
                    LockSupport.parkNanos(20_000);
                } else {
                    arrive(next);
                }
            }
            while (!stop && !latest.isEmpty()) {
                leave(latest.removeFirst(), "at the end");
            }
            while (!stop && !held.isEmpty()) {
                verify(held.removeFirst().published(), "at the end, held");
            }
        }

        private void arrive(Published next) {
            arrivals++;
            verify(next, "on arrival");
            var previous = latest.stream().filter(p -> p.lineage().equals(next.lineage())).reduce((a, b) -> b);
            checkChanges(previous.orElse(null), next);
            if (arrivals % 8 == 0) {
                checkChanges(null, next);
            }
            if (!held.isEmpty() && arrivals % 4 == 0) { // with one held long, either way round
                var old = pick(new ArrayList<>(held)).published();
                if (arrivals % 8 == 0) {
                    checkChanges(old, next);
                } else {
                    checkChanges(next, old);
                }
            }
            latest.addLast(next);
            if (next.hold()) {
                held.addLast(new Held(next, arrivals));
            }
            if (latest.size() > LATEST) {
                leave(latest.removeFirst(), "when dropped");
            }
            while (!held.isEmpty() && arrivals - held.peekFirst().arrival() > HOLD_FOR) {
                verify(held.removeFirst().published(), "when released, " + HOLD_FOR + " arrivals later");
            }
            if (id == 0 && arrivals % 64 == 0) {
                System.gc();
            }
        }

        private void leave(Published old, String when) {
            if (!old.hold()) { // a held one is checked again when it is released
                verify(old, when);
            }
        }

        /** Point reads of one window snapshot and the delta between two. */
        private void spotCheck() {
            var window = new ArrayList<>(latest);
            held.forEach(h -> window.add(h.published()));
            if (window.size() >= 2) {
                probe(pick(window), "in a spot check", 16);
                checkChanges(pick(window), pick(window));
            }
        }

        private void verify(Published p, String when) {
            var expected = p.state();
            if (p.snapshot().size() != expected.size()) {
                throw mismatch(p, when, "size: expected " + expected.size() + " but was " + p.snapshot().size());
            }
            int[] next = {0};
            p.snapshot().forEach((key, value) -> entry(p, when, "forEach", next[0]++, key, value));
            if (next[0] != expected.size()) {
                throw mismatch(p, when, "forEach: expected " + expected.size() + " entries but got " + next[0]);
            }
            int index = 0;
            for (var entry : p.snapshot()) {
                entry(p, when, "iterator", index++, entry.key(), entry.value());
            }
            if (index != expected.size()) {
                throw mismatch(p, when, "iterator: expected " + expected.size() + " entries but got " + index);
            }
            probe(p, when, 48);
            fullChecks.computeIfAbsent(p.name(), n -> new LongAdder()).increment();
        }

        private void entry(Published p, String when, String what, int index, byte[] key, byte[] value) {
            var expected = p.state();
            if (index >= expected.size()) {
                throw mismatch(p, when, what + ": extra entry " + index + ", key " + hex(key) + " = " + hex(value));
            }
            if (!Arrays.equals(key, expected.keys()[index])) {
                throw mismatch(p, when, what + " entry " + index + ": expected key " + hex(expected.keys()[index])
                        + " but was key " + hex(key));
            }
            if (!Arrays.equals(value, expected.values()[index])) {
                throw mismatch(p, when, what + " key " + hex(key) + ": expected " + hex(expected.values()[index])
                        + " but was " + hex(value));
            }
        }

        /** get and containsKey of keys of the key space and of near misses (a byte more or less). */
        private void probe(Published p, String when, int count) {
            for (int n = 0; n < count; n++) {
                var key = keys[random.nextInt(keys.length)];
                if (n % 4 == 3) {
                    key = n % 8 == 3 ? Arrays.copyOf(key, key.length - 1) : Arrays.copyOf(key, key.length + 1);
                }
                var expected = p.state().get(key);
                var actual = p.snapshot().get(key);
                if (!Arrays.equals(expected, actual)) {
                    throw mismatch(p, when, "get key " + hex(key) + ": expected " + hex(expected)
                            + " but was " + hex(actual));
                }
                if (p.snapshot().containsKey(key) != (expected != null)) {
                    throw mismatch(p, when, "containsKey key " + hex(key) + ": expected " + (expected != null));
                }
            }
        }

        /** {@code newer.changesSince(older)} must be exactly what turns the older state into the newer. */
        private void checkChanges(Published older, Published newer) {
            var changes = newer.snapshot().changesSince(older == null ? null : older.snapshot());
            var expected = diff(older == null ? Frozen.EMPTY : older.state(), newer.state());
            String when = "changesSince(" + (older == null ? "null" : older.name()) + ")";
            for (int i = 0; i < Math.max(changes.size(), expected.size()); i++) {
                var e = i < expected.size() ? expected.get(i) : null;
                var a = i < changes.size() ? changes.get(i) : null;
                if (e == null || a == null || !Arrays.equals(e.key(), a.key())) {
                    throw mismatch(newer, when, "change " + i + ": expected " + describe(e)
                            + " but was " + describe(a));
                }
                if (!Arrays.equals(e.value(), a.value())) {
                    throw mismatch(newer, when, "change " + i + " of key " + hex(e.key()) + ": expected "
                            + hex(e.value()) + " but was " + hex(a.value()));
                }
            }
            diffChecks.increment();
        }

        private <T> T pick(List<T> list) {
            return list.get(random.nextInt(list.size()));
        }
    }

    private static AssertionError mismatch(Published p, String when, String what) {
        return new AssertionError("snapshot " + p.name() + ", checked " + when + ": " + what);
    }

    /** The changes that turn {@code before} into {@code after}, in key order. */
    private static List<StateChange> diff(Frozen before, Frozen after) {
        var out = new ArrayList<StateChange>();
        int i = 0;
        int j = 0;
        while (i < before.size() || j < after.size()) {
            int c = i == before.size() ? 1
                    : j == after.size() ? -1 : ORDER.compare(before.keys()[i], after.keys()[j]);
            if (c < 0) {
                out.add(StateChange.deleted(before.keys()[i++]));
            } else if (c > 0) {
                out.add(new StateChange(after.keys()[j], after.values()[j++]));
            } else {
                if (!Arrays.equals(before.values()[i], after.values()[j])) {
                    out.add(new StateChange(after.keys()[j], after.values()[j]));
                }
                i++;
                j++;
            }
        }
        return out;
    }

    /** Distinct keys of 1 to 40 bytes; half share a prefix (or all of their bytes) with an earlier key. */
    private static byte[][] keySpace(Random random, int count) {
        var keys = new TreeSet<byte[]>(ORDER);
        var made = new ArrayList<byte[]>();
        while (made.size() < count) {
            var key = randomBytes(random, 1 + random.nextInt(40));
            if (!made.isEmpty() && random.nextBoolean()) {
                var other = made.get(random.nextInt(made.size()));
                System.arraycopy(other, 0, key, 0, Math.min(key.length, random.nextInt(other.length + 1)));
            }
            if (keys.add(key)) {
                made.add(key);
            }
        }
        return keys.toArray(byte[][]::new);
    }

    private static byte[] randomBytes(Random random, int length) {
        var bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }

    private static String describe(StateChange change) {
        if (change == null) {
            return "no change";
        }
        return hex(change.key()) + (change.isDelete() ? " deleted" : "=" + hex(change.value()));
    }

    private static String hex(byte[] bytes) {
        if (bytes == null) {
            return "absent";
        }
        return bytes.length <= 16 ? "0x" + HEX.formatHex(bytes)
                : "0x" + HEX.formatHex(bytes, 0, 16) + "...(" + bytes.length + " bytes)";
    }
}
