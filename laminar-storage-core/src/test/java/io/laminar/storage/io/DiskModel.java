package io.laminar.storage.io;

import io.laminar.storage.io.PowerLossTrace.Op;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What was durable at a point of a {@link PowerLossTrace}, and what a power cut there can leave:
 * {@link #apply} the operations one by one, {@link #crash} at any point (it changes nothing, so one
 * pass over a trace yields crash images at every point). The model is documented on
 * {@link PowerLossFileIO}.
 *
 * <p>Not thread-safe.
 */
public final class DiskModel {

    private static final int SECTOR = 512;
    private static final int PAGE = 4096;

    /** A file: its durable bytes and size, its current ones, and the changes since its last force. */
    private static final class Inode {
        byte[] durable = new byte[0];
        byte[] current = new byte[0];
        int size;
        final List<Op> pending = new ArrayList<>();
    }

    /** A directory's durable and current entries (name to inode). */
    private static final class Dir {
        final TreeMap<String, Integer> durable = new TreeMap<>();
        final TreeMap<String, Integer> current = new TreeMap<>();
    }

    /** A pending entry change and the directories it changed that have not been synced since. */
    private record PendingDirOp(Op op, Set<String> unsynced) {
    }

    private final Map<Integer, Inode> inodes = new HashMap<>();
    private final Map<String, Dir> dirs = new LinkedHashMap<>();
    private final List<PendingDirOp> pendingDirOps = new ArrayList<>();
    private int nextInode;

    public DiskModel() {
        dirs.put("", new Dir());
    }

    /** The model after the first {@code upTo} operations of {@code trace}. */
    public static DiskModel replay(PowerLossTrace trace, int upTo) {
        var model = new DiskModel();
        for (int i = 0; i < upTo; i++) {
            model.apply(trace.get(i));
        }
        return model;
    }

    int newInode() {
        return nextInode;
    }

    Integer inodeOf(String path) {
        var dir = dirs.get(parent(path));
        return dir == null ? null : dir.current.get(name(path));
    }

    int size(int inode) {
        return inodes.get(inode).size;
    }

    /** Applies the next operation of a trace. */
    public void apply(Op op) {
        if (op instanceof Op.Write w) {
            var f = inodes.get(w.inode());
            int end = Math.toIntExact(w.offset() + w.data().length);
            f.current = grow(f.current, end);
            System.arraycopy(w.data(), 0, f.current, (int) w.offset(), w.data().length);
            f.size = Math.max(f.size, end);
            f.pending.add(op);
        } else if (op instanceof Op.SetSize s) {
            var f = inodes.get(s.inode());
            int size = Math.toIntExact(s.size());
            f.current = grow(f.current, size);
            if (size < f.size) {
                Arrays.fill(f.current, size, f.size, (byte) 0);
            }
            f.size = size;
            f.pending.add(op);
        } else if (op instanceof Op.Sync s) {
            var f = inodes.get(s.inode());
            f.durable = Arrays.copyOf(f.current, f.size);
            f.pending.clear();
        } else if (op instanceof Op.Link l) {
            if (l.created()) {
                inodes.put(l.inode(), new Inode());
                nextInode = Math.max(nextInode, l.inode() + 1);
            }
            dir(parent(l.path())).current.put(name(l.path()), l.inode());
            pendingDirOps.add(new PendingDirOp(op, new HashSet<>(Set.of(parent(l.path())))));
        } else if (op instanceof Op.Unlink u) {
            dir(parent(u.path())).current.remove(name(u.path()));
            pendingDirOps.add(new PendingDirOp(op, new HashSet<>(Set.of(parent(u.path())))));
        } else if (op instanceof Op.Rename r) {
            dir(parent(r.from())).current.remove(name(r.from()));
            dir(parent(r.to())).current.put(name(r.to()), r.inode());
            pendingDirOps.add(new PendingDirOp(op, new HashSet<>(Arrays.asList(parent(r.from()), parent(r.to())))));
        } else if (op instanceof Op.SyncDir s) {
            var dir = dir(s.directory());
            dir.durable.clear();
            dir.durable.putAll(dir.current);
            pendingDirOps.removeIf(p -> p.unsynced().remove(s.directory()) && p.unsynced().isEmpty());
        } else if (op instanceof Op.Adopt a) {
            if (a.content() == null) {
                dir(a.path());
            } else {
                var f = new Inode();
                f.durable = a.content().clone();
                f.current = a.content().clone();
                f.size = a.content().length;
                int inode = nextInode++;
                inodes.put(inode, f);
                var dir = dir(parent(a.path()));
                dir.current.put(name(a.path()), inode);
                dir.durable.put(name(a.path()), inode);
            }
        }
        // Op.Mark: nothing on disk
    }

