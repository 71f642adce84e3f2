package dev.twofour.bench;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code twofour demo}'s pieces on the CPU in a small configuration, and the summary's structure. */
class DemoTest {
    @Test
    void prunesEvaluatesGeneratesAndBenchmarks() throws Exception {
        Demo.Options o = new Demo.Options(Repo.tinyModel(), Repo.root().resolve("data/calibration.txt"), Repo.root().resolve("data/valid.txt"),
                2, 64, 600, 128, "In the beginning God created", 6, new DecodeBench.Options(List.of(1, 2), 8, 4, 1, 1, "both"), false, 2);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Demo.Summary s = Demo.run(o, new PrintStream(err));
        assertEquals(56, s.linearLayers());
        assertEquals(56, s.sparseLayers(), "every linear layer of the pruned model runs 2:4");
        assertEquals(600, s.pplTokensUsed());
        assertTrue(s.pplTokensTotal() > 100_000, "the validation text has " + s.pplTokensTotal() + " tokens");
        assertTrue(s.pplDense() > 20 && s.pplDense() < 400, "dense perplexity " + s.pplDense());
        assertTrue(s.pplSparse() > s.pplDense() * 0.9 && s.pplSparse() < s.pplDense() * 3, "2:4 perplexity " + s.pplSparse());
        assertTrue(s.meanRelativeLoss() < s.meanRelativeLossMagnitude(), "prox + refine beats magnitude on the local loss");
        assertTrue(!s.textDense().isBlank() && !s.textSparse().isBlank());
        assertEquals(4, s.decode().results().size());

        String text = s.text();
        String[] sections = {"twofour demo: tiny-llama-8m (8.4M parameters)", "\nprune       56/56 linear layers now 2:4",
                "\nperplexity  valid.txt, first 600 of ", "(a prefix of the file", "\ngenerate    \"In the beginning God created\" + 6 tokens",
                "            dense: ", "            2:4:   ", "\ndecode      ", "batch  mode    ms/token", "\ndone in "};
        int at = -1;
        for (String sec : sections) {
            int i = text.indexOf(sec);
            assertTrue(i > at, "'" + sec.strip() + "' missing or out of order in:\n" + text);
            at = i;
        }
        assertTrue(text.matches("(?s).*\\n +2  2:4 +[0-9.]+ +[0-9.]+ +[0-9.]+ MiB +[0-9.]+x\\n.*"), text);
        assertTrue(err.toString().contains("prune ["), "a progress bar on stderr");
    }
}
