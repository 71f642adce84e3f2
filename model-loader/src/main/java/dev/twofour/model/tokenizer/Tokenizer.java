package dev.twofour.model.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A Hugging Face tokenizer read from a model folder's tokenizer.json (plus tokenizer_config.json, config.json and
 * generation_config.json for BOS/EOS), giving the same ids as the tokenizers library for the BPE families that
 * matter here: byte-level BPE (GPT-2, Llama 3, Qwen) and SentencePiece-style BPE with byte fallback
 * (Llama 2, Mistral, TinyLlama). Runs offline; immutable and thread-safe after loading.
 *
 * <pre>{@code
 * Tokenizer tok = Tokenizer.load(Path.of("models/tiny-llama-8m"));
 * int[] ids = tok.encode("Hello world", true);     // BOS + ids
 * String text = tok.decode(ids, true);              // skip special tokens
 * }</pre>
 */
public final class Tokenizer {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path source;
    private final Normalizer normalizer;
    private final PreTokenizer preTokenizer;
    private final Bpe model;
    private final Decoder decoder;
    private final AddedVocabulary added;
    private final int[] bosPrefix;
    private final int[] bosSuffix;
    private final int bosId;
    private final List<Integer> eosIds;
    private final int vocabSize;

    private Tokenizer(Path source, Normalizer normalizer, PreTokenizer preTokenizer, Bpe model, Decoder decoder,
                      AddedVocabulary added, int[] bosPrefix, int[] bosSuffix, int bosId, List<Integer> eosIds) {
        this.source = source;
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.model = model;
        this.decoder = decoder;
        this.added = added;
        this.bosPrefix = bosPrefix;
        this.bosSuffix = bosSuffix;
        this.bosId = bosId;
        this.eosIds = List.copyOf(eosIds);
        int max = model.maxId();
        for (AddedVocabulary.AddedToken t : added.tokens()) max = Math.max(max, t.id());
        this.vocabSize = max + 1;
    }

