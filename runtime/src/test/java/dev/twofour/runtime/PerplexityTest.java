package dev.twofour.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.twofour.model.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PerplexityTest {

    static Path validTxt() {
        Path inRepo = TinyModel.repo().resolve("../shared/data/valid.txt").normalize();
        return Files.isRegularFile(inRepo) ? inRepo : Path.of("/work/shared/data/valid.txt");
    }

    /** The exact protocol on the whole held-out file: transformers' fp32 84.5958 (ppl.json), within 0.1%. */
    @Test void tinyModelOnValidTxtMatchesTransformers() throws Exception {
        JsonNode golden = new ObjectMapper().readTree(TinyModel.goldens().resolve("ppl.json").toFile());
        Tokenizer tok = Tokenizer.load(TinyModel.modelDir());
        int[] ids = Perplexity.tokenize(tok, Files.readString(validTxt()));
        assertEquals(golden.get("total_ids").asInt(), ids.length, "protocol id count");
        Perplexity.Result r = Perplexity.evaluate(TinyModel.model(), ids, 256, Perplexity.DEFAULT_WINDOWS_PER_STEP, null);
        System.out.printf("ppl %.4f over %d tokens in %.1f s%n", r.perplexity(), r.predictedTokens(), r.seconds());
        assertEquals(golden.get("predicted_tokens").asLong(), r.predictedTokens());
        double want = golden.get("fp32_cpu").asDouble();
        assertTrue(Math.abs(r.perplexity() / want - 1) < 1e-3, "ppl " + r.perplexity() + " vs transformers " + want);
    }

    @Test void protocolSplitsOnBlankLinesAndSkipsWhitespaceParts() {
        Tokenizer tok = Tokenizer.load(TinyModel.modelDir());
        int[] ids = Perplexity.tokenize(tok, "Hello there\n\n  \n\n\nWorld\n\n");
        int[] a = tok.encode("Hello there", false), b = tok.encode("\nWorld", false);
        int bos = tok.bosId(), eos = tok.eosIds().get(0);
        int[] want = new int[a.length + b.length + 4];
        int i = 0;
        want[i++] = bos;
        for (int x : a) want[i++] = x;
        want[i++] = eos;
        want[i++] = bos;
        for (int x : b) want[i++] = x;
        want[i] = eos;
        org.junit.jupiter.api.Assertions.assertArrayEquals(want, ids);
    }

    @Test void logSumExpMatchesDoubleReference() {
        java.util.Random rnd = new java.util.Random(5);
        float[] a = new float[1000 + 37];
        for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian() * 8;
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int i = 37; i < a.length; i++) max = Math.max(max, a[i]);
        for (int i = 37; i < a.length; i++) sum += Math.exp(a[i] - max);
        assertEquals(max + Math.log(sum), Perplexity.logSumExp(a, 37, 1000), 1e-4);
    }
}
