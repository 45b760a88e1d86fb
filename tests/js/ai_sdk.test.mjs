// The Vercel AI SDK (`ai` with `@ai-sdk/openai-compatible`) against the real `ember serve`
// (issue 13). The provider speaks /v1/chat/completions; run by CTest through run.sh.
//
// Random-weight test model: structure and independent facts only (streamText = generateText for
// one seed, a forced tool call whose input passes the tool's zod schema and whose execute()
// result comes back, usage that adds up).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateText, streamText, tool } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { z } from 'zod';

import { modelPath, startServer } from './server.mjs';

const MODEL = 'qwen2-q8_0';

let server;
let model;

before(async () => {
  server = await startServer(modelPath('qwen2-q8_0.gguf'), ['--parallel', '2', '-c', '1024', '-t', '2']);
  const ember = createOpenAICompatible({ name: 'ember', baseURL: server.url('/v1'), includeUsage: true });
  model = ember(MODEL);
});

after(async () => {
  const r = await server?.stop();
  if (r && r.signal && r.signal !== 'SIGTERM') throw new Error(`ember serve ended by ${r.signal}`);
});

const base = { system: 'You are terse.', prompt: 'Name three colours.', maxOutputTokens: 24, temperature: 0.9, seed: 11, maxRetries: 0 };

const weatherInput = z.object({ city: z.enum(['Paris', 'Lima']), days: z.number().int().min(1).max(7) });
const executed = [];
const tools = {
  get_weather: tool({
    description: 'Current weather in a city',
    inputSchema: weatherInput,
    execute: async (input) => {
      executed.push(input);
      return { temperature: 21, city: input.city };
    },
  }),
};

describe('Vercel AI SDK', () => {
  test('generateText and streamText give the same text for one seed', async () => {
    const g = await generateText({ model, ...base });
    assert.equal(typeof g.text, 'string');
    assert.ok(['stop', 'length'].includes(g.finishReason), g.finishReason);
    assert.ok(g.usage.inputTokens > 0);
    assert.ok(g.usage.outputTokens <= 24);

    const s = streamText({ model, ...base });
    let streamed = '';
    for await (const piece of s.textStream) streamed += piece;
    assert.equal(streamed, g.text);
    assert.equal(await s.finishReason, g.finishReason);
    assert.equal((await s.usage).outputTokens, g.usage.outputTokens);
  });

  test('generateText with a tool: a validated call, executed, its result returned', async () => {
    executed.length = 0;
    const g = await generateText({ model, ...base, maxOutputTokens: 120, tools, toolChoice: 'required' });
    assert.equal(g.finishReason, 'tool-calls');
    assert.equal(g.toolCalls.length, 1);
    assert.equal(g.toolCalls[0].toolName, 'get_weather');
    weatherInput.parse(g.toolCalls[0].input);
    assert.equal(executed.length, 1);
    assert.deepEqual(g.toolResults[0].output, { temperature: 21, city: g.toolCalls[0].input.city });
  });

  test('streamText with a tool gives the same call as generateText', async () => {
    const req = { model, ...base, maxOutputTokens: 120, tools, toolChoice: 'required' };
    const g = await generateText(req);
    const s = streamText(req);
    const parts = [];
    for await (const p of s.fullStream) parts.push(p.type);
    const calls = await s.toolCalls;
    assert.equal(calls.length, 1);
    assert.equal(calls[0].toolName, 'get_weather');
    assert.deepEqual(calls[0].input, g.toolCalls[0].input);
    assert.ok(parts.includes('tool-call') && parts.includes('tool-result'), parts.join(','));
  });

  test('the server is still alive', async () => {
    assert.ok(server.alive());
  });
});