    /**
     * Loads the tokenizer of a model folder (or a tokenizer.json file directly; then BOS/EOS come from the
     * tokenizer.json alone).
     */
    public static Tokenizer load(Path modelDirOrFile) {
        Path dir = Files.isDirectory(modelDirOrFile) ? modelDirOrFile : modelDirOrFile.toAbsolutePath().getParent();
        Path file = Files.isDirectory(modelDirOrFile) ? modelDirOrFile.resolve("tokenizer.json") : modelDirOrFile;
        if (!Files.isRegularFile(file)) {
            String hint = Files.exists(dir.resolve("tokenizer.model"))
                    ? " (there is a SentencePiece tokenizer.model: convert it to tokenizer.json with transformers,"
                    + " see tools/goldens/make_tokenizer_goldens.py)"
                    : " (a Hugging Face model folder must contain tokenizer.json)";
            throw new TokenizerException("no tokenizer.json at " + file + hint);
        }
        String where = file.toString();
        TokenizerJson parsed = TokenizerJson.read(file);
        JsonNode root = parsed.root();
        JsonNode tokenizerConfig = Files.isDirectory(modelDirOrFile) ? readOptionalJson(dir.resolve("tokenizer_config.json")) : null;
        JsonNode config = Files.isDirectory(modelDirOrFile) ? readOptionalJson(dir.resolve("config.json")) : null;
        JsonNode generationConfig = Files.isDirectory(modelDirOrFile) ? readOptionalJson(dir.resolve("generation_config.json")) : null;

        Normalizer normalizer = Normalizer.fromJson(root.get("normalizer"), where);
        PreTokenizer preTokenizer = PreTokenizer.fromJson(root.get("pre_tokenizer"), where);
        Decoder decoder = Decoder.fromJson(root.get("decoder"), where);
        Bpe model = readModel(root.path("model"), parsed, where);

        List<AddedVocabulary.AddedToken> addedTokens = new ArrayList<>();
        for (JsonNode t : root.path("added_tokens")) {
            boolean special = t.path("special").asBoolean(false);
            addedTokens.add(new AddedVocabulary.AddedToken(t.path("id").asInt(), t.path("content").asText(), special,
                    t.path("lstrip").asBoolean(false), t.path("rstrip").asBoolean(false),
                    t.path("normalized").asBoolean(!special), t.path("single_word").asBoolean(false)));
        }
        AddedVocabulary added = new AddedVocabulary(addedTokens, normalizer);

        // What add_special_tokens=True adds around one sequence.
        List<Integer> prefix = new ArrayList<>();
        List<Integer> suffix = new ArrayList<>();
        boolean hasTemplate = readPostProcessor(root.get("post_processor"), prefix, suffix, where);

        int bosId = -1;
        String bosToken = tokenText(tokenizerConfig == null ? null : tokenizerConfig.get("bos_token"));
        if (bosToken != null) bosId = idOf(bosToken, model, added);
        if (bosId < 0 && config != null && config.path("bos_token_id").isInt()) bosId = config.get("bos_token_id").asInt();
        if (bosId < 0 && !prefix.isEmpty()) bosId = prefix.getFirst();
        if (!hasTemplate && bosId >= 0 && tokenizerConfig != null && tokenizerConfig.path("add_bos_token").asBoolean(false)) {
            prefix.add(bosId);
        }
        // transformers' Llama tokenizer class rebuilds the post-processor from add_bos_token/add_eos_token, so for
        // it explicit flags in tokenizer_config.json win over tokenizer.json's template.
        if (tokenizerConfig != null && isLlamaTokenizerClass(tokenizerConfig)
                && (tokenizerConfig.has("add_bos_token") || tokenizerConfig.has("add_eos_token"))) {
            String eosText = tokenText(tokenizerConfig.get("eos_token"));
            int eosId = eosText == null ? -1 : idOf(eosText, model, added);
            prefix.clear();
            suffix.clear();
            if (tokenizerConfig.path("add_bos_token").asBoolean(true) && bosId >= 0) prefix.add(bosId);
            if (tokenizerConfig.path("add_eos_token").asBoolean(false) && eosId >= 0) suffix.add(eosId);
        }

        Set<Integer> eos = new LinkedHashSet<>();
        addIds(config == null ? null : config.get("eos_token_id"), eos);
        addIds(generationConfig == null ? null : generationConfig.get("eos_token_id"), eos);
        String eosToken = tokenText(tokenizerConfig == null ? null : tokenizerConfig.get("eos_token"));
        if (eosToken != null && idOf(eosToken, model, added) >= 0) eos.add(idOf(eosToken, model, added));

        return new Tokenizer(file, normalizer, preTokenizer, model, decoder, added,
                prefix.stream().mapToInt(Integer::intValue).toArray(), suffix.stream().mapToInt(Integer::intValue).toArray(),
                bosId, new ArrayList<>(eos));
    }

    /** Ids of text without BOS (addBos false) or with what the tokenizer adds to a sequence (BOS for Llama). */
    public int[] encode(String text, boolean addBos) {
        return encode(text, addBos, false);
    }

