// The official `openai` npm client against the real `ember serve` (issue 11, Acceptance: "a real
// client"). Run by CTest: node --test tests/js/openai_client.test.mjs, with EMBER_CLI (the ember
// binary) and EMBER_TESTDATA (the shared test data folder) set.
//
// The model is the tiny random-weight Qwen2 test model (ChatML template with tool calls): its text
// is gibberish, so the tests check structure and the independent facts a client relies on
// (JSON that parses and matches the schema, streamed = non-streamed for one seed, stop strings cut
// where the text has them, error classes and status codes), never wording.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { modelPath, startServer } from './server.mjs';
import { validate } from './schema.mjs';

const MODEL_FILE = 'qwen2-q8_0.gguf';
const MODEL_ID = 'qwen2-q8_0'; // the file stem: `ember serve`'s default model id
const API_KEY = 'ember-test-key-0123456789';

let server; // no API key
let keyed; // --api-key
let client;

before(async () => {
  const model = modelPath(MODEL_FILE);
  const common = ['--parallel', '4', '-c', '1024', '-t', '2'];
  [server, keyed] = await Promise.all([
    startServer(model, common),
    startServer(model, [...common, '--api-key', API_KEY]),
  ]);
  // maxRetries 0: a retried 5xx or dropped connection would hide a server bug.
  client = new OpenAI({ baseURL: server.url('/v1'), apiKey: 'unused', maxRetries: 0, timeout: 120_000 });
});

after(async () => {
  const results = await Promise.all([server?.stop(), keyed?.stop()]);
  // A server that died on its own (crash) must fail the run even if every test passed.
  for (const r of results) {
    if (r && r.signal && r.signal !== 'SIGTERM') {
      throw new Error(`ember serve ended by ${r.signal}`);
    }
  }
});

const userMessages = [
  { role: 'system', content: 'You are a terse assistant.' },
  { role: 'user', content: 'Name three colours.' },
];

// Concatenates a chat stream: content, finish reason, usage, tool-call deltas by index.
async function collectChat(stream) {
  const out = { role: null, content: '', finish: null, usage: null, chunks: 0, toolCalls: [], argDeltas: 0 };
  for await (const chunk of stream) {
    out.chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) out.usage = chunk.usage;
    for (const choice of chunk.choices ?? []) {
      assert.equal(choice.index, 0);
      const d = choice.delta ?? {};
      if (d.role) out.role = d.role;
      if (typeof d.content === 'string') out.content += d.content;
      for (const tc of d.tool_calls ?? []) {
        assert.equal(typeof tc.index, 'number');
        const slot = (out.toolCalls[tc.index] ??= { id: '', type: '', name: '', arguments: '' });
        if (tc.id) slot.id += tc.id;
        if (tc.type) slot.type = tc.type;
        if (tc.function?.name) slot.name += tc.function.name;
        if (typeof tc.function?.arguments === 'string' && tc.function.arguments !== '') {
          slot.arguments += tc.function.arguments;
          out.argDeltas++;
        }
      }
      if (choice.finish_reason) out.finish = choice.finish_reason;
    }
  }
  return out;
}

function checkUsage(usage) {
  assert.ok(usage, 'usage present');
  assert.ok(Number.isInteger(usage.prompt_tokens) && usage.prompt_tokens > 0);
  assert.ok(Number.isInteger(usage.completion_tokens) && usage.completion_tokens >= 0);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
}

describe('models', () => {
  test('list names the served model', async () => {
    const ids = [];
    for await (const m of client.models.list()) {
      assert.equal(m.object, 'model');
      ids.push(m.id);
    }
    assert.deepEqual(ids, [MODEL_ID]);
  });

  test('retrieve by id; an unknown id is NotFoundError 404', async () => {
    const m = await client.models.retrieve(MODEL_ID);
    assert.equal(m.id, MODEL_ID);
    assert.equal(m.object, 'model');
    await assert.rejects(client.models.retrieve('no-such-model'), (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 404);
      return true;
    });
  });
});

