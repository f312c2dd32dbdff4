package io.laminar.storage.sample;

import io.laminar.storage.checkpoint.StatePlacement;
import io.laminar.storage.runtime.CutContextProvider;
import io.laminar.storage.spring.autoconfigure.StateCheckpointCoordinatorCustomizer;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * What the sample adds to the starter's runtime: each core reports its file source position at its
 * checkpoint cut, and the manifest records the lowest as connector {@value FileSourceCheckpoints#CONNECTOR}
 * (see {@link FileSourceCheckpoints}). The recovery hook is the {@link CoreLedgers} component.
 */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(SampleProperties.class)
class SampleConfiguration {

    @Bean
    CutContextProvider fileSourceCutContext() {
        return FileSourceCheckpoints::cutContext;
    }

    @Bean
    StatePlacement ledgerPlacement() {
        return new LedgerPlacement();
    }

    @Bean
    StateCheckpointCoordinatorCustomizer fileSourceOffsets() {
        return coordinator -> coordinator.sources(FileSourceCheckpoints::sources);
    }
}