    /** Whether anything is not durable: whether a power cut here can differ from a SIGKILL. */
    public boolean hasPendingChanges() {
        if (!pendingDirOps.isEmpty()) {
            return true;
        }
        for (var f : inodes.values()) {
            if (!f.pending.isEmpty()) {
                return true;
            }
        }
        return false;
    }

    /** A power cut now, in the modes {@code seed} chooses ({@link PowerCut#of}). */
    public PowerLossFileIO.CrashImage crash(long seed) {
        return crash(PowerCut.of(seed));
    }

    /** A power cut now, in the given modes. */
    public PowerLossFileIO.CrashImage crash(PowerCut cut) {
        var random = cut.random();
        // Directory entries: the durable ones, then the pending changes the mode keeps.
        var entries = new LinkedHashMap<String, TreeMap<String, Integer>>();
        for (var dir : dirs.entrySet()) {
            entries.put(dir.getKey(), new TreeMap<>(dir.getValue().durable));
        }
        int prefix = random.nextInt(pendingDirOps.size() + 1);
        for (int i = 0; i < pendingDirOps.size(); i++) {
            boolean kept = switch (cut.dir()) {
                case UNDONE -> false;
                case KEPT -> true;
                case EACH -> random.nextBoolean();
                case PREFIX -> i < prefix;
            };
            if (kept) {
                applyEntryChange(pendingDirOps.get(i), entries);
            }
        }
        // File contents, once per inode (hard links share them).
        var contents = new HashMap<Integer, byte[]>();
        var files = new TreeMap<String, byte[]>();
        for (var dir : entries.entrySet()) {
            for (var entry : dir.getValue().entrySet()) {
                var bytes = contents.computeIfAbsent(entry.getValue(), inode -> content(inodes.get(inode), cut, random));
                files.put(dir.getKey().isEmpty() ? entry.getKey() : dir.getKey() + "/" + entry.getKey(), bytes);
            }
        }
        return new PowerLossFileIO.CrashImage(cut, List.copyOf(new TreeSet<>(dirs.keySet())), files);
    }

    private static void applyEntryChange(PendingDirOp pending, Map<String, TreeMap<String, Integer>> entries) {
        var op = pending.op();
        if (op instanceof Op.Link l) {
            if (pending.unsynced().contains(parent(l.path()))) {
                entries.get(parent(l.path())).put(name(l.path()), l.inode());
            }
        } else if (op instanceof Op.Unlink u) {
            var dir = entries.get(parent(u.path()));
            if (pending.unsynced().contains(parent(u.path())) && Integer.valueOf(u.inode()).equals(dir.get(name(u.path())))) {
                dir.remove(name(u.path()));
            }
        } else if (op instanceof Op.Rename r) {
            var from = entries.get(parent(r.from()));
            var to = entries.get(parent(r.to()));
            boolean fromPending = pending.unsynced().contains(parent(r.from()));
            if (fromPending) {
                if (!Integer.valueOf(r.inode()).equals(from.get(name(r.from())))) {
                    return; // its source was never there: the rename cannot have happened
                }
                from.remove(name(r.from()));
            }
            if (pending.unsynced().contains(parent(r.to()))) {
                to.put(name(r.to()), r.inode());
            }
        } else {
            throw new IllegalStateException("not an entry change: " + op);
        }
    }

