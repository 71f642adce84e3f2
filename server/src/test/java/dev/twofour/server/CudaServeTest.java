package dev.twofour.server;

import dev.twofour.cuda.Cuda;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.*;

/** The concurrency test on the CUDA backend (the tiny model on the GPU fast path, sampling on the device). */
@Tag("gpu")
class CudaServeTest {
    @Test void thirtyTwoParallelStreamsOnTheGpuEachGetWhatTheyGetAlone() throws Exception {
        Assumptions.assumeTrue(Cuda.isAvailable(), () -> "no GPU: " + Cuda.unavailableReason());
        Path model = Path.of(System.getProperty("twofour.repo", "..")).resolve("models/tiny-llama-8m").toAbsolutePath().normalize();
        EngineSettings settings = new EngineSettings(model, null, dev.twofour.runtime.cuda.SparseMode.AUTO, null, "cuda", 32, 64, 0, 0, null);
        try (OpenAiServer server = OpenAiServer.start(ServerOptions.localhost());
             RuntimeEngine engine = RuntimeEngine.open(settings, model, System.err)) {
            server.engineReady(engine);
            Http http = new Http(server.baseUri());
            int n = 32;
            List<String> bodies = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                bodies.add("{\"model\":\"tiny-llama-8m\",\"prompt\":\"Story number " + i + " begins\",\"max_tokens\":" + (16 + i % 7)
                        + ",\"temperature\":0.8,\"seed\":" + (500 + i) + ",\"stream\":true}");
            }
            List<String> alone = new ArrayList<>();
            for (String b : bodies) alone.add(Http.streamedText(http.stream("/v1/completions", b)));
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<List<String>>> fs = new ArrayList<>();
                for (String b : bodies) fs.add(pool.submit(() -> http.stream("/v1/completions", b)));
                for (int i = 0; i < n; i++) {
                    List<String> data = fs.get(i).get();
                    assertEquals("[DONE]", data.getLast());
                    assertEquals(alone.get(i), Http.streamedText(data), "stream " + i + " in a batch of " + n);
                }
            }
            String m = http.get("/metrics").body();
            assertTrue(Http.metric(m, "twofour_gpu_memory_used_bytes") > 0, m);
            assertEquals(0.0, Http.metric(m, "twofour_kv_blocks_used"));
        }
    }
}
