#!/usr/bin/env python3
"""Reference token ids and chat renderings for twofour's Java tokenizer tests.

Run on the GPU machine (python3 with transformers 5.x, tokenizers, sentencepiece; no network):

    python3 tools/goldens/make_tokenizer_goldens.py \
        --tiny-model models/tiny-llama-8m \
        --llama2-model model-loader/src/test/resources/tokenizer/llama2/tokenizer.model \
        --chat-dir model-loader/src/test/resources/chat \
        --out "$OUT/tokenizer-goldens"

and copy the contents of $OUT/tokenizer-goldens into model-loader/src/test/resources/tokenizer/goldens/, where
TokenizerGoldenTest and ChatTemplateTest pick them up. It takes a few seconds (CPU only).
It only reads the paths given as arguments and writes only under --out:

    OUT/llama2/tokenizer.json (+ tokenizer_config.json ...)   tokenizer.model converted by transformers, legacy=False
    OUT/llama2-legacy/tokenizer.json (+ ...)                  the same with legacy=True (Prepend/Replace normalizer)
    OUT/tiny-llama-8m.json, OUT/llama2.json, OUT/llama2-legacy.json   ids per test string
    OUT/chat.json                                              apply_chat_template(tokenize=False) renderings
    OUT/versions.json                                          library versions used

Why legacy=False for the main Llama 2 tokenizer.json: it is what transformers builds for a Llama tokenizer that
was not saved with the old flag, and it is the one that agrees with sentencepiece itself for text that follows a
special token ("<s>hello" -> "<s>", "hello" without an extra "▁"). On text without special tokens both give the
sentencepiece ids; the legacy one (what meta-llama/Llama-2-7b-hf ships) is written too, so both tokenizer.json
shapes (Metaspace pre-tokenizer vs Prepend+Replace normalizer) are checked.

Each ids file holds, per test string:
  ids            tokenizers.Tokenizer(saved tokenizer.json).encode(text, add_special_tokens=False)   (specials parsed)
  ids_bos        the same with add_special_tokens=True (the post-processor adds BOS)
  ids_no_parse   add_special_tokens=False with encode_special_tokens=True: special-token text is plain text
  tokens         the token strings of `ids`
  decoded        decode(ids_bos, skip_special_tokens=False)
  decoded_skip   decode(ids_bos, skip_special_tokens=True)
  transformers_ids   transformers' tokenizer(text, add_special_tokens=False)["input_ids"] (should equal ids)
  sentencepiece_ids  (Llama 2 only) sentencepiece's own encode(text) for comparison
The output is deterministic: fixed inputs, sorted keys.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

TEST_STRINGS = [
    "",
    " ",
    "  ",
    "a",
    "Hello world",
    "Hello world!",
    " Hello world",
    "Hello world ",
    "  leading and trailing  ",
    "In the beginning God created the heaven and the earth.",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure you'll see they've done it; we'd say it's John's.",
    "I'M SURE YOU'LL SEE THEY'VE DONE IT",
    "multiple   spaces    between      words",
    "tab\tseparated\tvalues\t\tdouble",
    "line one\nline two\n\nline four\n",
    "windows\r\nline\r\nendings",
    "\n\n\n",
    "\t \n \t\n",
    "trailing newline\n",
    "   \n  mixed   \t whitespace\u00a0nbsp\u2003em\u3000ideographic",
    "123",
    "1234567890",
    "3.14159265358979 and 2,718,281,828 and -42",
    "The year 2024 had 366 days; 1000000 is a million.",
    "phone: +1 (555) 123-4567",
    "héllo wörld café naïve résumé",
    "Ünïcödé ÀÉÎÕÜ ß æøå ŁŻŚĆ",
    "Привет, мир! Как дела?",
    "Γειά σου Κόσμε",
    "שלום עולם",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "你好，世界！今天天气很好。",
    "日本語のテキストとカタカナ、ひらがな。",
    "한국어 텍스트입니다",
    "ภาษาไทย",
    "emoji 🙂 😀 🎉 👍🏽",
    "family 👨‍👩‍👧‍👦 and flag 🏳️‍🌈 and 🇩🇪🇯🇵",
    "math ∑∫∂√∞ ≤ ≥ ≠ ± × ÷",
    "arrows ← → ↑ ↓ and box ─│┌┐",
    "def add(a, b):\n    return a + b\n",
    "for (int i = 0; i < n; i++) {\n\tsum += x[i];\n}",
    "if x == 1 and y != 2: print(f\"{x!r}\")",
    "<html><body class=\"main\">Hi &amp; bye</body></html>",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
    "https://example.com/path?query=1&other=two#frag",
    "user@example.org",
    "snake_case camelCase PascalCase kebab-case",
    "<|begin_of_text|>",
    "<|begin_of_text|>Hello",
    "Hello<|end_of_text|>",
    "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "text with <|eot_id|> inside",
    "<s>",
    "</s>",
    "<s>hello</s>",
    "Hello <s>.",
    "<unk>",
    "<0x41>",
    "▁already▁has▁metaspace",
    "Ġspecial ĠbyteĠchars",
    "a\u0000b",
    "\u200b zero width and soft\u00adhyphen",
    "combining e\u0301 vs \u00e9",
    "!!!???...,,,;;;",
    "--- *** ### ~~~",
    "'s 't 're 've 'm 'll 'd",
    "don't won't can't shouldn't",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "ab" * 40,
    "🙂" * 12,
    ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
     "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, "
     "it was the season of Darkness, it was the spring of hope, it was the winter of despair, we had everything "
     "before us, we had nothing before us, we were all going direct to Heaven, we were all going direct the other "
     "way - in short, the period was so far like the present period, that some of its noisiest authorities "
     "insisted on its being received, for good or for evil, in the superlative degree of comparison only.\n\n"
     "There were a king with a large jaw and a queen with a plain face, on the throne of England; there were a "
     "king with a large jaw and a queen with a fair face, on the throne of France. In both countries it was "
     "clearer than crystal to the lords of the State preserves of loaves and fishes, that things in general "
     "were settled for ever. 1775 年, 🙂 ok."),
]

CONVERSATIONS = [
    ("user_only", [{"role": "user", "content": "Hello!"}]),
    ("system_user", [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is 2+2?"},
    ]),
    ("multi_turn", [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another one, please.\nThanks"},
    ]),
    ("bad_role", [{"role": "narrator", "content": "Once upon a time."}]),
    ("assistant_first", [
        {"role": "assistant", "content": "I speak first."},
        {"role": "user", "content": "Hello there."},
    ]),
    ("whitespace_unicode", [
        {"role": "user", "content": "  padded content with ünïcödé 🙂 and \"quotes\" \n"},
        {"role": "assistant", "content": "\n  reply  \n"},
    ]),
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny-model", required=True, help="folder with tiny-llama-8m's tokenizer.json etc.")
    p.add_argument("--llama2-model", required=True, help="path of the Llama 2 sentencepiece tokenizer.model")
    p.add_argument("--chat-dir", required=True,
                   help="folder with llama3/tokenizer_config.json and features/tokenizer_config.json")
    p.add_argument("--out", required=True, help="output folder (created)")
    return p.parse_args()


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")


def convert_llama2(model_path, out_dir, legacy):
    """tokenizer.model -> tokenizer.json through transformers, the way a user of transformers gets it."""
    import transformers
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(model_path, os.path.join(tmp, "tokenizer.model"))
        cfg = {
            "tokenizer_class": "LlamaTokenizer",
            "legacy": legacy,
            "add_bos_token": True,
            "add_eos_token": False,
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "clean_up_tokenization_spaces": False,
        }
        with open(os.path.join(tmp, "tokenizer_config.json"), "w") as f:
            json.dump(cfg, f)
        errors = []
        tok = None
        method = None
        try:
            tok = transformers.AutoTokenizer.from_pretrained(tmp, legacy=legacy, from_slow=True)
            method = "AutoTokenizer.from_pretrained(dir with tokenizer.model, legacy=%s, from_slow=True)" % legacy
        except Exception as e:  # fall back to the explicit class (older/newer transformers differ here)
            errors.append("AutoTokenizer: %r" % (e,))
            try:
                cls = getattr(transformers, "LlamaTokenizerFast", None) or transformers.LlamaTokenizer
                tok = cls(vocab_file=os.path.join(tmp, "tokenizer.model"), legacy=legacy, from_slow=True)
                method = "%s(vocab_file=..., legacy=%s, from_slow=True)" % (cls.__name__, legacy)
            except Exception as e2:
                errors.append("%s: %r" % ("LlamaTokenizer(Fast)", e2))
        if tok is None or not hasattr(tok, "backend_tokenizer"):
            errors.append("no fast tokenizer" if tok is not None else "no tokenizer")
            print("transformers could not convert %s (%s); using the explicit fallback" % (model_path, "; ".join(errors)))
            tok = fallback_convert(model_path, legacy)
            method = "twofour's fallback converter (transformers failed: %s)" % "; ".join(errors)
        os.makedirs(out_dir, exist_ok=True)
        tok.save_pretrained(out_dir)
    if not os.path.exists(os.path.join(out_dir, "tokenizer.json")):
        tok.backend_tokenizer.save(os.path.join(out_dir, "tokenizer.json"))
    # The tokenizer.model is not needed by the Java side; keep the folder small.
    spm_copy = os.path.join(out_dir, "tokenizer.model")
    if os.path.exists(spm_copy):
        os.remove(spm_copy)
    return tok, method


def fallback_convert(model_path, legacy):
    """What transformers' LlamaConverter builds, done by hand with tokenizers + sentencepiece: vocab and scores from
    the model, merges ordered by the merged piece's score (ties by the ids of the two halves), byte fallback, and
    either the legacy normalizer (Prepend "▁" + Replace " ") or the Metaspace pre-tokenizer (prepend_scheme first)."""
    import sentencepiece
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast
    sp = sentencepiece.SentencePieceProcessor()
    sp.Load(model_path)
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    scores = {sp.id_to_piece(i): sp.get_score(i) for i in range(sp.get_piece_size())}
    merges = []
    for piece, score in scores.items():
        local = [(piece[:k], piece[k:], score) for k in range(1, len(piece))
                 if piece[:k] in vocab and piece[k:] in vocab]
        local.sort(key=lambda m: (vocab[m[0]], vocab[m[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: m[2], reverse=True)
    bpe = BPE(vocab, [(a, b) for a, b, _ in merges], unk_token="<unk>", fuse_unk=True, byte_fallback=True)
    tk = Tokenizer(bpe)
    tk.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in ("<unk>", "<s>", "</s>")])
    if legacy:
        tk.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    else:
        tk.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tk.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                    decoders.Strip(content=" ", left=1)])
    tk.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   clean_up_tokenization_spaces=False)


def ids_for(tok_json_path, hf_tok, texts, spm=None):
    from tokenizers import Tokenizer
    raw = Tokenizer.from_file(tok_json_path)
    plain = Tokenizer.from_file(tok_json_path)
    can_no_parse = hasattr(plain, "encode_special_tokens")
    if can_no_parse:
        plain.encode_special_tokens = True
    cases = []
    for text in texts:
        enc = raw.encode(text, add_special_tokens=False)
        enc_bos = raw.encode(text, add_special_tokens=True)
        case = {
            "text": text,
            "ids": enc.ids,
            "tokens": enc.tokens,
            "ids_bos": enc_bos.ids,
            "decoded": raw.decode(enc_bos.ids, skip_special_tokens=False),
            "decoded_skip": raw.decode(enc_bos.ids, skip_special_tokens=True),
            "transformers_ids": hf_tok(text, add_special_tokens=False)["input_ids"],
        }
        if can_no_parse:
            case["ids_no_parse"] = plain.encode(text, add_special_tokens=False).ids
        if spm is not None:
            case["sentencepiece_ids"] = spm.encode(text)
        cases.append(case)
    return cases


def main():
    args = parse_args()
    import tokenizers
    import transformers
    import sentencepiece
    import jinja2

    out = args.out
    os.makedirs(out, exist_ok=True)
    write_json(os.path.join(out, "versions.json"), {
        "python": sys.version.split()[0],
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "sentencepiece": sentencepiece.__version__,
        "jinja2": jinja2.__version__,
    })

    # 1. tiny-llama-8m: its own tokenizer.json
    tiny_json = os.path.join(args.tiny_model, "tokenizer.json")
    tiny_tok = transformers.AutoTokenizer.from_pretrained(args.tiny_model)
    write_json(os.path.join(out, "tiny-llama-8m.json"), {
        "source": "tiny-llama-8m tokenizer.json",
        "cases": ids_for(tiny_json, tiny_tok, TEST_STRINGS),
    })

    # 2. Llama 2: convert tokenizer.model, then ids from the converted tokenizer.json (+ sentencepiece's own)
    spm = sentencepiece.SentencePieceProcessor()
    spm.Load(args.llama2_model)
    for name, legacy in (("llama2", False), ("llama2-legacy", True)):
        folder = os.path.join(out, name)
        tok, method = convert_llama2(args.llama2_model, folder, legacy)
        write_json(os.path.join(out, name + ".json"), {
            "source": "Llama 2 tokenizer.model converted with " + method,
            "cases": ids_for(os.path.join(folder, "tokenizer.json"), tok, TEST_STRINGS, spm),
        })

    # 3. chat templates
    renders = []
    templates = [("tiny-llama-8m", args.tiny_model)]
    for sub in ("llama3", "features"):
        cfg_path = os.path.join(args.chat_dir, sub, "tokenizer_config.json")
        tmp = tempfile.mkdtemp()
        shutil.copyfile(cfg_path, os.path.join(tmp, "tokenizer_config.json"))
        # transformers needs a tokenizer to render; the tiny model's has the Llama 3 special tokens.
        shutil.copyfile(tiny_json, os.path.join(tmp, "tokenizer.json"))
        templates.append((sub, tmp))
    for name, folder in templates:
        tok = transformers.AutoTokenizer.from_pretrained(folder)
        for conv_name, messages in CONVERSATIONS:
            for gen in (False, True):
                try:
                    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)
                    error = None
                except Exception as e:  # raise_exception() in a template: record the message
                    text = None
                    error = str(e)
                renders.append({
                    "template": name,
                    "conversation": conv_name,
                    "messages": messages,
                    "add_generation_prompt": gen,
                    "rendered": text,
                    "error": error,
                })
    write_json(os.path.join(out, "chat.json"), {"renders": renders})
    print("wrote", out)


if __name__ == "__main__":
    main()
