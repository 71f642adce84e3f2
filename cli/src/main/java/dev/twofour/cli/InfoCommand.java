package dev.twofour.cli;

import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/** {@code twofour info}: JVM, GPU and CUDA libraries, or why the CPU backend is used. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Show the JVM, the GPU and the CUDA libraries found (or why the CPU backend is used).")
final class InfoCommand implements Callable<Integer> {
    @Override public Integer call() {
        System.out.println("java: " + System.getProperty("java.vm.name") + " " + Runtime.version()
                + " (" + System.getProperty("java.home") + ")");
        return Main.EXIT_OK;
    }
}