    /**
     * Ids of text. parseSpecial: whether special-token text in it (e.g. "&lt;|eot_id|&gt;") becomes the special
     * token; leave it false for user-provided text. Non-special added tokens are always matched.
     * addBos: add what Hugging Face's add_special_tokens=True adds (the post-processor's template: BOS for the
     * Llama families; nothing for tokenizers without one, unless tokenizer_config.json says add_bos_token; for the
     * LlamaTokenizer class, tokenizer_config.json's add_bos_token/add_eos_token decide, as in transformers).
     */
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        Bpe.IntList ids = new Bpe.IntList();
        if (addBos) ids.addAll(bosPrefix);
        for (AddedVocabulary.Segment seg : added.split(text, parseSpecial, normalizer)) {
            if (seg.tokenId() >= 0) {
                ids.add(seg.tokenId());
                continue;
            }
            if (seg.text().isEmpty()) continue;
            List<PreTokenizer.Piece> pieces = List.of(new PreTokenizer.Piece(seg.text(), seg.atStart()));
            if (preTokenizer != null) pieces = preTokenizer.split(pieces);
            for (PreTokenizer.Piece p : pieces) model.tokenize(p.text(), ids);
        }
        if (addBos) ids.addAll(bosSuffix);
        return ids.toArray();
    }

    /** Text of ids, special tokens included. */
    public String decode(int[] ids) {
        return decode(ids, false);
    }

    public String decode(int[] ids, boolean skipSpecialTokens) {
        return decode(ids, 0, ids.length, skipSpecialTokens, null);
    }

    String decode(int[] ids, int from, int to, boolean skipSpecialTokens, Decoder.Context context) {
        List<String> tokens = new ArrayList<>(to - from);
        for (int i = from; i < to; i++) {
            int id = ids[i];
            AddedVocabulary.AddedToken a = added.byId(id);
            if (a != null) {
                if (skipSpecialTokens && a.special()) continue;
                tokens.add(a.content());
                continue;
            }
            String t = model.token(id);
            if (t == null) {
                throw new TokenizerException("token id " + id + " is not in the vocabulary of " + source
                        + " (ids go from 0 to " + (vocabSize - 1) + ")");
            }
            tokens.add(t);
        }
        if (decoder == null) return String.join(" ", tokens);
        return String.join("", decoder.decodeChain(tokens, context == null ? new Decoder.Context(false) : context));
    }

    /** A decoder for ids arriving one at a time; it never returns half a UTF-8 character. */
    public StreamingDecoder newStreamingDecoder() {
        return new StreamingDecoder(this, false);
    }

    public StreamingDecoder newStreamingDecoder(boolean skipSpecialTokens) {
        return new StreamingDecoder(this, skipSpecialTokens);
    }

    /** The BOS id, or -1 when the tokenizer has none. */
    public int bosId() {
        return bosId;
    }

    /** Ids that end generation (config.json, generation_config.json, tokenizer_config.json's eos_token). */
    public List<Integer> eosIds() {
        return eosIds;
    }

    /** One more than the largest id (model vocabulary and added tokens). */
    public int vocabSize() {
        return vocabSize;
    }

    /** The token string of an id as stored in the vocabulary (e.g. "Ġthe", "▁the", "&lt;0x0A&gt;"). */
    public String token(int id) {
        AddedVocabulary.AddedToken a = added.byId(id);
        if (a != null) return a.content();
        String t = model.token(id);
        if (t == null) throw new TokenizerException("token id " + id + " is not in the vocabulary of " + source);
        return t;
    }

    /** The id of a token string (added tokens included), or -1. */
    public int id(String token) {
        return idOf(token, model, added);
    }

    /** Whether id is an added token marked special (BOS, EOS, chat markers). */
    public boolean isSpecial(int id) {
        AddedVocabulary.AddedToken a = added.byId(id);
        return a != null && a.special();
    }

    /** Whether id is one of tokenizer.json's added tokens (special or not). */
    boolean isAdded(int id) {
        return added.byId(id) != null;
    }

    Path source() {
        return source;
    }

    private static boolean isLlamaTokenizerClass(JsonNode tokenizerConfig) {
        String cls = tokenizerConfig.path("tokenizer_class").asText("");
        return cls.equals("LlamaTokenizer") || cls.equals("LlamaTokenizerFast")
                || cls.equals("CodeLlamaTokenizer") || cls.equals("CodeLlamaTokenizerFast");
    }

    private static int idOf(String token, Bpe model, AddedVocabulary added) {
        AddedVocabulary.AddedToken a = added.byContent(token);
        if (a != null) return a.id();
        Integer id = model.id(token);
        return id == null ? -1 : id;
    }

    private static Bpe readModel(JsonNode m, TokenizerJson parsed, String where) {
        String type = m.path("type").asText(m.has("merges") || !parsed.merges().isEmpty() ? "BPE" : "");
        if (!type.equals("BPE")) {
            throw new TokenizerException(where + ": model type '" + type + "' is not supported; only BPE models"
                    + " (GPT-2/Llama 3/Qwen byte-level, Llama 2/Mistral SentencePiece-BPE) are");
        }
        if (m.path("dropout").isNumber() && m.get("dropout").asDouble() > 0) {
            throw new TokenizerException(where + ": BPE dropout " + m.get("dropout").asDouble()
                    + " is for training; set it to null for inference");
        }
        java.util.Map<String, Integer> vocab = parsed.vocab();
        if (vocab.isEmpty()) throw new TokenizerException(where + ": model.vocab is missing or empty");
        List<String[]> merges = parsed.merges();
        return new Bpe(vocab, merges, textOrNull(m.get("unk_token")), m.path("fuse_unk").asBoolean(false),
                m.path("byte_fallback").asBoolean(false), m.path("ignore_merges").asBoolean(false),
                textOrNull(m.get("continuing_subword_prefix")), textOrNull(m.get("end_of_word_suffix")), where);
    }

    /** Fills prefix/suffix from the post-processor; true when it defines them (even as empty). */
    private static boolean readPostProcessor(JsonNode p, List<Integer> prefix, List<Integer> suffix, String where) {
        if (p == null || p.isNull()) return false;
        String type = p.path("type").asText("");
        switch (type) {
            case "TemplateProcessing": {
                boolean seenSequence = false;
                for (JsonNode item : p.path("single")) {
                    if (item.has("Sequence")) {
                        seenSequence = true;
                    } else if (item.has("SpecialToken")) {
                        String name = item.get("SpecialToken").path("id").asText();
                        JsonNode special = p.path("special_tokens").path(name);
                        if (special.isMissingNode()) {
                            throw new TokenizerException(where + ": post_processor template uses '" + name
                                    + "' which is not in its special_tokens");
                        }
                        for (JsonNode id : special.path("ids")) (seenSequence ? suffix : prefix).add(id.asInt());
                    }
                }
                return true;
            }
            case "Sequence": {
                boolean any = false;
                for (JsonNode child : p.path("processors")) any |= readPostProcessor(child, prefix, suffix, where);
                return any;
            }
            case "BertProcessing":
            case "RobertaProcessing":
                prefix.add(p.path("cls").path(1).asInt());
                suffix.add(p.path("sep").path(1).asInt());
                return true;
            case "ByteLevel":
                return false; // only adjusts offsets
            default:
                throw new TokenizerException(where + ": post_processor type '" + type + "' is not supported"
                        + " (supported: TemplateProcessing, Sequence, ByteLevel, BertProcessing, RobertaProcessing)");
        }
    }

    private static void addIds(JsonNode node, Set<Integer> out) {
        if (node == null || node.isNull()) return;
        if (node.isInt()) out.add(node.asInt());
        else if (node.isArray()) for (JsonNode n : node) if (n.isInt()) out.add(n.asInt());
    }

    /** bos_token/eos_token of tokenizer_config.json: a string or {"content": ...}. */
    static String tokenText(JsonNode node) {
        if (node == null || node.isNull()) return null;
        if (node.isTextual()) return node.asText();
        if (node.has("content")) return node.get("content").asText();
        return null;
    }

    private static String textOrNull(JsonNode node) {
        return node == null || node.isNull() ? null : node.asText();
    }

    static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new TokenizerException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    static JsonNode readOptionalJson(Path file) {
        return Files.isRegularFile(file) ? readJson(file) : null;
    }
}
