package io.laminar.storage.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.ToDoubleFunction;

/**
 * Runs the systems of a scenario in rounds, rotating their order each round, and keeps each
 * system's median run. The disk is shared and its speed drifts over minutes; interleaving puts
 * every system through the same drift, so the ratios between them stay meaningful.
 */
public final class Rounds {

    private Rounds() {
    }

    /**
     * Runs every system {@code rounds} times and returns one row per system, in the order given:
     * the run with the median {@code metric}, with all runs' values added as {@code runsField}.
     */
    public static List<Result> interleaved(int rounds, List<Callable<Result>> systems,
                                           ToDoubleFunction<Result> metric, String runsField) throws Exception {
        var runs = new ArrayList<List<Result>>();
        for (int i = 0; i < systems.size(); i++) {
            runs.add(new ArrayList<>());
        }
        for (int round = 0; round < rounds; round++) {
            for (int k = 0; k < systems.size(); k++) {
                int system = (k + round) % systems.size();
                runs.get(system).add(systems.get(system).call());
            }
        }
        var medians = new ArrayList<Result>();
        for (var systemRuns : runs) {
            medians.add(Result.median(systemRuns, metric, runsField));
        }
        return medians;
    }
}
