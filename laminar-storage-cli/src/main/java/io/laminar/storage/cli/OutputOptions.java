package io.laminar.storage.cli;

import java.io.PrintWriter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * How a command prints, shared by the commands that offer {@code --json}: the switch itself and
 * the command's standard output (picocli's writer, which the tool's exception handler and
 * {@code --help} use too).
 */
final class OutputOptions {

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    /** The command's standard output. */
    PrintWriter out() {
        return spec.commandLine().getOut();
    }
}
