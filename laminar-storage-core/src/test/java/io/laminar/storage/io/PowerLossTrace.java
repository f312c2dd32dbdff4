package io.laminar.storage.io;

import java.util.ArrayList;
import java.util.List;

/**
 * The mutating file-system calls a {@link PowerLossFileIO} saw, in the order they reached the real
 * file system, with the workload's notes ({@link Op.Mark}) between them. A point of the trace is
 * an index: the operations before it happened, the ones from it on did not. Replaying a prefix into
 * a {@link DiskModel} tells what was durable at that point; {@link DiskModel#crash} cuts the power
 * there.
 *
 * <p>Not thread-safe; {@link PowerLossFileIO#trace()} hands out copies.
 */
public final class PowerLossTrace {

    /** One recorded operation. Paths are relative to the root, '/'-separated. */
    public sealed interface Op {

        /** {@code data} written at {@code offset} of the file {@code inode}. */
        record Write(int inode, long offset, byte[] data) implements Op {
        }

        /** The file's size set (a truncate, or {@code TRUNCATE_EXISTING}). */
        record SetSize(int inode, long size) implements Op {
        }

        /** {@code force} on the file: its data and size are durable. */
        record Sync(int inode) implements Op {
        }

        /** A name for a file: a new file ({@code created}) or a hard link to an existing one. */
        record Link(String path, int inode, boolean created) implements Op {
        }

        /** A name removed. */
        record Unlink(String path, int inode) implements Op {
        }

        /** A file renamed, replacing whatever had the name {@code to}. */
        record Rename(String from, String to, int inode) implements Op {
        }

        /** A directory synced: its entries are durable. */
        record SyncDir(String directory) implements Op {
        }

        /** A file (or, with null content, a directory) that was there before: durable as it is. */
        record Adopt(String path, byte[] content) implements Op {
        }

        /** A note of the workload, say "acknowledged"; changes nothing on disk. */
        record Mark(Object note) implements Op {
        }
    }

    private final ArrayList<Op> ops;

    PowerLossTrace() {
        this(new ArrayList<>());
    }

    private PowerLossTrace(ArrayList<Op> ops) {
        this.ops = ops;
    }

    void add(Op op) {
        ops.add(op);
    }

    PowerLossTrace copy() {
        return new PowerLossTrace(new ArrayList<>(ops));
    }

    /** The number of operations. */
    public int size() {
        return ops.size();
    }

    /** Operation {@code index}. */
    public Op get(int index) {
        return ops.get(index);
    }

    /** All operations, in order. */
    public List<Op> ops() {
        return List.copyOf(ops);
    }

    /** Whether operation {@code index} is a {@code force} or a directory sync: a sync point. */
    public boolean isSync(int index) {
        var op = ops.get(index);
        return op instanceof Op.Sync || op instanceof Op.SyncDir;
    }

    /** Whether operation {@code index} changes a file's data or size. */
    public boolean isWrite(int index) {
        var op = ops.get(index);
        return op instanceof Op.Write || op instanceof Op.SetSize;
    }
}
