package io.laminar.storage.bench.suite;

import io.laminar.storage.bench.Scenario;
import io.laminar.storage.bench.scenario.AppendNoSyncScenario;
import io.laminar.storage.bench.scenario.BulkScenario;
import io.laminar.storage.bench.scenario.DurableGroupScenario;
import io.laminar.storage.bench.scenario.DurableSingleScenario;
import io.laminar.storage.bench.scenario.ReplayScenario;
import java.util.List;

/**
 * The {@code wal} command: runs the WAL scenarios (laminar side by side with its comparison
 * systems), prints a table and the targets, and optionally writes the rows as JSON.
 */
public final class WalSuite {

    private static final List<Scenario> SCENARIOS = List.of(new AppendNoSyncScenario(), new DurableSingleScenario(),
            new DurableGroupScenario(), new BulkScenario(), new ReplayScenario());

    private WalSuite() {
    }

    static List<String> scenarioNames() {
        return SCENARIOS.stream().map(Scenario::name).toList();
    }

    /** Runs the suite; returns the process exit code (1 if a scenario failed, 2 for bad arguments). */
    static int run(String[] args) throws Exception {
        // Chronicle would otherwise print a banner and try to send usage analytics.
        System.setProperty("chronicle.analytics.disable", "true");
        System.setProperty("chronicle.announcer.disable", "true");
        return SuiteRunner.run(new SuiteRunner.Suite("wal", "laminar-storage WAL suite", SCENARIOS,
                Targets::addRatios, Targets::evaluate, Report::printTable, true), args);
    }
}
