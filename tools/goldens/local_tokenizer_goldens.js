// Reference ids from Hugging Face tokenizers (the Rust library, through its official Node binding, npm package
// "tokenizers") for tokenizer.json files, on this CPU machine where Python's tokenizers is not available.
// The GPU machine's make_tokenizer_goldens.py (transformers + tokenizers + sentencepiece) is the full reference;
// this one gives the same fields minus transformers_ids for quick local checks.
//
//   npm install --prefix /tmp/tokref tokenizers@0.23.2
//   NODE_PATH=/tmp/tokref/node_modules node tools/goldens/local_tokenizer_goldens.js \
//       TOKENIZER_JSON STRINGS_JSON OUT_JSON
//
// STRINGS_JSON: a JSON array of strings (make_tokenizer_goldens.TEST_STRINGS). ids_no_parse (special-token text
// kept as text) is computed with a copy of the tokenizer.json whose special added tokens can never match, which is
// what encode_special_tokens=True does for encoding (every special token must also be in model.vocab).
const fs = require('fs');
const { Tokenizer } = require('tokenizers');

async function main() {
  const [tokPath, stringsPath, outPath] = process.argv.slice(2);
  const json = JSON.parse(fs.readFileSync(tokPath, 'utf8'));
  const tok = Tokenizer.fromFile(tokPath);
  const plainJson = JSON.parse(JSON.stringify(json));
  // Special tokens get contents that never occur in text, so their ids stay where they are.
  // Only exact when every special token is also in model.vocab (renamed there too); otherwise tokenizers
  // renumbers the added tokens, so the script refuses.
  plainJson.added_tokens.forEach((t, i) => {
    if (!t.special) return;
    const renamed = '\u0000never-matched-' + i + '\u0000';
    if (!(t.content in plainJson.model.vocab)) throw new Error('special token ' + t.content + ' is not in model.vocab');
    delete plainJson.model.vocab[t.content];
    plainJson.model.vocab[renamed] = t.id;
    t.content = renamed;
  });
  const plain = Tokenizer.fromString(JSON.stringify(plainJson));
  const texts = JSON.parse(fs.readFileSync(stringsPath, 'utf8'));
  const cases = [];
  for (const text of texts) {
    const enc = await tok.encode(text, null, { addSpecialTokens: false });
    const encBos = await tok.encode(text, null, { addSpecialTokens: true });
    const noParse = await plain.encode(text, null, { addSpecialTokens: false });
    cases.push({
      decoded: await tok.decode(encBos.getIds(), false),
      decoded_skip: await tok.decode(encBos.getIds(), true),
      ids: enc.getIds(),
      ids_bos: encBos.getIds(),
      ids_no_parse: noParse.getIds(),
      text: text,
      tokens: enc.getTokens(),
    });
  }
  const out = { source: 'HF tokenizers (npm tokenizers ' + require('tokenizers/package.json').version + ') on ' + tokPath.split('/').slice(-2).join('/'), cases };
  fs.writeFileSync(outPath, JSON.stringify(out, null, 1) + '\n');
}
main().catch(e => { console.error(e); process.exit(1); });
