package io.laminar.storage;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import java.util.Arrays;
import java.util.stream.Stream;

/**
 * The layering of the core, as written in each {@code package-info.java}, checked on the core's main
 * classes. Each package depends only on the packages before it:
 *
 * <pre>
 * root (StorageException), concurrent            JDK only
 * io                                             JDK (+ concurrent)
 * replication  root                              the replication SPI: what a backend implements
 * wal          io, root, com.sun.nio.file (O_DIRECT)
 * percore      wal, io, root
 * state        wal, root
 * changelog    state, percore, replication, root, JCTools
 * store        io, root, Jackson                 the checkpoint store SPI: nothing above io
 * checkpoint   store, percore, changelog, state, replication, io, root
 * runtime      everything above, JCTools
 * </pre>
 *
 * Every package may use {@code concurrent}; every package from {@code wal} on may log through the
 * SLF4J API. A package added to the core needs a rule here (see {@link #every_class_is_in_a_package_with_a_rule}).
 */
@AnalyzeClasses(packages = "io.laminar.storage", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

    private static final String ROOT = "io.laminar.storage";
    private static final String CONCURRENT = "io.laminar.storage.concurrent";
    private static final String IO = "io.laminar.storage.io";
    private static final String WAL = "io.laminar.storage.wal";
    private static final String PERCORE = "io.laminar.storage.percore";
    private static final String STATE = "io.laminar.storage.state";
    private static final String CHANGELOG = "io.laminar.storage.changelog";
    private static final String STORE = "io.laminar.storage.store";
    private static final String CHECKPOINT = "io.laminar.storage.checkpoint";
    private static final String RUNTIME = "io.laminar.storage.runtime";
    private static final String REPLICATION = "io.laminar.storage.replication";

    private static final String[] JDK = {"java.."};
    /** {@code com.sun.nio.file.ExtendedOpenOption.DIRECT}, for the WAL's O_DIRECT backend (module jdk.unsupported). */
    private static final String JDK_DIRECT_IO = "com.sun.nio.file..";
    private static final String SLF4J = "org.slf4j..";
    private static final String JCTOOLS = "org.jctools..";
    private static final String JACKSON = "tools.jackson..";

    @ArchTest
    static final ArchRule root_depends_on_the_jdk_only =
            onlyDependsOn(ROOT, JDK);

    @ArchTest
    static final ArchRule concurrent_depends_on_the_jdk_only =
            onlyDependsOn(CONCURRENT, JDK);

    @ArchTest
    static final ArchRule io_depends_on_the_jdk_only =
            onlyDependsOn(IO, JDK, CONCURRENT);

    @ArchTest
    static final ArchRule replication_depends_on_the_root_only =
            onlyDependsOn(REPLICATION, JDK, ROOT);

    @ArchTest
    static final ArchRule wal_depends_on_io_and_root =
            onlyDependsOn(WAL, JDK, CONCURRENT, SLF4J, ROOT, IO, JDK_DIRECT_IO);

    @ArchTest
    static final ArchRule percore_depends_on_wal_io_and_root =
            onlyDependsOn(PERCORE, JDK, CONCURRENT, SLF4J, ROOT, IO, WAL);

    @ArchTest
    static final ArchRule state_depends_on_wal_and_root =
            onlyDependsOn(STATE, JDK, CONCURRENT, SLF4J, ROOT, WAL);

    @ArchTest
    static final ArchRule changelog_depends_on_state_percore_root_and_jctools =
            onlyDependsOn(CHANGELOG, JDK, CONCURRENT, SLF4J, ROOT, STATE, PERCORE, REPLICATION, JCTOOLS);

    @ArchTest
    static final ArchRule store_depends_on_io_root_and_jackson =
            onlyDependsOn(STORE, JDK, CONCURRENT, SLF4J, ROOT, IO, JACKSON);

    @ArchTest
    static final ArchRule checkpoint_depends_on_store_percore_changelog_state_io_and_root =
            onlyDependsOn(CHECKPOINT, JDK, CONCURRENT, SLF4J, ROOT, IO, STATE, PERCORE, CHANGELOG, STORE, REPLICATION);

    @ArchTest
    static final ArchRule runtime_depends_on_the_packages_below_and_jctools =
            onlyDependsOn(RUNTIME, JDK, CONCURRENT, SLF4J, JCTOOLS,
                    ROOT, IO, WAL, PERCORE, STATE, CHANGELOG, STORE, CHECKPOINT, REPLICATION);

    /** Implied by the rule on {@code store} above, stated on its own because it is the point of the SPI. */
    @ArchTest
    static final ArchRule the_store_spi_depends_on_nothing_above_io =
            noClasses().that().resideInAPackage(STORE)
                    .should().dependOnClassesThat()
                    .resideInAnyPackage(WAL, PERCORE, STATE, CHANGELOG, CHECKPOINT, RUNTIME)
                    .because("a checkpoint store (file system, S3, ...) knows nothing about WALs, cores, "
                            + "state or how checkpoints are taken");

    @ArchTest
    static final ArchRule core_uses_no_spring_micrometer_cloud_sdk_or_kafka =
            noClasses().should().dependOnClassesThat()
                    .resideInAnyPackage("org.springframework..", "io.micrometer..", "software.amazon..",
                            "com.amazonaws..", "io.awspring..", "org.apache.kafka..")
                    .because("the core is plain Java: the starter adapts it to Spring and Micrometer, "
                            + "and each backend is a module of its own");

    @ArchTest
    static final ArchRule packages_are_free_of_cycles =
            slices().matching("io.laminar.(**)").should().beFreeOfCycles();

    @ArchTest
    static final ArchRule every_class_is_in_a_package_with_a_rule =
            classes().should().resideInAnyPackage(
                    ROOT, CONCURRENT, IO, WAL, PERCORE, STATE, CHANGELOG, STORE, CHECKPOINT, RUNTIME, REPLICATION)
                    .because("a new package of the core gets its dependency rule in this test and its "
                            + "package-info.java");

    private static ArchRule onlyDependsOn(String pkg, String[] jdk, String... allowed) {
        String[] packages = Stream.concat(
                        Stream.concat(Stream.of(pkg), Arrays.stream(jdk)), Arrays.stream(allowed))
                .toArray(String[]::new);
        return classes().that().resideInAPackage(pkg)
                .should().onlyDependOnClassesThat().resideInAnyPackage(packages)
                .because("package-info.java of " + pkg + " says what it may depend on")
                .allowEmptyShould(pkg.equals(CONCURRENT));
    }
}
