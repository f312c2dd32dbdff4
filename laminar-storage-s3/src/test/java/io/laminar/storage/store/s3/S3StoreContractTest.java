package io.laminar.storage.store.s3;

import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.CheckpointStoreContract;
import java.util.concurrent.atomic.AtomicInteger;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;

/**
 * The store contract over any S3-compatible server: each test's store lives under its own key
 * prefix of {@link #BUCKET}. A subclass starts the server, creates the bucket and says which client
 * reaches it.
 */
abstract class S3StoreContractTest extends CheckpointStoreContract {

    static final String BUCKET = "contract";
    private static final AtomicInteger PREFIXES = new AtomicInteger();

    /** A client of the server under test, whose bucket {@link #BUCKET} exists. */
    protected abstract S3Client client();

    @Override
    protected CheckpointStore createStore() {
        return S3CheckpointStore.builder(client(), BUCKET).prefix("test-" + PREFIXES.incrementAndGet()).build();
    }

    @Override
    protected CheckpointStore openAnotherStoreOver(CheckpointStore store) {
        var s3 = (S3CheckpointStore) store;
        return S3CheckpointStore.builder(client(), s3.bucket()).prefix(s3.prefix()).build();
    }

    @Override
    protected void storeRawManifest(CheckpointStore store, long checkpointId, byte[] bytes) {
        var s3 = (S3CheckpointStore) store;
        client().putObject(PutObjectRequest.builder().bucket(s3.bucket()).key(s3.manifestKey(checkpointId)).build(),
                RequestBody.fromBytes(bytes));
    }
}
