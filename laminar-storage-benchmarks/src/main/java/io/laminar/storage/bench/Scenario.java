package io.laminar.storage.bench;

import java.util.List;

/** One scenario of the WAL suite: laminar and its comparison systems, run side by side. */
public interface Scenario {

    /** The name used on the command line and in the {@code scenario} field of the rows. */
    String name();

    /** Runs every system of this scenario and returns one row per system and configuration. */
    List<Result> run(BenchContext context) throws Exception;
}
