package dev.twofour.cli;

import dev.twofour.server.EngineSettings;
import dev.twofour.server.RuntimeEngine;
import dev.twofour.server.ServeLauncher;
import dev.twofour.server.ServerOptions;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code twofour serve}: the OpenAI-compatible HTTP API over the continuous-batching engine
 * (wiring only: flags to {@link EngineSettings} / {@link ServerOptions}, then {@link ServeLauncher}).
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve a model over an OpenAI-compatible HTTP API: POST /v1/completions, POST /v1/chat/completions "
                + "(both with \"stream\": true as server-sent events), GET /v1/models, GET /health, GET /metrics (Prometheus).",
                "Runs until SIGTERM or Ctrl-C, then stops accepting, lets running requests finish for --shutdown-grace "
                        + "seconds, ends the rest cleanly and exits 0."})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "DIR",
            description = "Hugging Face model directory (config.json, safetensors, tokenizer.json). Default: the embedded models/tiny-llama-8m.")
    Path model;

    @Option(names = "--preset", paramLabel = "NAME",
            description = "Serve synthetic weights of a known shape instead of a model directory (CUDA only; for load tests): "
                    + "llama2-7b, llama2-13b, llama2-70b, llama3-8b, mistral-7b.")
    String preset;

    @CommandLine.Mixin SparseOption sparse = new SparseOption();

    @Option(names = "--tokenizer", paramLabel = "DIR",
            description = "With --preset: the folder whose tokenizer.json encodes prompts. Default: the embedded model's.")
    Path tokenizer;

    @Option(names = "--host", defaultValue = "127.0.0.1",
            description = "Address to listen on (0.0.0.0: every interface). Default: ${DEFAULT-VALUE}.")
    String host;

    @Option(names = "--port", defaultValue = "8000", description = "TCP port (0: any free one). Default: ${DEFAULT-VALUE}.")
    int port;

    @CommandLine.Mixin BackendOption backend;

    @Option(names = "--max-batch", paramLabel = "N", defaultValue = "32",
            description = "Sequences decoded together at most (CUDA: at most 64). Default: ${DEFAULT-VALUE}.")
    int maxBatch;

    @Option(names = "--max-queue", paramLabel = "N", defaultValue = "128",
            description = "Requests waiting for a batch slot at most; more get 429 with Retry-After. Default: ${DEFAULT-VALUE}.")
    int maxQueue;

    @Option(names = "--max-context", paramLabel = "N", defaultValue = "0",
            description = "Tokens per sequence (prompt + generated) at most; 0: the model's (CUDA: at most 4096). Default: ${DEFAULT-VALUE}.")
    int maxContext;

    @Option(names = "--kv-tokens", paramLabel = "N", defaultValue = "0",
            description = "CPU: KV-cache tokens shared by all sequences; 0: max(context, 256 x max-batch). Default: ${DEFAULT-VALUE}.")
    int kvTokens;

    @Option(names = "--api-key", paramLabel = "KEY",
            description = "Require 'Authorization: Bearer KEY' on /v1/* (default: the TWOFOUR_API_KEY environment variable; none if unset).")
    String apiKey;

    @Option(names = "--model-name", paramLabel = "ID",
            description = "The model id clients send in \"model\". Default: the model directory's name (or the preset's).")
    String modelName;

    @Option(names = "--shutdown-grace", paramLabel = "SECONDS", defaultValue = "10",
            description = "On SIGTERM, how long running requests may go on before they are ended. Default: ${DEFAULT-VALUE}.")
    int shutdownGrace;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public Integer call() {
        if (model != null && preset != null) throw usage("give --model DIR or --preset NAME, not both");
        if (tokenizer != null && preset == null) throw usage("--tokenizer goes with --preset");
        if (port < 0 || port > 65535) throw usage("--port must be 0..65535, got " + port);
        if (shutdownGrace < 0) throw usage("--shutdown-grace must be >= 0, got " + shutdownGrace);
        String key = apiKey != null ? apiKey : System.getenv("TWOFOUR_API_KEY");
        Path embedded = ConvertCommand.defaultModel();
        Path dir = preset == null ? (model != null ? model : embedded) : null;
        EngineSettings settings;
        try {
            settings = new EngineSettings(dir, preset, sparse.mode(), tokenizer, backend.requested().name().toLowerCase(Locale.ROOT),
                    maxBatch, maxQueue, maxContext, kvTokens, modelName);
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
        ServerOptions options = new ServerOptions(host, port, key, Duration.ofSeconds(shutdownGrace));
        return ServeLauncher.serve(options, () -> RuntimeEngine.open(settings, embedded, System.err), System.err,
                new CountDownLatch(1));
    }

    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }
}
