package io.laminar.storage.cli;

import java.io.IOException;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * The STORE of a read-only command that takes it as its first parameter ({@code checkpoint ...},
 * {@code state ...}): the parameter itself, how to reach it ({@link StoreOptions}: {@code --endpoint},
 * {@code --region}) and the command's standard output. A picocli mixin, so the parameter, its options
 * and their help text are declared once for every such command; the command's own parameters start
 * at index 1.
 */
final class StoreParameter {

    @Parameters(index = "0", paramLabel = "STORE")
    String spec;

    @Mixin
    StoreOptions options;

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    /**
     * Opens the store read-only, runs {@code work} with the command's standard output, closes the
     * store, flushes the output and returns {@code work}'s exit code (see {@link StoreOptions#read}).
     */
    int read(StoreOptions.StoreWork work) throws IOException {
        return options.read(spec, command.commandLine().getOut(), work);
    }
}
