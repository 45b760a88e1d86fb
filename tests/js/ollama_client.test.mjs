// The official `ollama` npm client against the real `ember serve` (issue 13: Ollama's API on the
// same port). Run by CTest through run.sh (node --test), with EMBER_CLI and EMBER_TESTDATA set.
//
// The model is the tiny random-weight Qwen2 test model: its text is gibberish, so the tests
// check structure and independent facts (streamed = non-streamed for one seed, JSON that parses
// and matches the schema, num_predict bounding eval_count, error statuses), never wording.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';

import { modelPath, startServer } from './server.mjs';
import { validate } from './schema.mjs';

const MODEL = 'qwen2-q8_0:latest';

let server;
let ollama;

before(async () => {
  server = await startServer(modelPath('qwen2-q8_0.gguf'), ['--parallel', '2', '-c', '1024', '-t', '2']);
  ollama = new Ollama({ host: server.baseURL });
});

after(async () => {
  const r = await server?.stop();
  if (r && r.signal && r.signal !== 'SIGTERM') throw new Error(`ember serve ended by ${r.signal}`);
});

const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Name three colours.' },
];

function checkFinal(r, maxTokens) {
  assert.equal(r.done, true);
  assert.ok(['stop', 'length'].includes(r.done_reason), r.done_reason);
  for (const k of ['total_duration', 'load_duration', 'prompt_eval_count', 'prompt_eval_duration', 'eval_count', 'eval_duration']) {
    assert.ok(Number.isInteger(r[k]) && r[k] >= 0, `${k} = ${r[k]}`);
  }
  assert.ok(r.prompt_eval_count > 0);
  assert.ok(r.total_duration >= r.prompt_eval_duration);
  if (maxTokens !== undefined) {
    assert.ok(r.eval_count <= maxTokens);
    if (r.done_reason === 'length') assert.equal(r.eval_count, maxTokens);
  }
  assert.ok(!Number.isNaN(Date.parse(r.created_at)), `created_at ${r.created_at}`);
}

describe('models', () => {
  test('list (/api/tags) names the served model with its details', async () => {
    const r = await ollama.list();
    assert.equal(r.models.length, 1);
    const m = r.models[0];
    assert.equal(m.name, MODEL);
    assert.equal(m.model, MODEL);
    assert.equal(m.details.format, 'gguf');
    assert.equal(m.details.family, 'qwen2');
    assert.equal(m.details.quantization_level, 'Q8_0');
    assert.match(m.digest, /^[0-9a-f]{64}$/);
    assert.ok(m.size > 0);
  });

  test('show gives template, parameters, details and capabilities', async () => {
    const r = await ollama.show({ model: 'qwen2-q8_0' });
    assert.match(r.template, /im_start/);
    assert.match(r.parameters, /temperature/);
    assert.equal(r.details.family, 'qwen2');
    assert.ok(r.capabilities.includes('completion'));
    assert.ok(r.capabilities.includes('tools'));
    assert.equal(r.model_info['general.architecture'], 'qwen2');
    await assert.rejects(ollama.show({ model: 'llama3:8b' }), (e) => e.status_code === 404 && /not found/.test(e.message));
  });

  test('ps and version', async () => {
    const ps = await ollama.ps();
    assert.equal(ps.models[0].name, MODEL);
    assert.equal(ps.models[0].context_length, 1024);
    const v = await ollama.version();
    assert.match(v.version, /^\d+\.\d+\.\d+$/);
  });
});