describe('chat completions', () => {
  const base = { model: MODEL_ID, messages: userMessages, max_tokens: 24, temperature: 0.9, seed: 1234 };

  test('non-streaming reply has the OpenAI shape', async () => {
    const r = await client.chat.completions.create(base);
    assert.equal(r.object, 'chat.completion');
    assert.equal(typeof r.id, 'string');
    assert.equal(r.model, MODEL_ID);
    assert.equal(r.choices.length, 1);
    const c = r.choices[0];
    assert.equal(c.index, 0);
    assert.equal(c.message.role, 'assistant');
    assert.equal(typeof c.message.content, 'string');
    assert.ok(['stop', 'length'].includes(c.finish_reason), c.finish_reason);
    checkUsage(r.usage);
    assert.ok(r.usage.completion_tokens <= 24);
    if (c.finish_reason === 'length') assert.equal(r.usage.completion_tokens, 24);
  });

  test('streamed deltas concatenate to the non-streamed reply for the same seed', async () => {
    const whole = await client.chat.completions.create(base);
    const stream = await client.chat.completions.create({
      ...base,
      stream: true,
      stream_options: { include_usage: true },
    });
    const s = await collectChat(stream);
    assert.equal(s.role, 'assistant');
    assert.equal(s.content, whole.choices[0].message.content);
    assert.equal(s.finish, whole.choices[0].finish_reason);
    checkUsage(s.usage);
    assert.equal(s.usage.completion_tokens, whole.usage.completion_tokens);
    assert.equal(s.usage.prompt_tokens, whole.usage.prompt_tokens);
    assert.ok(s.chunks >= 2);
  });

  test('max_completion_tokens bounds the reply like max_tokens', async () => {
    const { max_tokens: _, ...rest } = base;
    const r = await client.chat.completions.create({ ...rest, max_completion_tokens: 5, ignore_eos: true });
    assert.equal(r.usage.completion_tokens, 5);
    assert.equal(r.choices[0].finish_reason, 'length');
  });

  test('a stop string cuts the reply where the unstopped reply first contains it', async () => {
    const req = { ...base, max_tokens: 48, ignore_eos: true };
    const full = (await client.chat.completions.create(req)).choices[0].message.content;
    // A stop string taken from the middle of the text (any 3 characters without whitespace).
    let at = -1;
    for (let i = Math.floor(full.length / 3); i + 3 <= full.length; i++) {
      if (!/\s/.test(full.slice(i, i + 3))) {
        at = i;
        break;
      }
    }
    if (at < 0) return; // no usable stop string in this text (a degenerate reply): nothing to check
    const stop = full.slice(at, at + 3);
    const r = await client.chat.completions.create({ ...req, stop: [stop] });
    assert.equal(r.choices[0].message.content, full.slice(0, full.indexOf(stop)));
    assert.equal(r.choices[0].finish_reason, 'stop');
  });

  test('n = 3 gives three indexed choices', async () => {
    const r = await client.chat.completions.create({ ...base, n: 3, max_tokens: 8 });
    assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2]);
    for (const c of r.choices) assert.equal(c.message.role, 'assistant');
    checkUsage(r.usage);
  });

  test('logprobs with top_logprobs', async () => {
    const r = await client.chat.completions.create({
      ...base,
      max_tokens: 6,
      ignore_eos: true,
      logprobs: true,
      top_logprobs: 3,
    });
    const lp = r.choices[0].logprobs?.content;
    assert.ok(Array.isArray(lp), 'choices[0].logprobs.content is an array');
    assert.equal(lp.length, r.usage.completion_tokens);
    for (const t of lp) {
      assert.equal(typeof t.token, 'string');
      assert.ok(t.logprob <= 0);
      assert.equal(t.top_logprobs.length, 3);
      for (let i = 1; i < t.top_logprobs.length; i++) {
        assert.ok(t.top_logprobs[i - 1].logprob >= t.top_logprobs[i].logprob, 'top_logprobs sorted');
      }
    }
    // The tokens spell the reply (the chat output parser drops the reply's leading whitespace).
    assert.equal(lp.map((t) => t.token).join('').trimStart(), r.choices[0].message.content.trimStart());
  });

  test('content-part arrays are accepted as message content', async () => {
    const r = await client.chat.completions.create({
      ...base,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Name three ' }, { type: 'text', text: 'colours.' }] }],
    });
    assert.equal(r.choices[0].message.role, 'assistant');
  });
});

