// The official `@anthropic-ai/sdk` client against the real `ember serve` (issue 13: Anthropic's
// Messages API). Run by CTest through run.sh (node --test).
//
// The test model has random weights: the tests check structure and independent facts (the
// streamed message equals the non-streamed one at temperature 0, max_tokens bounds output_tokens,
// forced tool use gives input that matches the schema, the SDK's error classes), never wording.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';

import { modelPath, startServer } from './server.mjs';
import { validate } from './schema.mjs';

const MODEL = 'qwen2-q8_0';
const API_KEY = 'ember-anthropic-key-42';

let server;
let client;

before(async () => {
  server = await startServer(modelPath('qwen2-q8_0.gguf'), ['--parallel', '2', '-c', '1024', '-t', '2', '--api-key', API_KEY]);
  // The SDK sends the key as x-api-key.
  client = new Anthropic({ baseURL: server.baseURL, apiKey: API_KEY, maxRetries: 0, timeout: 120_000 });
});

after(async () => {
  const r = await server?.stop();
  if (r && r.signal && r.signal !== 'SIGTERM') throw new Error(`ember serve ended by ${r.signal}`);
});

const base = {
  model: MODEL,
  max_tokens: 16,
  temperature: 0,
  system: 'You are terse.',
  messages: [{ role: 'user', content: 'Name three colours.' }],
};

const weather = {
  name: 'get_weather',
  description: 'Current weather in a city',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string', enum: ['Paris', 'Tokyo'] }, days: { type: 'integer', minimum: 1, maximum: 7 } },
    required: ['city', 'days'],
    additionalProperties: false,
  },
};

function checkMessage(m) {
  assert.equal(m.type, 'message');
  assert.equal(m.role, 'assistant');
  assert.match(m.id, /^msg_/);
  assert.equal(m.model, MODEL);
  assert.ok(['end_turn', 'max_tokens', 'stop_sequence', 'tool_use'].includes(m.stop_reason), m.stop_reason);
  assert.ok(Number.isInteger(m.usage.input_tokens) && Number.isInteger(m.usage.output_tokens));
  assert.ok(m.usage.input_tokens + (m.usage.cache_read_input_tokens ?? 0) > 0);
}

const textOf = (m) => m.content.filter((b) => b.type === 'text').map((b) => b.text).join('');

