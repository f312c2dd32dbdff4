package io.laminar.storage.cli;

import io.laminar.storage.checkpoint.StatePlacement;
import picocli.CommandLine.Option;

/**
 * {@code --state-placement CLASS}: the application's {@link StatePlacement}, which the recovery
 * needs to read a rescale's checkpoint (it references the older checkpoint's state files by key
 * group, and regroups their entries by the placement the rescale used). A picocli mixin of the
 * commands that run the recovery ({@code recover --dry-run}, {@code state get/scan}).
 */
final class PlacementOptions {

    static final String HELP = "A rescale's checkpoint is read with the StatePlacement the application rescaled with: "
            + "give its class with --state-placement and put the application's classes on the class path (java -cp "
            + "laminar.jar:<application classes> io.laminar.storage.cli.LaminarCli ...).";

    @Option(names = "--state-placement", paramLabel = "CLASS",
            description = "The application's StatePlacement (a class with a public no-argument constructor, on the "
                    + "class path); default: the library's, by stored key.")
    String className;

    /** The placement: the named class's instance, or {@link StatePlacement#BY_STORE_KEY}. */
    StatePlacement placement() {
        if (className == null) {
            return StatePlacement.BY_STORE_KEY;
        }
        Class<?> type;
        try {
            type = Class.forName(className, true, Thread.currentThread().getContextClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            throw new CliException("--state-placement " + className + ": the class is not on the class path (" + e
                    + "). Run the tool with the application's classes: java -cp laminar.jar:<application classes or "
                    + "jar> io.laminar.storage.cli.LaminarCli ...", e);
        }
        if (!StatePlacement.class.isAssignableFrom(type)) {
            throw new CliException("--state-placement " + className + ": the class does not implement "
                    + StatePlacement.class.getName());
        }
        try {
            return (StatePlacement) type.getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new CliException("--state-placement " + className + ": cannot create it with a public no-argument "
                    + "constructor (" + e + ")", e);
        }
    }
}
