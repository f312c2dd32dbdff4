package io.laminar.storage.store.s3;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/**
 * The S3 store is a checkpoint store and nothing more: its main classes use the store SPI and what
 * is below it in the core ({@code store}, {@code io}, {@code io.laminar.storage},
 * {@code concurrent}), the AWS SDK, SLF4J and the JDK; no WAL, core, state or checkpointing class.
 */
@AnalyzeClasses(packages = "io.laminar.storage.store.s3", importOptions = ImportOption.DoNotIncludeTests.class)
class S3ArchitectureTest {

    @ArchTest
    static final ArchRule the_s3_store_depends_on_the_store_spi_the_aws_sdk_and_slf4j_only =
            classes().that().resideInAPackage("io.laminar.storage.store.s3..")
                    .should().onlyDependOnClassesThat().resideInAnyPackage(
                            "io.laminar.storage.store.s3..",
                            "io.laminar.storage.store",
                            "io.laminar.storage.io",
                            "io.laminar.storage",
                            "io.laminar.storage.concurrent",
                            "software.amazon.awssdk..",
                            "org.slf4j..",
                            "java..")
                    .because("a checkpoint store knows nothing about WALs, cores, state or how "
                            + "checkpoints are taken");
}