describe('messages', () => {
  test('non-streamed message shape; max_tokens bounds output', async () => {
    const m = await client.messages.create(base);
    checkMessage(m);
    assert.ok(m.usage.output_tokens <= 16);
    if (m.stop_reason === 'max_tokens') assert.equal(m.usage.output_tokens, 16);
    assert.equal(m.content[0].type, 'text');
  });

  test('the streamed message equals the non-streamed one (temperature 0)', async () => {
    const whole = await client.messages.create(base);
    const events = [];
    const stream = client.messages.stream(base);
    stream.on('streamEvent', (e) => events.push(e.type));
    const final = await stream.finalMessage();
    checkMessage(final);
    assert.equal(textOf(final), textOf(whole));
    assert.equal(final.stop_reason, whole.stop_reason);
    assert.equal(final.usage.output_tokens, whole.usage.output_tokens);
    assert.equal(events[0], 'message_start');
    assert.equal(events.at(-1), 'message_stop');
    assert.equal(events.at(-2), 'message_delta');
    assert.ok(events.includes('content_block_start') && events.includes('content_block_delta') && events.includes('content_block_stop'));
  });

  test('raw stream events via create({stream: true})', async () => {
    let text = '';
    let stop = null;
    for await (const e of await client.messages.create({ ...base, stream: true })) {
      if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') text += e.delta.text;
      if (e.type === 'message_delta') stop = e.delta.stop_reason;
    }
    const whole = await client.messages.create(base);
    assert.equal(text, textOf(whole));
    assert.equal(stop, whole.stop_reason);
  });

  test('a stop sequence ends the message with stop_reason stop_sequence', async () => {
    const full = textOf(await client.messages.create({ ...base, max_tokens: 24 }));
    const cut = full.slice(5, 7);
    if (cut.trim().length !== 2) return; // whitespace is a poor stop sequence; nothing to check
    const m = await client.messages.create({ ...base, max_tokens: 24, stop_sequences: [cut] });
    assert.equal(m.stop_reason, 'stop_sequence');
    assert.equal(m.stop_sequence, cut);
    assert.equal(textOf(m), full.slice(0, full.indexOf(cut)));
  });

  test('system as blocks and content as blocks are accepted', async () => {
    const m = await client.messages.create({
      ...base,
      system: [{ type: 'text', text: 'You are terse.' }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Name three colours.' }] }],
    });
    checkMessage(m);
    assert.equal(textOf(m), textOf(await client.messages.create(base)));
  });

  test('count_tokens counts what the message evaluates', async () => {
    const c = await client.messages.countTokens({ model: MODEL, system: base.system, messages: base.messages });
    assert.ok(Number.isInteger(c.input_tokens) && c.input_tokens > 0);
    const m = await client.messages.create(base);
    assert.equal(m.usage.input_tokens + (m.usage.cache_read_input_tokens ?? 0), c.input_tokens);
  });
});

describe('tools', () => {
  test('tool_choice any → tool_use whose input matches the schema; streamed input equals it', async () => {
    const req = { ...base, max_tokens: 120, temperature: 0, tools: [weather], tool_choice: { type: 'any', disable_parallel_tool_use: true } };
    const m = await client.messages.create(req);
    checkMessage(m);
    assert.equal(m.stop_reason, 'tool_use');
    const uses = m.content.filter((b) => b.type === 'tool_use');
    assert.equal(uses.length, 1);
    assert.equal(uses[0].name, 'get_weather');
    assert.ok(uses[0].id.length > 0);
    validate(weather.input_schema, uses[0].input);

    const final = await client.messages.stream(req).finalMessage();
    const su = final.content.filter((b) => b.type === 'tool_use');
    assert.equal(su.length, 1);
    assert.deepEqual(su[0].input, uses[0].input);
    assert.equal(final.stop_reason, 'tool_use');
  });

  test('round trip: the tool_result goes back and the model answers', async () => {
    const req = { ...base, max_tokens: 120, tools: [weather], tool_choice: { type: 'tool', name: 'get_weather' } };
    const first = await client.messages.create(req);
    const use = first.content.find((b) => b.type === 'tool_use');
    assert.ok(use);
    const second = await client.messages.create({
      ...base,
      tools: [weather],
      tool_choice: { type: 'none' },
      messages: [
        ...base.messages,
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '{"temperature": 21}' }] },
      ],
    });
    checkMessage(second);
    assert.notEqual(second.stop_reason, 'tool_use');
    // The result is part of the prompt: more input than the first request.
    const inputs = (m) => m.usage.input_tokens + (m.usage.cache_read_input_tokens ?? 0);
    assert.ok(inputs(second) > inputs(first));
  });
});

describe('errors', () => {
  test('SDK error classes and Anthropic error bodies', async () => {
    await assert.rejects(client.messages.create({ ...base, model: 'claude-opus-4' }), (e) => e instanceof Anthropic.NotFoundError && e.error?.error?.type === 'not_found_error');
    await assert.rejects(client.messages.create({ ...base, max_tokens: 0 }), (e) => e instanceof Anthropic.BadRequestError && e.error?.type === 'error');
    await assert.rejects(
      client.messages.create({ ...base, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'aGk=' } }] }] }),
      (e) => e instanceof Anthropic.BadRequestError && /image/.test(e.message),
    );
    await assert.rejects(client.messages.create({ ...base, max_tokens: 5000 }), (e) => e instanceof Anthropic.BadRequestError && /context/.test(e.message));
    const wrong = new Anthropic({ baseURL: server.baseURL, apiKey: 'wrong', maxRetries: 0 });
    await assert.rejects(wrong.messages.create(base), (e) => e instanceof Anthropic.AuthenticationError && e.error?.error?.type === 'authentication_error');
  });

  test('the server is still alive', async () => {
    assert.ok(server.alive());
  });
});