describe('tools', () => {
  const weather = {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather for a city',
      parameters: {
        type: 'object',
        properties: {
          city: { type: 'string', enum: ['Paris', 'Tokyo', 'Lima'] },
          unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
          days: { type: 'integer', minimum: 1, maximum: 7 },
        },
        required: ['city', 'days'],
        additionalProperties: false,
      },
    },
  };
  const clock = {
    type: 'function',
    function: {
      name: 'get_time',
      description: 'Local time in a time zone',
      parameters: {
        type: 'object',
        properties: { zone: { type: 'string', maxLength: 12 }, seconds: { type: 'boolean' } },
        required: ['zone', 'seconds'],
        additionalProperties: false,
      },
    },
  };
  const schemaOf = { get_weather: weather.function.parameters, get_time: clock.function.parameters };
  const base = {
    model: MODEL_ID,
    messages: [{ role: 'user', content: 'What is the weather in Paris, and the time there?' }],
    tools: [weather, clock],
    parallel_tool_calls: false,
    max_tokens: 200,
    temperature: 0.8,
    seed: 77,
  };

  function checkCall(call, wantName) {
    assert.equal(call.type, 'function');
    assert.equal(typeof call.id, 'string');
    assert.ok(call.id.length > 0, 'tool call id');
    if (wantName) assert.equal(call.function.name, wantName);
    assert.ok(call.function.name in schemaOf, `known function: ${call.function.name}`);
    const args = JSON.parse(call.function.arguments);
    validate(schemaOf[call.function.name], args);
    return args;
  }

  test('tool_choice required → one tool call whose arguments match its schema', async () => {
    const r = await client.chat.completions.create({ ...base, tool_choice: 'required' });
    const c = r.choices[0];
    assert.equal(c.finish_reason, 'tool_calls');
    assert.equal(c.message.tool_calls.length, 1);
    checkCall(c.message.tool_calls[0]);
  });

  test('named tool_choice calls that function', async () => {
    const r = await client.chat.completions.create({
      ...base,
      tool_choice: { type: 'function', function: { name: 'get_time' } },
    });
    const c = r.choices[0];
    assert.equal(c.finish_reason, 'tool_calls');
    assert.equal(c.message.tool_calls.length, 1);
    checkCall(c.message.tool_calls[0], 'get_time');
  });

  test('streamed tool-call deltas add up to the non-streamed call', async () => {
    const req = { ...base, tool_choice: { type: 'function', function: { name: 'get_weather' } } };
    const whole = await client.chat.completions.create(req);
    const s = await collectChat(await client.chat.completions.create({ ...req, stream: true }));
    assert.equal(s.finish, 'tool_calls');
    assert.equal(s.toolCalls.length, 1);
    const call = s.toolCalls[0];
    checkCall({ id: call.id, type: call.type, function: { name: call.name, arguments: call.arguments } }, 'get_weather');
    const w = whole.choices[0].message.tool_calls[0];
    assert.equal(call.name, w.function.name);
    assert.deepEqual(JSON.parse(call.arguments), JSON.parse(w.function.arguments));
    // "Tool-call deltas stream as the model writes them": the arguments arrive in pieces.
    assert.ok(s.argDeltas >= 2, `arguments streamed in ${s.argDeltas} delta(s)`);
  });

  test('tool_choice auto returns content or well-formed tool calls', async () => {
    const r = await client.chat.completions.create({ ...base, tool_choice: 'auto' });
    const c = r.choices[0];
    if (c.message.tool_calls?.length) {
      assert.equal(c.finish_reason, 'tool_calls');
      for (const call of c.message.tool_calls) checkCall(call);
    } else {
      assert.equal(typeof c.message.content, 'string');
      assert.ok(['stop', 'length'].includes(c.finish_reason));
    }
  });

  test('a tool result message continues the conversation', async () => {
    const first = await client.chat.completions.create({ ...base, tool_choice: 'required' });
    const call = first.choices[0].message.tool_calls[0];
    const r = await client.chat.completions.create({
      ...base,
      max_tokens: 8,
      messages: [
        ...base.messages,
        first.choices[0].message,
        { role: 'tool', tool_call_id: call.id, content: '{"temperature": 21}' },
      ],
      tool_choice: 'none',
    });
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(typeof r.choices[0].message.content, 'string');
  });
});

