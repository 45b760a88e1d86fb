// The official `openai` client's Responses API against the real `ember serve` (issue 13: OpenAI
// Responses, stateless). Run by CTest through run.sh (node --test).
//
// Random-weight test model: structure and independent facts only (streamed = non-streamed at
// temperature 0, max_output_tokens → status incomplete, forced function calls match their
// schema, a function_call_output goes back in the input, previous_response_id is a 400).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { modelPath, startServer } from './server.mjs';
import { validate } from './schema.mjs';

const MODEL = 'qwen2-q8_0';

let server;
let client;

before(async () => {
  server = await startServer(modelPath('qwen2-q8_0.gguf'), ['--parallel', '2', '-c', '1024', '-t', '2']);
  client = new OpenAI({ baseURL: server.url('/v1'), apiKey: 'unused', maxRetries: 0, timeout: 120_000 });
});

after(async () => {
  const r = await server?.stop();
  if (r && r.signal && r.signal !== 'SIGTERM') throw new Error(`ember serve ended by ${r.signal}`);
});

const base = { model: MODEL, instructions: 'You are terse.', input: 'Name three colours.', max_output_tokens: 16, temperature: 0 };

const weather = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather in a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string', enum: ['Paris', 'Lima'] }, days: { type: 'integer', minimum: 1, maximum: 7 } },
    required: ['city', 'days'],
    additionalProperties: false,
  },
};

function checkResponse(r) {
  assert.equal(r.object, 'response');
  assert.match(r.id, /^resp_/);
  assert.equal(r.model, MODEL);
  assert.ok(['completed', 'incomplete'].includes(r.status), r.status);
  assert.ok(r.usage.input_tokens > 0);
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
  assert.ok(Number.isInteger(r.usage.input_tokens_details.cached_tokens));
}

describe('responses', () => {
  test('non-streamed response: a message item, output_text, usage', async () => {
    const r = await client.responses.create(base);
    checkResponse(r);
    const msg = r.output.find((o) => o.type === 'message');
    assert.ok(msg);
    assert.equal(msg.role, 'assistant');
    assert.equal(msg.content[0].type, 'output_text');
    assert.equal(r.output_text, msg.content[0].text);
    assert.ok(r.usage.output_tokens <= 16);
    if (r.status === 'incomplete') {
      assert.equal(r.incomplete_details.reason, 'max_output_tokens');
      assert.equal(r.usage.output_tokens, 16);
    }
  });

  test('the streamed events add up to the non-streamed response (temperature 0)', async () => {
    const whole = await client.responses.create({ ...base, max_output_tokens: 64 });
    let text = '';
    let last = -1;
    const types = [];
    let final = null;
    for await (const e of await client.responses.create({ ...base, max_output_tokens: 64, stream: true })) {
      assert.equal(e.sequence_number, last + 1, 'sequence numbers count up');
      last = e.sequence_number;
      types.push(e.type);
      if (e.type === 'response.output_text.delta') text += e.delta;
      if (e.type === 'response.completed' || e.type === 'response.incomplete') final = e.response;
    }
    assert.equal(types[0], 'response.created');
    assert.equal(types[1], 'response.in_progress');
    for (const t of ['response.output_item.added', 'response.content_part.added', 'response.output_text.done', 'response.output_item.done']) {
      assert.ok(types.includes(t), t);
    }
    assert.equal(text, whole.output_text);
    assert.ok(final);
    assert.equal(final.status, whole.status);
    assert.equal(final.usage.output_tokens, whole.usage.output_tokens);
  });

  test('responses.stream() helper gives the final response', async () => {
    const whole = await client.responses.create({ ...base, max_output_tokens: 24, input: [{ role: 'user', content: [{ type: 'input_text', text: 'Hello' }] }] });
    const stream = client.responses.stream({ ...base, max_output_tokens: 24, input: [{ role: 'user', content: [{ type: 'input_text', text: 'Hello' }] }] });
    let deltas = '';
    stream.on('response.output_text.delta', (e) => (deltas += e.delta));
    // max_output_tokens may end it as incomplete, which has no final response in the helper.
    for await (const _ of stream) {
      // drain
    }
    assert.equal(deltas, whole.output_text);
  });

  test('text.format json_schema gives JSON that validates', async () => {
    const schema = {
      type: 'object',
      properties: { name: { type: 'string', maxLength: 8 }, ok: { type: 'boolean' } },
      required: ['name', 'ok'],
      additionalProperties: false,
    };
    const r = await client.responses.create({ ...base, max_output_tokens: 100, text: { format: { type: 'json_schema', name: 'x', schema, strict: true } } });
    validate(schema, JSON.parse(r.output_text));
  });
});

describe('function calls', () => {
  test('tool_choice required → function_call items matching the schema; streamed arguments equal them', async () => {
    const req = { ...base, max_output_tokens: 120, tools: [weather], tool_choice: 'required' };
    const r = await client.responses.create(req);
    checkResponse(r);
    const calls = r.output.filter((o) => o.type === 'function_call');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].name, 'get_weather');
    assert.ok(calls[0].call_id.length > 0);
    validate(weather.parameters, JSON.parse(calls[0].arguments));

    let args = '';
    let done = null;
    for await (const e of await client.responses.create({ ...req, stream: true })) {
      if (e.type === 'response.function_call_arguments.delta') args += e.delta;
      if (e.type === 'response.function_call_arguments.done') done = e.arguments;
    }
    assert.equal(args, calls[0].arguments);
    assert.equal(done, calls[0].arguments);
  });

  test('function_call_output goes back in the input', async () => {
    const first = await client.responses.create({ ...base, max_output_tokens: 120, tools: [weather], tool_choice: { type: 'function', name: 'get_weather' } });
    const call = first.output.find((o) => o.type === 'function_call');
    const second = await client.responses.create({
      ...base,
      tools: [weather],
      tool_choice: 'none',
      input: [
        { role: 'user', content: 'Weather in Paris?' },
        { type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments },
        { type: 'function_call_output', call_id: call.call_id, output: '{"temperature": 21}' },
      ],
    });
    checkResponse(second);
    assert.ok(second.output.every((o) => o.type !== 'function_call'));
  });
});

describe('errors', () => {
  test('previous_response_id and unsupported inputs are 400s', async () => {
    await assert.rejects(client.responses.create({ ...base, previous_response_id: 'resp_123' }), (e) => e instanceof OpenAI.BadRequestError && /previous_response_id/.test(e.message));
    await assert.rejects(
      client.responses.create({ ...base, input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'http://x/y.png' }] }] }),
      (e) => e instanceof OpenAI.BadRequestError && /input_image/.test(e.message),
    );
    await assert.rejects(client.responses.create({ ...base, tools: [{ type: 'web_search' }] }), (e) => e instanceof OpenAI.BadRequestError);
    await assert.rejects(client.responses.create({ ...base, model: 'gpt-5' }), (e) => e instanceof OpenAI.NotFoundError);
  });

  test('the server is still alive', async () => {
    assert.ok(server.alive());
  });
});
