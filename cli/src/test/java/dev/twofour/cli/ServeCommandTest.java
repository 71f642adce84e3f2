package dev.twofour.cli;

import dev.twofour.cuda.Cuda;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.*;

/** Flag handling of {@code twofour serve}; serving itself is tested in the server module. */
class ServeCommandTest {

    /** Runs the CLI; returns {exit code, everything written to stderr (picocli's and System.err)}. */
    private static String[] run(String... args) {
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(new StringWriter()));
        cl.setErr(new PrintWriter(err));
        PrintStream old = System.err;
        ByteArrayOutputStream sysErr = new ByteArrayOutputStream();
        System.setErr(new PrintStream(sysErr, true, StandardCharsets.UTF_8));
        try {
            int code = cl.execute(args);
            return new String[]{String.valueOf(code), err + sysErr.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setErr(old);
        }
    }

    @Test void modelAndPresetTogetherIsAUsageError() {
        String[] r = run("serve", "--model", "x", "--preset", "llama2-7b", "--port", "0");
        assertEquals("2", r[0], r[1]);
    }

    @Test void sparseOnADenseModelSaysWhichWeightIsNot24() {
        String[] r = run("serve", "--sparse=on", "--backend", "cpu", "--port", "0");
        assertEquals("1", r[0], r[1]);
        assertTrue(r[1].contains("not 2:4") && r[1].contains("model.layers.0.self_attn.q_proj.weight"), r[1]);
    }

    @Test void tokenizerWithoutPresetIsAUsageError() {
        String[] r = run("serve", "--tokenizer", "x", "--port", "0");
        assertEquals("2", r[0], r[1]);
    }

    @Test void badNumbersAreUsageErrors() {
        assertEquals("2", run("serve", "--max-batch", "0", "--port", "0")[0]);
        assertEquals("2", run("serve", "--port", "70000")[0]);
        assertEquals("2", run("serve", "--max-batch", "many")[0]);
    }

    @Test void aPresetOnTheCpuSaysItNeedsCuda() {
        String[] r = run("serve", "--preset", "llama2-7b", "--backend", "cpu", "--port", "0");
        assertEquals("1", r[0], r[1]);
        assertTrue(r[1].contains("needs the CUDA backend"), r[1]);
        if (!Cuda.isAvailable()) {
            r = run("serve", "--preset", "llama2-7b", "--port", "0");
            assertEquals("1", r[0], r[1]);
            assertTrue(r[1].contains("needs the CUDA backend") && r[1].contains("--model DIR"), r[1]);
        }
    }

    @Test void aMissingModelFolderSaysSo() {
        String[] r = run("serve", "--model", "/nonexistent/model", "--backend", "cpu", "--port", "0");
        assertEquals("1", r[0], r[1]);
        assertTrue(r[1].contains("/nonexistent/model does not exist"), r[1]);
    }
}
