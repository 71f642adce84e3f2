package dev.twofour.cli;

import dev.twofour.cuda.BackendChoice;
import dev.twofour.cuda.Cuda;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.Callable;

import static org.junit.jupiter.api.Assertions.*;

class InfoCommandTest {

    private static String[] run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new String[]{String.valueOf(code), out.toString(), err.toString()};
    }

    @Test void infoReportsJavaAndTheGpuOrWhyNot() {
        String[] r = run("info", "--searched");
        assertEquals("0", r[0], r[2]);
        String out = r[1];
        assertTrue(out.startsWith("java: "), out);
        assertTrue(out.contains(Runtime.version().toString()), out);
        if (Cuda.isAvailable()) {
            assertTrue(out.contains("GPU 0: "), out);
            assertTrue(out.contains("driver: CUDA "), out);
        } else {
            assertTrue(out.contains("no GPU: using the CPU backend (" + Cuda.unavailableReason() + ")"), out);
        }
        assertTrue(out.contains("CUDA libraries:"), out);
        assertTrue(out.contains("cuSPARSELt"), out);
        assertTrue(out.contains("searched:"), out);
    }

    @Test void infoRejectsUnknownOptions() {
        assertEquals("2", run("info", "--bogus")[0]);
    }

    @CommandLine.Command(name = "probe")
    static final class Probe implements Callable<Integer> {
        @CommandLine.Mixin BackendOption backend;
        @Override public Integer call() { return backend.requested().ordinal(); }
    }

    @Test void backendOptionParsesAndRejects() {
        assertEquals(BackendChoice.CPU.ordinal(), new CommandLine(new Probe()).execute("--backend", "cpu"));
        assertEquals(BackendChoice.CUDA.ordinal(), new CommandLine(new Probe()).execute("--backend", "CUDA"));
        assertEquals(BackendChoice.AUTO.ordinal(), new CommandLine(new Probe()).execute());
        CommandLine cl = new CommandLine(new Probe());
        cl.setErr(new PrintWriter(new StringWriter()));
        assertEquals(2, cl.execute("--backend", "tpu"), "an unknown backend is a usage error");
    }

    @Test void backendAutoResolvesWithoutFailing() {
        BackendOption opt = new BackendOption();
        BackendChoice resolved = opt.resolve();
        assertEquals(Cuda.isAvailable() ? BackendChoice.CUDA : BackendChoice.CPU, resolved);
    }
}
