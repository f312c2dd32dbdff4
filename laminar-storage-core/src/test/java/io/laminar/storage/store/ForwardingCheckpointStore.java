package io.laminar.storage.store;

import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.StateFileRef;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;

/**
 * A store that forwards everything to another; tests override what they change. Closing it does not
 * close the delegate (its owner does). Thread-safe if the delegate is.
 */
public class ForwardingCheckpointStore implements CheckpointStore {
    protected final CheckpointStore delegate;

    public ForwardingCheckpointStore(CheckpointStore delegate) {
        this.delegate = delegate;
    }

    @Override
    public StateFileRef writeFile(String path, ContentWriter content) throws IOException {
        return delegate.writeFile(path, content);
    }

    @Override
    public InputStream openFile(String path) throws IOException {
        return delegate.openFile(path);
    }

    @Override
    public Optional<Long> fileSize(String path) throws IOException {
        return delegate.fileSize(path);
    }

    @Override
    public List<String> listFiles() throws IOException {
        return delegate.listFiles();
    }

    @Override
    public void deleteFile(String path) throws IOException {
        delegate.deleteFile(path);
    }

    @Override
    public void publishManifest(CheckpointManifest manifest) throws IOException {
        delegate.publishManifest(manifest);
    }

    @Override
    public Optional<CheckpointManifest> readManifest(long checkpointId) throws IOException {
        return delegate.readManifest(checkpointId);
    }

    @Override
    public List<Long> listCheckpoints() throws IOException {
        return delegate.listCheckpoints();
    }

    @Override
    public void deleteManifest(long checkpointId) throws IOException {
        delegate.deleteManifest(checkpointId);
    }

    @Override
    public long claimOwnership() throws IOException {
        return delegate.claimOwnership();
    }

    @Override
    public java.util.Map<Long, Long> ownerFences() throws IOException {
        return delegate.ownerFences();
    }

    @Override
    public long newestOwnerEpoch() throws IOException {
        return delegate.newestOwnerEpoch();
    }

    @Override
    public long ownerEpoch() {
        return delegate.ownerEpoch();
    }

    @Override
    public int cleanUpIncompleteWrites() throws IOException {
        return delegate.cleanUpIncompleteWrites();
    }
}
