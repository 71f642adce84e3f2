// Reference outputs of Hugging Face tokenizers' pipeline parts (the Rust library through its Node binding, npm
// package "tokenizers") for every pre_tokenizer, normalizer and decoder configuration the Java side supports,
// on a few awkward inputs. Cases: {kind: "pre_tokenizer"|"normalizer"|"decoder", config, text|tokens, pieces|output}.
//
//   NODE_PATH=/tmp/tokref/node_modules node tools/goldens/local_pipeline_goldens.js OUT_JSON
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

function tokenizerWith(part, config) {
  const json = { version: '1.0', added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: { a: 0 }, merges: [] } };
  json[part] = config;
  return Tokenizer.fromString(JSON.stringify(json));
}

const cases = [];
for (const config of configs) {
  const pre = tokenizerWith('pre_tokenizer', config).getPreTokenizer();
  for (const text of texts) cases.push({ kind: 'pre_tokenizer', config, text, pieces: pre.preTokenizeString(text).map(p => p[0]) });
}

const normalizers = [{ type: 'NFC' }, { type: 'NFD' }, { type: 'NFKC' }, { type: 'NFKD' }, { type: 'Lowercase' },
  { type: 'Strip', strip_left: true, strip_right: true }, { type: 'Strip', strip_left: false, strip_right: true },
  { type: 'Prepend', prepend: '\u2581' }, { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' },
  { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
  { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Prepend', prepend: '\u2581' }, { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] }];
const normTexts = ['', 'Hello World', '\uff28\uff45\uff4c\uff4c\uff4f \ufb01ne', 'e\u0301 \u00e9', ' \u00dcn\u00efc\u00f6d\u00e9 ', '\u03a3\u0391\u03a3',
  '\u0130stanbul', '  a \t b  \n', '\u00bd \u2460 \u2126', '\u00a0\u3000 x \u001f\u2028'];
for (const config of normalizers) {
  const norm = tokenizerWith('normalizer', config).getNormalizer();
  for (const text of normTexts) cases.push({ kind: 'normalizer', config, text, output: norm.normalizeString(text) });
}

const spDecoder = { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
  { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] };
const decoderConfigs = [{ type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true }, spDecoder,
  { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 2, stop: 1 },
  { type: 'Replace', pattern: { Regex: 'a+' }, content: '-' },
  { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
  { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: false },
  { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'never', split: true }];
const tokenLists = [[], ['\u2581Hello', '\u2581world'], ['<0xE2>', '<0x82>', '<0xAC>'], ['<0xE2>', '<0x82>'],
  ['\u2581\u2581a', 'b\u2581'], ['\u0120Hello', '\u0120world', '\u010a'], ['<0x41>', 'x', '<0xFF>', '<0xC3>', '<0xA9>'],
  ['', '\u2581'], ['  a  ', ' b ', 'aaa'], ['<|eot_id|>', '\u0120\u00c3\u00a9', 'caf\u00e9']];
for (const config of decoderConfigs) {
  const dec = tokenizerWith('decoder', config).getDecoder();
  for (const tokens of tokenLists) {
    // HF's Strip decoder with stop > 0 panics on an empty token (index underflow); Java returns "" there.
    if (config.type === 'Strip' && config.stop > 0 && tokens.includes('')) continue;
    cases.push({ kind: 'decoder', config, tokens, output: dec.decode(tokens) });
  }
}
fs.writeFileSync(process.argv[2], JSON.stringify({ source: 'HF tokenizers (npm tokenizers ' + require('tokenizers/package.json').version + ') preTokenizeString', cases }, null, 1) + '\n');