    private static byte[] content(Inode f, PowerCut cut, Random random) {
        if (f.pending.isEmpty()) {
            return f.durable;
        }
        var mode = cut.data();
        if (mode == PowerCut.Data.MIXED) {
            mode = PowerCut.Data.values()[random.nextInt(PowerCut.Data.values().length - 1)];
        }
        return switch (mode) {
            case LOST -> f.durable;
            case KEPT -> Arrays.copyOf(f.current, f.size);
            case GROWN_ZEROS -> {
                var bytes = new byte[f.size];
                System.arraycopy(f.durable, 0, bytes, 0, Math.min(f.durable.length, f.size));
                yield bytes;
            }
            case TORN_SECTORS -> torn(f, SECTOR, random);
            case TORN_PAGES -> torn(f, PAGE, random);
            case MIXED -> throw new AssertionError();
        };
    }

    /**
     * Each block the pending changes touched keeps the version of one point of their history (the
     * durable one or the one after some change that touched it); the size is one the file had.
     */
    private static byte[] torn(Inode f, int block, Random random) {
        var sizes = new ArrayList<Integer>();
        sizes.add(f.durable.length);
        int size = f.durable.length;
        int max = size;
        for (var op : f.pending) {
            if (op instanceof Op.Write w) {
                size = Math.max(size, (int) (w.offset() + w.data().length));
            } else {
                size = (int) ((Op.SetSize) op).size();
            }
            sizes.add(size);
            max = Math.max(max, size);
        }
        var image = Arrays.copyOf(f.durable, max);
        var frozen = new BitSet();
        var decided = new BitSet();
        size = f.durable.length;
        for (var op : f.pending) {
            int from;
            int to;
            if (op instanceof Op.Write w) {
                from = (int) w.offset();
                to = from + w.data().length;
            } else {
                int newSize = (int) ((Op.SetSize) op).size();
                from = Math.min(newSize, size);
                to = Math.max(newSize, size);
            }
            if (op instanceof Op.Write w) {
                size = Math.max(size, to);
            } else {
                size = (int) ((Op.SetSize) op).size();
            }
            if (to <= from) {
                continue;
            }
            for (int b = from / block; b <= (to - 1) / block; b++) {
                if (!decided.get(b)) {
                    decided.set(b);
                    if (random.nextInt(3) == 0) {
                        frozen.set(b); // this block never reached the disk: its durable version stays
                    }
                }
                if (frozen.get(b)) {
                    continue;
                }
                int lo = Math.max(from, b * block);
                int hi = Math.min(to, (b + 1) * block);
                if (op instanceof Op.Write w) {
                    System.arraycopy(w.data(), lo - from, image, lo, hi - lo);
                } else {
                    Arrays.fill(image, lo, hi, (byte) 0); // a shrink: the cut-off bytes read as zeros if it grows again
                }
                if (random.nextBoolean()) {
                    frozen.set(b); // written back now; later versions of the block did not reach the disk
                }
            }
        }
        return Arrays.copyOf(image, sizes.get(random.nextInt(sizes.size())));
    }

    private Dir dir(String path) {
        var dir = dirs.get(path);
        if (dir == null) {
            if (!path.isEmpty()) {
                dir(parent(path)); // directories are not modelled: every one is there, durably
            }
            dir = new Dir();
            dirs.put(path, dir);
        }
        return dir;
    }

    private static String parent(String path) {
        int slash = path.lastIndexOf('/');
        return slash < 0 ? "" : path.substring(0, slash);
    }

    private static String name(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    private static byte[] grow(byte[] bytes, int size) {
        if (size <= bytes.length) {
            return bytes;
        }
        return Arrays.copyOf(bytes, Math.max(size, bytes.length * 2));
    }
}
