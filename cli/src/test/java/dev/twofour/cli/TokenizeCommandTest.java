package dev.twofour.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenizeCommandTest {
    /** The embedded model, or (tests only) the shared copy until the embedded one is in the repo. */
    static Path tinyModel() {
        Path repo = Path.of(System.getProperty("twofour.repo", "..")).toAbsolutePath().normalize();
        for (Path p : new Path[]{repo.resolve("models/tiny-llama-8m"), repo.resolve("../shared/models/tiny-llama-8m"),
                Path.of("/work/shared/models/tiny-llama-8m")}) {
            if (Files.isRegularFile(p.resolve("tokenizer.json"))) return p;
        }
        throw new IllegalStateException("tiny-llama-8m not found under " + repo);
    }

    private static String[] run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new String[]{String.valueOf(code), out.toString(), err.toString()};
    }

    @Test void printsIdsWithoutBosByDefault() {
        String model = tinyModel().toString();
        String[] plain = run("tokenize", "--model", model, "Hello world");
        assertEquals("0", plain[0], plain[2]);
        assertTrue(plain[1].matches("\\d+( \\d+)*\\R"), plain[1]);
        assertTrue(!plain[1].startsWith("0 "), "no BOS by default: " + plain[1]);

        String[] bos = run("tokenize", "--model", model, "--bos", "Hello world");
        assertEquals("0 " + plain[1], bos[1]);

        String[] json = run("tokenize", "--model", model, "--json", "Hello world");
        assertEquals("[" + plain[1].strip().replace(' ', ',') + "]\n", json[1].replace("\r\n", "\n"));
    }

    @Test void specialTokenTextStaysTextUnlessAsked() {
        String model = tinyModel().toString();
        String[] plain = run("tokenize", "--model", model, "--json", "<|eot_id|>");
        assertTrue(!plain[1].strip().equals("[4]"), plain[1]);
        String[] parsed = run("tokenize", "--model", model, "--json", "--parse-special", "<|eot_id|>");
        assertEquals("[4]", parsed[1].strip());
    }

    @Test void badModelDirIsAUsageErrorAndMissingTextToo() {
        String[] r = run("tokenize", "--model", "/no/such/dir", "x");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("/no/such/dir"), r[2]);
        assertEquals("2", run("tokenize", "--model", tinyModel().toString())[0]);
    }
}