describe('response_format json_schema', () => {
  const schema = {
    type: 'object',
    properties: {
      name: { type: 'string', maxLength: 16 },
      colour: { type: 'string', enum: ['red', 'green', 'blue'] },
      count: { type: 'integer', minimum: 0, maximum: 100 },
      ok: { type: 'boolean' },
      tags: { type: 'array', items: { type: 'string', maxLength: 6 }, maxItems: 3 },
    },
    required: ['name', 'colour', 'count', 'ok', 'tags'],
    additionalProperties: false,
  };
  const req = {
    model: MODEL_ID,
    messages: [{ role: 'user', content: 'Describe a thing as JSON.' }],
    response_format: { type: 'json_schema', json_schema: { name: 'thing', strict: true, schema } },
    max_tokens: 300,
    temperature: 0.7,
    seed: 9,
  };

  test('non-streaming content parses and validates', async () => {
    const r = await client.chat.completions.create(req);
    assert.equal(r.choices[0].finish_reason, 'stop');
    validate(schema, JSON.parse(r.choices[0].message.content));
  });

  test('streamed content parses, validates and equals the non-streamed content', async () => {
    const whole = await client.chat.completions.create(req);
    const s = await collectChat(await client.chat.completions.create({ ...req, stream: true }));
    validate(schema, JSON.parse(s.content));
    assert.equal(s.content, whole.choices[0].message.content);
  });

  test('with ignore_eos, a completed schema still ends the reply', async () => {
    // The grammar allows nothing after the object but EOS; ignore_eos must not turn that into an
    // error: the reply ends (finish_reason "stop") with the complete, valid object.
    const small = {
      type: 'object',
      properties: { colour: { type: 'string', enum: ['red', 'green'] } },
      required: ['colour'],
      additionalProperties: false,
    };
    const r = await client.chat.completions.create({
      ...req,
      ignore_eos: true,
      response_format: { type: 'json_schema', json_schema: { name: 'c', strict: true, schema: small } },
    });
    assert.equal(r.choices[0].finish_reason, 'stop');
    validate(small, JSON.parse(r.choices[0].message.content));
  });

  test('json_object gives a JSON object', async () => {
    const r = await client.chat.completions.create({
      ...req,
      response_format: { type: 'json_object' },
      max_tokens: 400,
    });
    if (r.choices[0].finish_reason === 'stop') {
      const v = JSON.parse(r.choices[0].message.content);
      assert.equal(typeof v, 'object');
      assert.ok(v !== null && !Array.isArray(v));
    } else {
      // An unbounded object may run past max_tokens; the prefix must still start an object.
      assert.equal(r.choices[0].finish_reason, 'length');
      assert.match(r.choices[0].message.content, /^\s*\{/);
    }
  });
});

describe('completions', () => {
  const base = { model: MODEL_ID, prompt: 'Once upon a time', max_tokens: 16, temperature: 0.9, seed: 5 };

  test('non-streaming text completion', async () => {
    const r = await client.completions.create({ ...base, ignore_eos: true });
    assert.equal(r.object, 'text_completion');
    assert.equal(r.choices.length, 1);
    assert.equal(typeof r.choices[0].text, 'string');
    assert.equal(r.choices[0].finish_reason, 'length');
    checkUsage(r.usage);
    assert.equal(r.usage.completion_tokens, 16);
  });

  test('streamed text equals the non-streamed text for the same seed', async () => {
    const whole = await client.completions.create(base);
    const stream = await client.completions.create({ ...base, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish = null;
    let usage = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices ?? []) {
        text += c.text ?? '';
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
    assert.equal(text, whole.choices[0].text);
    assert.equal(finish, whole.choices[0].finish_reason);
    checkUsage(usage);
    assert.equal(usage.completion_tokens, whole.usage.completion_tokens);
  });

  test('echo prepends the prompt', async () => {
    const plain = await client.completions.create(base);
    const r = await client.completions.create({ ...base, echo: true });
    assert.equal(r.choices[0].text, base.prompt + plain.choices[0].text);
  });

  test('a prompt given as token ids', async () => {
    const tok = await fetch(server.url('/tokenize'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content: base.prompt }),
    }).then((r) => r.json());
    assert.ok(Array.isArray(tok.tokens) && tok.tokens.length > 0);
    const ids = tok.tokens.map((t) => (typeof t === 'number' ? t : t.id));
    const fromText = await client.completions.create(base);
    const fromIds = await client.completions.create({ ...base, prompt: ids });
    assert.equal(fromIds.choices[0].text, fromText.choices[0].text);
  });
});

describe('errors', () => {
  function expectError(promise, Cls, status) {
    return assert.rejects(promise, (err) => {
      assert.ok(err instanceof Cls, `expected ${Cls.name}, got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, status);
      // OpenAI's error shape: {"error": {"message", "type", "code", "param"}}.
      assert.equal(typeof err.error?.message, 'string');
      assert.ok(err.error.message.length > 0);
      assert.equal(typeof err.error?.type, 'string');
      return true;
    });
  }

  test('an invalid parameter is BadRequestError 400', async () => {
    await expectError(
      client.chat.completions.create({ model: MODEL_ID, messages: userMessages, max_tokens: 'many' }),
      OpenAI.BadRequestError,
      400,
    );
    await expectError(
      client.chat.completions.create({ model: MODEL_ID, messages: userMessages, n: 0 }),
      OpenAI.BadRequestError,
      400,
    );
    await expectError(client.chat.completions.create({ model: MODEL_ID, messages: [] }), OpenAI.BadRequestError, 400);
  });

  test('a streaming request with an invalid parameter fails before streaming with 400', async () => {
    await expectError(
      client.chat.completions.create({ model: MODEL_ID, messages: userMessages, top_k: 'x', stream: true }),
      OpenAI.BadRequestError,
      400,
    );
  });

  test('prompt + max_tokens beyond the context is 400 exceed_context_size_error', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: MODEL_ID, messages: userMessages, max_tokens: 100_000 }),
      (err) => {
        assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err?.message}`);
        assert.equal(err.status, 400);
        assert.ok(
          [err.error?.code, err.error?.type].includes('exceed_context_size_error'),
          JSON.stringify(err.error),
        );
        assert.match(err.error.message, /100000/);
        assert.match(err.error.message, /1024/);
        return true;
      },
    );
  });

  test('an unknown model is NotFoundError 404', async () => {
    await expectError(
      client.chat.completions.create({ model: 'gpt-nonexistent', messages: userMessages, max_tokens: 2 }),
      OpenAI.NotFoundError,
      404,
    );
  });

  test('with --api-key: a wrong key is AuthenticationError 401, the right key works', async () => {
    const wrong = new OpenAI({ baseURL: keyed.url('/v1'), apiKey: 'wrong-key', maxRetries: 0 });
    await expectError(wrong.models.list(), OpenAI.AuthenticationError, 401);
    await expectError(
      wrong.chat.completions.create({ model: MODEL_ID, messages: userMessages, max_tokens: 2 }),
      OpenAI.AuthenticationError,
      401,
    );
    const right = new OpenAI({ baseURL: keyed.url('/v1'), apiKey: API_KEY, maxRetries: 0 });
    const r = await right.chat.completions.create({ model: MODEL_ID, messages: userMessages, max_tokens: 2 });
    assert.equal(r.choices[0].message.role, 'assistant');
    // /health needs no key.
    const h = await fetch(keyed.url('/health'));
    assert.equal(h.status, 200);
    assert.deepEqual(await h.json(), { status: 'ok' });
  });
});

describe('server', () => {
  test('is still alive after the suite', async () => {
    assert.ok(server.alive(), 'server process alive');
    const h = await fetch(server.url('/health'));
    assert.equal(h.status, 200);
  });
});
