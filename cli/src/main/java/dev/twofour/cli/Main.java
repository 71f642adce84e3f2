package dev.twofour.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code twofour} command: wiring only. Each subcommand lives in its own class in this
 * package and delegates to the module that does the work.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage error.
 */
@Command(name = "twofour", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "2:4-sparse LLM inference runtime for the JVM.",
        subcommands = {
                InfoCommand.class,
                GenerateCommand.class,
                ChatCommand.class,
                EvalCommand.class,
                BenchCommand.class,
                TuneCommand.class,
                DemoCommand.class,
                ConvertCommand.class,
                TokenizeCommand.class,
                PruneCommand.class,
                ServeCommand.class,
                CommandLine.HelpCommand.class,
        })
public final class Main implements Runnable {
    public static final int EXIT_OK = 0;
    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_USAGE = 2;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command (try 'twofour --help')");
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the CLI and returns the exit code (tests call this instead of main). */
    public static int execute(String... args) {
        CommandLine cl = commandLine();
        return cl.execute(args);
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExitCodeExceptionMapper(t -> t instanceof CommandLine.ParameterException ? EXIT_USAGE : EXIT_FAILURE);
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            // A user-facing failure: one line, no stack trace unless asked for.
            String msg = ex.getMessage() != null ? ex.getMessage() : ex.toString();
            cmd.getErr().println("twofour: " + msg);
            if (System.getenv("TWOFOUR_DEBUG") != null) ex.printStackTrace(cmd.getErr());
            return EXIT_FAILURE;
        });
        return cl;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[]{"twofour " + (v != null ? v : "0.1.0-SNAPSHOT")};
        }
    }
}
