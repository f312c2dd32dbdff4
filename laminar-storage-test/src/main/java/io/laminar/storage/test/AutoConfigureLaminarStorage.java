package io.laminar.storage.test;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Gives each application context of a Spring test its own temporary laminar-storage data
 * directory ({@code laminar.storage.dir}), and deletes it when the context closes, after the
 * runtime, the write-ahead logs and the checkpoint store are closed.
 *
 * <p>The Spring TestContext framework caches application contexts: two test classes with different
 * properties get two contexts that are open at the same time, and with one {@code laminar.storage.dir}
 * the second would find the write-ahead log locked by the first. With this annotation every context
 * has a directory of its own (test classes that share a context share its directory, as they share
 * its beans):
 *
 * <pre>{@code
 * @SpringBootTest(properties = "laminar.storage.cores=2")
 * @AutoConfigureLaminarStorage
 * class DepositsTests {
 *     @Autowired LaminarRuntime runtime;
 *     ...
 * }
 * }</pre>
 *
 * <p>The directory wins over a {@code laminar.storage.dir} set anywhere else (application
 * properties, test properties): the point is isolation. So does {@link #segmentSize()}, unless it
 * is empty. Add {@code laminar-storage-test} in test scope; it works with any test framework the
 * TestContext framework runs under.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Documented
@Inherited
public @interface AutoConfigureLaminarStorage {

    /**
     * {@code laminar.storage.wal.segment-size} in the test, over what the application's
     * configuration says: small segments are quick to pre-allocate, and a test writes little (the
     * default is 64MB per core, written in full before the first record). Empty: the application's.
     */
    String segmentSize() default "2MB";

    /** Whether to keep the directory after the context closed, to look at it after a failure (default: delete it). */
    boolean keep() default false;
}
