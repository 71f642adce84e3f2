// Reference pieces from Hugging Face tokenizers' pre-tokenizers (the Rust library through its Node binding, npm
// package "tokenizers") for every pre_tokenizer configuration the Java side supports, on a few awkward strings.
//
//   NODE_PATH=/tmp/tokref/node_modules node tools/goldens/local_pretokenizer_goldens.js OUT_JSON
const fs = require('fs');
const { Tokenizer } = require('tokenizers');

const llama3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const configs = [];
for (const behavior of ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']) {
  for (const invert of [false, true]) {
    configs.push({ type: 'Split', pattern: { String: ' ' }, behavior, invert });
    configs.push({ type: 'Split', pattern: { Regex: '\\d+|,' }, behavior, invert });
  }
}
configs.push({ type: 'Split', pattern: { Regex: llama3 }, behavior: 'Isolated', invert: false });
for (const scheme of ['always', 'first', 'never']) {
  for (const split of [true, false]) configs.push({ type: 'Metaspace', replacement: '\u2581', prepend_scheme: scheme, split });
}
for (const aps of [true, false]) for (const ur of [true, false]) configs.push({ type: 'ByteLevel', add_prefix_space: aps, trim_offsets: true, use_regex: ur });
configs.push({ type: 'Digits', individual_digits: true });
configs.push({ type: 'Digits', individual_digits: false });
configs.push({ type: 'Whitespace' });
configs.push({ type: 'WhitespaceSplit' });
configs.push({ type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true },
  { type: 'Split', pattern: { Regex: llama3 }, behavior: 'Isolated', invert: false },
  { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] });
const texts = ['', ' ', 'Hello world', '  two  spaces ', 'a,b,,c 123,4567 x', 'tab\there\nnew line\r\n', "It's 2024, isn't it?",
  ' \u2581pre-marked', 'émoji 🙂 and 日本語 text', '1 22 333 4444', ',,,', 'end,'];

const cases = [];
for (const config of configs) {
  const json = { version: '1.0', added_tokens: [], normalizer: null, pre_tokenizer: config, post_processor: null, decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: { a: 0 }, merges: [] } };
  const pre = Tokenizer.fromString(JSON.stringify(json)).getPreTokenizer();
  for (const text of texts) cases.push({ config, text, pieces: pre.preTokenizeString(text).map(p => p[0]) });
}
fs.writeFileSync(process.argv[2], JSON.stringify({ source: 'HF tokenizers (npm tokenizers ' + require('tokenizers/package.json').version + ') preTokenizeString', cases }, null, 1) + '\n');
