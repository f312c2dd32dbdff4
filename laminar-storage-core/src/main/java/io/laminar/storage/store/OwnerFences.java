package io.laminar.storage.store;

import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The fence points of a store's owner epochs, and what they make void: the rule that keeps a
 * fenced owner's late writes out of the new owner's recovery and retention, whatever the store's
 * primitives allow.
 *
 * <h2>Why a rule and not only a check</h2>
 * A claimed store checks, before each publish and delete, that no newer epoch was claimed. On a
 * file system the check and the operation run under one lock that the claim takes too, so they are
 * one step. On S3 they are two requests: an owner paused between its check and its request (a GC, a
 * SIGSTOP, a partition) completes that request after the new owner's claim. So the claim also records
 * a <em>fence point</em>: right after creating epoch {@code n}, the claimant lists the manifests and
 * records the newest id it saw, {@code F(n)} ({@link CheckpointStore#ownerFences()}). A manifest
 * published by a store object that claimed owner epoch {@code w} (its {@link #SOURCE_NAME} entry)
 * with id {@code i} is <em>void</em> if some epoch {@code n > w} has a fence point {@code F(n) < i}: it was published after {@code n} took over and after {@code n} looked, so {@code n}
 * and every later owner act as if it did not exist. Recovery skips it, retention deletes it and does
 * not count it as referencing files. A late manifest that landed before the claimant listed is not
 * void: nobody observed the store between the claim and that listing, so it is ordered before the
 * claim, as if its owner had been a little faster. A manifest without the entry was published by a
 * store object that never claimed (local durability, a rescale, an operator's tool): by the store's
 * contract such a writer is the only one, is never fenced, and its manifests are never void.
 *
 * <p>State files carry their writer's epoch in their names ({@code -e<n>}), and a claimed owner's
 * retention and orphan cleanup delete only files of its own or older epochs: a fenced owner's late
 * delete can never name a file of a newer owner. Together: nothing a fenced owner does after the new
 * owner's claim is visible to the new owner's recovery, and no file of the new owner is deleted.
 *
 * <p>Immutable and thread-safe.
 */
public final class OwnerFences {

    /**
     * The reserved entry in a manifest's {@code sources} whose offset {@code epoch} is the owner
     * epoch of the store object that published it. Absent in manifests of unclaimed stores.
     */
    public static final String SOURCE_NAME = "laminar.owner";
    /** The key of the epoch in {@link #SOURCE_NAME}'s offsets. */
    public static final String EPOCH_KEY = "epoch";

    private static final OwnerFences NONE = new OwnerFences(Map.of());

    private final TreeMap<Long, Long> fences;

    private OwnerFences(Map<Long, Long> fences) {
        this.fences = new TreeMap<>(fences);
    }

    /** The fences of {@code store}: {@link CheckpointStore#ownerFences()}. */
    public static OwnerFences of(CheckpointStore store) throws java.io.IOException {
        var map = store.ownerFences();
        return map.isEmpty() ? NONE : new OwnerFences(map);
    }

    /** Fences from epoch to fence point (the newest manifest id listed after the claim, -1 if none). */
    public static OwnerFences of(Map<Long, Long> fences) {
        return fences.isEmpty() ? NONE : new OwnerFences(fences);
    }

    /** The source entry that tags a manifest as published by owner epoch {@code epoch}. */
    public static ConnectorCheckpoint tag(long epoch) {
        return new ConnectorCheckpoint(Map.of(EPOCH_KEY, Long.toString(epoch)), Map.of());
    }

    /**
     * The owner epoch that published {@code manifest}: its {@link #SOURCE_NAME} entry, or -1 if it
     * has none (a store object that never claimed, or a manifest from before owner epochs).
     *
     * @throws CheckpointCorruptException if the entry is there but not a non-negative number
     */
    public static long writerEpoch(CheckpointManifest manifest) {
        var entry = manifest.sources().get(SOURCE_NAME);
        if (entry == null) {
            return -1;
        }
        var value = entry.offsets().get(EPOCH_KEY);
        try {
            long epoch = Long.parseLong(value);
            if (epoch >= 0) {
                return epoch;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new CheckpointCorruptException(manifest.checkpointId(), "checkpoint " + manifest.checkpointId()
                + " has the source entry '" + SOURCE_NAME + "' with " + EPOCH_KEY + " '" + value + "', which is not an "
                + "owner epoch (a non-negative number); the manifest was not written by laminar-storage");
    }

    /**
     * Why checkpoint {@code id}, published by owner epoch {@code writerEpoch} (-1: by a store object
     * that never claimed), is void, or empty if it is not (see the class comment).
     */
    public Optional<String> voidReason(long id, long writerEpoch) {
        if (writerEpoch < 0) {
            return Optional.empty();
        }
        for (var fence : fences.tailMap(writerEpoch, false).entrySet()) {
            if (id > fence.getValue()) {
                return Optional.of("published by owner epoch " + writerEpoch + " after owner epoch " + fence.getKey()
                        + " took the shard over (whose claim saw checkpoints up to " + fence.getValue() + "): the late "
                        + "write of a fenced owner, ignored");
            }
        }
        return Optional.empty();
    }

    /** Why {@code manifest} is void, or empty if it is not. */
    public Optional<String> voidReason(CheckpointManifest manifest) {
        return voidReason(manifest.checkpointId(), writerEpoch(manifest));
    }

    @Override
    public String toString() {
        return "OwnerFences" + fences;
    }
}
