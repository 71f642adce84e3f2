// Drives a running `twofour serve` with the official OpenAI Node SDK and prints one JSON object
// with what it got; OpenAiNodeClientTest (JUnit) checks it. Usage:
//   node openai-client.mjs BASE_URL MODEL [API_KEY]
import OpenAI from 'openai';

const [baseURL, model, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: apiKey ?? 'unused', maxRetries: 0, timeout: 60_000 });
const out = {};

const models = await client.models.list();
out.models = models.data.map(m => m.id);

const prompt = 'In the beginning God created';
const completion = await client.completions.create({ model, prompt, max_tokens: 16, temperature: 0.8, seed: 42 });
out.completion = { text: completion.choices[0].text, finish_reason: completion.choices[0].finish_reason, usage: completion.usage };

let streamed = '';
let streamFinish = null;
let streamUsage = null;
const stream = await client.completions.create({
  model, prompt, max_tokens: 16, temperature: 0.8, seed: 42, stream: true, stream_options: { include_usage: true },
});
for await (const chunk of stream) {
  for (const c of chunk.choices) {
    streamed += c.text;
    if (c.finish_reason) streamFinish = c.finish_reason;
  }
  if (chunk.usage) streamUsage = chunk.usage;
}
out.completionStream = { text: streamed, finish_reason: streamFinish, usage: streamUsage };

const messages = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Say something about the sea.' }];
const chat = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0.7, seed: 7 });
out.chat = { role: chat.choices[0].message.role, text: chat.choices[0].message.content,
  finish_reason: chat.choices[0].finish_reason, usage: chat.usage };

let chatStreamed = '';
let chatRole = null;
let chatFinish = null;
const chatStream = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0.7, seed: 7, stream: true });
for await (const chunk of chatStream) {
  const c = chunk.choices[0];
  if (!c) continue;
  if (c.delta.role) chatRole = c.delta.role;
  if (c.delta.content) chatStreamed += c.delta.content;
  if (c.finish_reason) chatFinish = c.finish_reason;
}
out.chatStream = { role: chatRole, text: chatStreamed, finish_reason: chatFinish };

// The SDK's own accumulation helper must understand our stream too.
const runner = client.chat.completions.stream({ model, messages, max_tokens: 12, temperature: 0.7, seed: 7 });
const final = await runner.finalChatCompletion();
out.chatStreamHelper = { text: final.choices[0].message.content, finish_reason: final.choices[0].finish_reason };

try {
  await client.completions.create({ model: 'no-such-model', prompt: 'x', max_tokens: 2 });
  out.unknownModel = { status: 200 };
} catch (e) {
  out.unknownModel = { status: e.status, type: e.type ?? e.error?.type, code: e.code ?? e.error?.code, name: e.constructor.name };
}

process.stdout.write(JSON.stringify(out) + '\n');
