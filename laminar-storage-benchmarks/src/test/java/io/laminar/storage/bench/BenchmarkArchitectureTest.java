package io.laminar.storage.bench;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.importer.Location;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.junit.LocationProvider;
import com.tngtech.archunit.lang.ArchRule;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Set;

/**
 * The package structure of the benchmarks, on this module's main classes only (not the core's
 * or the S3 module's):
 *
 * <pre>
 * bench.suite        the command line, the suites, their report and targets: on top
 * bench.scenario     the WAL suite's scenarios
 * bench.percore      the per-core suite's scenarios and the Ring 0 fixture
 * bench.checkpoint   the checkpoint suite's scenarios and the checkpoint fixture
 * bench.s3           the S3 suite's scenarios (on the checkpoint fixture)
 * bench.replication  the replication suite's scenario (Kafka brokers in this JVM)
 * bench.jmh          the JMH benchmarks (and ring0-alloc, which runs one)
 * bench              the shared harness (context, settings, closed loop, result rows): below all
 * </pre>
 */
@AnalyzeClasses(locations = BenchmarkArchitectureTest.MainClasses.class)
class BenchmarkArchitectureTest {

    private static final String BENCH = "io.laminar.storage.bench";
    private static final String SUITE = "io.laminar.storage.bench.suite";

    @ArchTest
    static final ArchRule no_benchmark_class_lives_in_a_core_package =
            classes().should().resideInAPackage(BENCH + "..")
                    .because("a class of the core's packages belongs in the core; a benchmark reaches "
                            + "the core through its public API");

    @ArchTest
    static final ArchRule the_benchmark_packages_are_free_of_cycles =
            slices().matching("io.laminar.storage.(**)").should().beFreeOfCycles();

    @ArchTest
    static final ArchRule the_harness_depends_on_no_other_benchmark_package =
            noClasses().that().resideInAPackage(BENCH)
                    .should().dependOnClassesThat(resideInAPackage(BENCH + "..").and(not(resideInAPackage(BENCH))))
                    .because("the harness is shared by every suite and lies below them");

    @ArchTest
    static final ArchRule only_the_suites_know_the_suites =
            noClasses().that().resideOutsideOfPackage(SUITE)
                    .should().dependOnClassesThat().resideInAPackage(SUITE)
                    .because("the command line and the suites are the top: they pick the scenarios");

    /** Where this module's main classes are: a directory in a build, the module's jar otherwise. */
    static final class MainClasses implements LocationProvider {
        @Override
        public Set<Location> get(Class<?> testClass) {
            try {
                var source = Scenario.class.getProtectionDomain().getCodeSource().getLocation();
                return Set.of(Location.of(Path.of(source.toURI())));
            } catch (URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