describe('chat', () => {
  const req = { model: MODEL, messages, options: { seed: 42, num_predict: 16, temperature: 0.9 } };

  test('non-streamed reply and stats', async () => {
    const r = await ollama.chat({ ...req, stream: false });
    assert.equal(r.model, MODEL);
    assert.equal(r.message.role, 'assistant');
    assert.equal(typeof r.message.content, 'string');
    checkFinal(r, 16);
  });

  test('streamed pieces concatenate to the non-streamed reply for the same seed', async () => {
    const whole = await ollama.chat({ ...req, stream: false });
    let text = '';
    let last = null;
    let pieces = 0;
    for await (const part of await ollama.chat({ ...req, stream: true })) {
      assert.equal(part.message.role, 'assistant');
      text += part.message.content;
      pieces++;
      if (part.done) last = part;
      else assert.equal(last, null, 'nothing after done');
    }
    assert.ok(pieces >= 2);
    assert.equal(text, whole.message.content);
    checkFinal(last, 16);
    assert.equal(last.eval_count, whole.eval_count);
    assert.equal(last.done_reason, whole.done_reason);
  });

  test('num_predict bounds the reply; stop cuts it', async () => {
    const r = await ollama.chat({ ...req, options: { ...req.options, num_predict: 3 } });
    assert.ok(r.eval_count <= 3);
    const full = (await ollama.chat({ ...req, options: { ...req.options, num_predict: 24 } })).message.content;
    const cut = full.slice(4, 6);
    if (cut.trim().length === 2) {
      const s = await ollama.chat({ ...req, options: { ...req.options, num_predict: 24, stop: [cut] } });
      assert.equal(s.message.content, full.slice(0, full.indexOf(cut)));
      assert.equal(s.done_reason, 'stop');
    }
  });

  test('format with a JSON schema gives JSON that validates', async () => {
    const schema = {
      type: 'object',
      properties: { name: { type: 'string', maxLength: 10 }, age: { type: 'integer', minimum: 0, maximum: 120 } },
      required: ['name', 'age'],
      additionalProperties: false,
    };
    const r = await ollama.chat({ ...req, format: schema, options: { ...req.options, num_predict: 80 } });
    validate(schema, JSON.parse(r.message.content));
    // Any object may go on for long with random weights: check it when it finished.
    const j = await ollama.chat({ ...req, format: 'json', options: { ...req.options, num_predict: 200 } });
    assert.equal(j.message.content.trimStart()[0], '{');
    if (j.done_reason === 'stop') assert.equal(typeof JSON.parse(j.message.content), 'object');
  });

  test('tools: replies are content or well-formed tool calls; a tool round trip is accepted', async () => {
    const tools = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Weather in a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      },
    ];
    const r = await ollama.chat({ model: MODEL, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools, options: { seed: 3, num_predict: 60 } });
    for (const call of r.message.tool_calls ?? []) {
      assert.equal(call.function.name, 'get_weather');
      assert.equal(typeof call.function.arguments, 'object');
    }
    // A conversation with a tool call and its result (Ollama's shapes: arguments as an object,
    // tool_name on the result) renders and runs; the result adds prompt tokens.
    const history = [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
    ];
    const a = await ollama.chat({ model: MODEL, messages: history, tools, options: { seed: 3, num_predict: 4 } });
    const b = await ollama.chat({
      model: MODEL,
      messages: [...history, { role: 'tool', tool_name: 'get_weather', content: '{"temperature": 21}' }],
      tools,
      options: { seed: 3, num_predict: 4 },
    });
    assert.ok(b.prompt_eval_count > a.prompt_eval_count + 5, `${b.prompt_eval_count} vs ${a.prompt_eval_count}`);
  });

  test('think false keeps thinking out, think true needs a thinking template; an empty message list loads', async () => {
    const r = await ollama.chat({ ...req, think: false });
    assert.equal(r.message.thinking, undefined);
    // show lists no "thinking" capability for this template, and asking for it is an error.
    assert.ok(!(await ollama.show({ model: MODEL })).capabilities.includes('thinking'));
    await assert.rejects(ollama.chat({ ...req, think: true }), (e) => e.status_code === 400 && /thinking/.test(e.message));
    const load = await ollama.chat({ model: MODEL, messages: [] });
    assert.equal(load.done_reason, 'load');
  });
});

describe('generate', () => {
  test('templated prompt, streamed = not streamed', async () => {
    const req = { model: MODEL, prompt: 'Why is the sky blue?', system: 'Be brief.', options: { seed: 9, num_predict: 12 } };
    const whole = await ollama.generate({ ...req, stream: false });
    checkFinal(whole, 12);
    let text = '';
    let last = null;
    for await (const part of await ollama.generate({ ...req, stream: true })) {
      text += part.response;
      if (part.done) last = part;
    }
    assert.equal(text, whole.response);
    assert.equal(last.eval_count, whole.eval_count);
  });

  test('raw prompts skip the template: fewer prompt tokens than the templated prompt', async () => {
    const raw = await ollama.generate({ model: MODEL, prompt: 'Once upon a time', raw: true, options: { seed: 1, num_predict: 8 } });
    const templated = await ollama.generate({ model: MODEL, prompt: 'Once upon a time', options: { seed: 1, num_predict: 8 } });
    checkFinal(raw, 8);
    assert.ok(raw.prompt_eval_count < templated.prompt_eval_count);
  });
});

describe('errors', () => {
  test('clear errors with Ollama\'s {"error"} shape', async () => {
    const cases = [
      [{ model: 'nope', messages }, 404, /not found/],
      [{ model: MODEL, messages, options: { num_ctx: 999999 } }, 400, /num_ctx/],
      [{ model: MODEL, messages, options: { temperature: 'hot' } }, 400, /temperature/],
      [{ model: MODEL, messages, options: { bogus_option: 1 } }, 400, /bogus_option/],
      [{ model: MODEL, messages: [{ role: 'user', content: 'x', images: ['aGk='] }] }, 400, /images/],
    ];
    for (const [body, status, re] of cases) {
      const r = await fetch(server.url('/api/chat'), { method: 'POST', body: JSON.stringify({ ...body, stream: false }) });
      assert.equal(r.status, status, JSON.stringify(body));
      const j = await r.json();
      assert.equal(typeof j.error, 'string');
      assert.match(j.error, re);
    }
    // A chat model without a pooling type: the same 400 as /v1/embeddings.
    for (const [path, body] of [['/api/embed', { input: 'hi' }], ['/api/embeddings', { prompt: 'hi' }]]) {
      const r = await fetch(server.url(path), { method: 'POST', body: JSON.stringify({ model: MODEL, ...body }) });
      assert.equal(r.status, 400);
      assert.match((await r.json()).error, /without a pooling type/);
    }
    const pull = await fetch(server.url('/api/pull'), { method: 'POST', body: JSON.stringify({ model: 'llama3' }) });
    assert.equal(pull.status, 501);
    await assert.rejects(ollama.generate({ model: MODEL, prompt: 'x', template: '{{ .Prompt }}' }), (e) => e.status_code === 400);
  });

  test('the server is still alive', async () => {
    assert.ok(server.alive());
  });
});
