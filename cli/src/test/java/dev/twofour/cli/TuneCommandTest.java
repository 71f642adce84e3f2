package dev.twofour.cli;

import dev.twofour.cuda.Cuda;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** twofour tune's flags on the CPU: usage errors exit 2, no GPU exits 1 with the reason (the tuning itself: TunerTest, GPU). */
class TuneCommandTest {
    record Result(int code, String err) {}

    private static Result run(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(new StringWriter()));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Result(code, err.toString());
    }

    @Test void usageErrorsExitWith2AndSayWhatIsWrong() {
        Result both = run("tune", "--preset", "llama2-7b", "--shapes", "4096x4096");
        assertEquals(2, both.code());
        assertTrue(both.err().contains("give one of --model, --preset and --shapes"), both.err());
        assertEquals(2, run("tune", "--preset", "llama2-7b", "--m", "0").code());
        assertEquals(2, run("tune", "--preset", "llama2-7b", "--dtype", "fp32").code());
        assertEquals(2, run("tune", "--preset", "no-such-model").code());
        assertEquals(2, run("tune", "--shapes", "4096x4097").code(), "K must be a multiple of 4");
        assertEquals(2, run("tune", "--preset", "llama2-7b", "--timeout-per-shape", "0").code());
        Result noModel = run("tune", "--model", "/nonexistent/model");
        assertEquals(2, noModel.code());
        assertTrue(noModel.err().contains("no config.json"), noModel.err());
    }

    @Test void withoutAGpuItSaysSoAndExits1() {
        assumeFalse(Cuda.isAvailable(), "a GPU is present: this checks the message without one");
        Result r = run("tune", "--preset", "llama2-7b", "--m", "1,16");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("tune needs a GPU"), r.err());
    }
}
