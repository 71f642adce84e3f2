package dev.twofour.runtime.batch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.twofour.runtime.SamplingParams;
import dev.twofour.runtime.Transformer;
import dev.twofour.runtime.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The scheduler over the real tiny model on the CPU: greedy continuations equal transformers' while batched. */
class TransformerBatchModelTest {
    @Test void batchedGreedyContinuationsMatchTransformers() throws Exception {
        Path repo = Path.of(System.getProperty("twofour.repo", "..")).toAbsolutePath().normalize();
        JsonNode cases = new ObjectMapper().readTree(Files.readString(
                repo.resolve("runtime/src/test/resources/goldens/tiny-llama-8m/greedy.json"))).get("cases");
        int newTokens = 16;
        try (CpuBackend backend = new CpuBackend();
             Transformer t = Transformer.load(repo.resolve("models/tiny-llama-8m"), backend, Transformer.Options.defaults());
             TransformerBatchModel model = new TransformerBatchModel(t, 4096, 0, 4)) { // chunks of 4: prompts span several steps
            assertEquals(1024, model.maxContext());
            Scheduler scheduler = new Scheduler(model, new Scheduler.Config(8, 8, 16));
            try {
                List<SchedulerTest.Collector> cs = new ArrayList<>();
                for (JsonNode c : cases) {
                    int[] prompt = new ObjectMapper().convertValue(c.get("ids"), int[].class);
                    SchedulerTest.Collector col = new SchedulerTest.Collector();
                    cs.add(col);
                    scheduler.submit(new SequenceRequest(prompt, newTokens, null, -1, SamplingParams.greedy(newTokens)), col);
                }
                for (int i = 0; i < cs.size(); i++) {
                    assertEquals(TokenSink.FinishReason.LENGTH, cs.get(i).await());
                    List<Integer> expected = new ArrayList<>();
                    for (int j = 0; j < newTokens; j++) expected.add(cases.get(i).get("new_ids").get(j).asInt());
                    assertEquals(expected, cs.get(i).tokens, "case " + i + ": " + cases.get(i).get("prompt").asText());
                }
                assertTrue(scheduler.stats().steps() < cases.size() * (newTokens + 4L), "the cases shared steps");
            } finally {
                scheduler.close();
            }
            assertEquals(0, model.usedBlocks());
        }
    }
}
