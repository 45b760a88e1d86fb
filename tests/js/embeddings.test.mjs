// The official `openai` npm client's embeddings.create against the real `ember serve` on the tiny
// BERT embedding model of ../shared/testdata/embed, compared with llama.cpp's reference vectors;
// the `ollama` npm client's embed() / embeddings() on the same server; plus /v1/rerank over raw
// HTTP and the 400s for the wrong kind of model.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ollama } from 'ollama';
import OpenAI from 'openai';

import { modelPath, startServer } from './server.mjs';

const EMBED_MODEL = '../embed/models/bert-cls-f32.gguf';
const RERANK_MODEL = '../embed/models/bert-rerank-f32.gguf';

function expected(name) {
  return JSON.parse(readFileSync(path.join(process.env.EMBER_TESTDATA, 'embed', 'expected', `${name}.json`), 'utf8'));
}

function cosine(a, b) {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

let embedServer;
let rerankServer;
let client;

before(async () => {
  [embedServer, rerankServer] = await Promise.all([
    startServer(modelPath(EMBED_MODEL), ['-t', '2']),
    startServer(modelPath(RERANK_MODEL), ['-t', '2']),
  ]);
  client = new OpenAI({ baseURL: embedServer.url('/v1'), apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
});

after(async () => {
  const results = await Promise.all([embedServer?.stop(), rerankServer?.stop()]);
  for (const r of results) {
    if (r && r.signal && r.signal !== 'SIGTERM') throw new Error(`ember serve ended by ${r.signal}`);
  }
});

test('embeddings.create matches the reference (the client asks for base64 and decodes it)', async () => {
  const ref = expected('bert-cls-f32');
  const texts = ref.inputs.slice(0, 4).map((i) => i.text);
  const res = await client.embeddings.create({ model: 'bert-cls-f32', input: texts });
  assert.equal(res.object, 'list');
  assert.equal(res.data.length, texts.length);
  for (let i = 0; i < texts.length; i++) {
    assert.equal(res.data[i].index, i);
    assert.ok(cosine(res.data[i].embedding, ref.inputs[i].embedding_l2) >= 0.9999, `input ${i}`);
  }
  const tokens = ref.inputs.slice(0, 4).reduce((n, i) => n + i.tokens.length, 0);
  assert.equal(res.usage.prompt_tokens, tokens);

  const floats = await client.embeddings.create({ model: 'bert-cls-f32', input: texts[0], encoding_format: 'float', dimensions: 32 });
  assert.equal(floats.data[0].embedding.length, 32);
});

test('the ollama client: embed() equals /v1/embeddings, embeddings() the raw reference', async () => {
  const ref = expected('bert-cls-f32');
  const texts = ref.inputs.slice(0, 2).map((i) => i.text);
  const ollama = new Ollama({ host: embedServer.baseURL });
  const res = await ollama.embed({ model: 'bert-cls-f32:latest', input: texts });
  assert.equal(res.model, 'bert-cls-f32:latest');
  assert.equal(res.embeddings.length, 2);
  const v1 = await client.embeddings.create({ model: 'bert-cls-f32', input: texts, encoding_format: 'float' });
  for (let i = 0; i < texts.length; i++) {
    assert.ok(cosine(res.embeddings[i], ref.inputs[i].embedding_l2) >= 0.9999, `input ${i}`);
    const diff = Math.max(...res.embeddings[i].map((x, k) => Math.abs(x - v1.data[i].embedding[k])));
    assert.ok(diff <= 1e-6, `input ${i}: ${diff}`);
  }
  assert.equal(res.prompt_eval_count, v1.usage.prompt_tokens);
  const old = await ollama.embeddings({ model: 'bert-cls-f32', prompt: texts[0] });
  assert.ok(cosine(old.embedding, ref.inputs[0].embedding) >= 0.9999);
  const norm = Math.sqrt(old.embedding.reduce((n, x) => n + x * x, 0));
  assert.ok(Math.abs(norm - ref.inputs[0].l2_norm) <= 1e-3 * ref.inputs[0].l2_norm);
  await assert.rejects(ollama.embed({ model: 'bert-cls-f32', input: [] }), (err) => err.status_code === 400);
});

test('an embedding model asked for chat gets a 400', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'bert-cls-f32', messages: [{ role: 'user', content: 'hi' }] }),
    (err) => err.status === 400,
  );
  await assert.rejects(client.embeddings.create({ model: 'bert-cls-f32', input: [] }), (err) => err.status === 400);
});

test('/v1/rerank over raw HTTP: sorted results within tolerance', async () => {
  const ref = expected('bert-rerank-f32');
  const query = ref.inputs[0].query;
  const pairs = ref.inputs.filter((i) => i.query === query);
  const res = await fetch(rerankServer.url('/v1/rerank'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ query, documents: pairs.map((p) => p.document), top_n: 2 }),
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.results.length, 2);
  assert.ok(body.results[0].relevance_score >= body.results[1].relevance_score);
  for (const r of body.results) {
    const want = pairs[r.index].score;
    assert.ok(Math.abs(r.relevance_score - want) <= 0.02 * Math.max(1, Math.abs(want)));
  }
});
