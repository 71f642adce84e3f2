package dev.twofour.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.twofour.model.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GeneratorTest {
    static Generator generator(int chunk) {
        return new Generator(TinyModel.model(), Tokenizer.load(TinyModel.modelDir()), chunk);
    }

    static JsonNode firstCase() throws Exception {
        return new ObjectMapper().readTree(TinyModel.goldens().resolve("greedy.json").toFile()).get("cases").get(0);
    }

    @Test void greedyStreamMatchesGoldenTokensAndTextWithSmallPrefillChunks() throws Exception {
        JsonNode c = firstCase();
        int[] want = new ObjectMapper().convertValue(c.get("new_ids"), int[].class);
        List<Generator.Event> events = new ArrayList<>();
        // chunk 4 splits the 6-token prompt: chunked prefill must not change anything
        Generator.Result r = generator(4).generate(c.get("prompt").asText(),
                SamplingParams.greedy(48).withStopTokenIds(List.of()).withLogprobs(true), events::add);
        assertArrayEquals(want, r.tokens());
        assertEquals(Generator.FinishReason.LENGTH, r.finishReason());
        assertEquals(c.get("text").asText(), r.text());
        StringBuilder streamed = new StringBuilder();
        for (Generator.Event e : events) {
            streamed.append(e.text());
            assertTrue(e.logprob() <= 0 && !Float.isNaN(e.logprob()));
        }
        assertEquals(r.text(), streamed.toString());
        assertEquals(48, events.size());
        assertTrue(r.ttftMillis() > 0 && r.decodeTokensPerSecond() > 0);
    }

    @Test void stopStringEndsGenerationAndIsNotEmitted() throws Exception {
        JsonNode c = firstCase();
        String full = c.get("text").asText();            // " us, he was a member of the Department of Justice, ..."
        List<Generator.Event> events = new ArrayList<>();
        Generator.Result r = generator(256).generate(c.get("prompt").asText(),
                SamplingParams.greedy(48).withStop(List.of("Department", "zzz")), events::add);
        assertEquals(Generator.FinishReason.STOP, r.finishReason());
        assertEquals(full.substring(0, full.indexOf("Department")), r.text());
        StringBuilder streamed = new StringBuilder();
        for (Generator.Event e : events) streamed.append(e.text());
        assertEquals(r.text(), streamed.toString());
        assertFalse(streamed.toString().contains("Department"));
    }

    @Test void stopIdEndsGenerationWithoutEmittingIt() throws Exception {
        JsonNode c = firstCase();
        int[] want = new ObjectMapper().convertValue(c.get("new_ids"), int[].class);
        // stop at the 4th generated token's id
        Generator.Result r = generator(256).generate(c.get("prompt").asText(),
                SamplingParams.greedy(48).withStopTokenIds(List.of(want[3])), null);
        assertEquals(Generator.FinishReason.STOP, r.finishReason());
        int firstAt = 0;
        while (want[firstAt] != want[3]) firstAt++;
        assertArrayEquals(java.util.Arrays.copyOf(want, firstAt), r.tokens());
    }

    @Test void heldBackSuffixIsThePartThatCouldStartAStop() {
        assertEquals(3, Generator.heldBack("hello wor", List.of("world"), 5));
        assertEquals(0, Generator.heldBack("hello", List.of("world"), 5));
        assertEquals(1, Generator.heldBack("abc\n", List.of("\n\n"), 2));
        assertEquals(1, Generator.earliestStop("a\n\nb", List.of("b", "\n\n")));
    }

    @Test void sameSeedGivesTheSameSampledText() {
        Generator g = generator(256);
        SamplingParams p = SamplingParams.defaults().withTemperature(1f).withTopP(0.9f).withSeed(42L).withMaxTokens(20)
                .withStopTokenIds(List.of());
        Generator.Result a = g.generate("The history of the city", p, null);
        Generator.Result b = g.generate("The history of the city", p, null);
        Generator.Result c = g.generate("The history of the city", p.withSeed(43L), null);
        assertArrayEquals(a.tokens(), b.tokens());
        assertFalse(java.util.Arrays.equals(a.tokens(), c.tokens()));
    }
}
