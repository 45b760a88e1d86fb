// The web chat page of `ember serve` in Debian's headless Chromium (playwright-core, no browser
// download): loads, streams a reply incrementally, stop cancels on the server, model output with
// HTML renders as text and runs nothing, a reload keeps the conversation, server errors and an
// unreachable server are shown. EMBER_WEBUI_SCREENSHOT=<file.png> also writes a screenshot of a
// conversation (docs/webui.png).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

import { modelPath, startServer } from './server.mjs';

const CHROMIUM = process.env.EMBER_CHROMIUM || '/usr/bin/chromium';
const MODEL = 'qwen2-q8_0.gguf';

let server;
let browser;
let page;
const pageErrors = [];
const outsideRequests = [];

// A grammar that makes the model write exactly `text` (GBNF string literal).
function grammarFor(text) {
  const literal = text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `root ::= "${literal}"`;
}

async function setSettings(values) {
  if (await page.locator('#settings').isHidden()) await page.click('#toggle-settings');
  for (const [id, value] of Object.entries(values)) await page.fill(`#${id}`, value);
  await page.click('#toggle-settings');
}

async function sendMessage(text) {
  await page.fill('#prompt', text);
  await page.press('#prompt', 'Enter');
}

// Waits until the last message (the reply being written) is finished: its stats, error or
// "Stopped." is shown.
async function waitReplyDone(timeout = 20_000) {
  await page.waitForSelector('#messages > .msg.assistant:last-child :is(.stats, .error, .note)', { timeout });
}

async function slots() {
  const r = await fetch(`${server.baseURL}/slots`);
  return r.json();
}

async function cancelledTotal() {
  const text = await (await fetch(`${server.baseURL}/metrics`)).text();
  const m = /ember_requests_total\{finish_reason="cancelled"\} (\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

before(async () => {
  server = await startServer(modelPath(MODEL), ['--parallel', '1', '-c', '4096', '-t', '1']);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('request', (r) => {
    if (!r.url().startsWith(server.baseURL) && !r.url().startsWith('data:')) outsideRequests.push(r.url());
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the page loads from the binary with a strict CSP and shows the model', async () => {
  const response = await page.goto(server.baseURL);
  assert.equal(response.status(), 200);
  const csp = response.headers()['content-security-policy'];
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.ok(response.headers().etag);
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForFunction(() => document.querySelector('#model-name').textContent === 'qwen2-q8_0');
  // The message box has the focus, so a person can type at once.
  assert.equal(await page.evaluate(() => document.activeElement.id), 'prompt');
});

test('a typed message streams a reply that appears incrementally', async () => {
  // Enough tokens that the reply takes many animation frames even on a fast machine.
  await setSettings({ 'max-tokens': '800', seed: '7', 'extra-json': '{"ignore_eos": true}' });
  // Shift+Enter is a new line, not a send.
  await page.fill('#prompt', 'Hello');
  await page.press('#prompt', 'Shift+Enter');
  await page.type('#prompt', 'there');
  assert.equal(await page.inputValue('#prompt'), 'Hello\nthere');
  assert.equal(await page.locator('.msg').count(), 0);

  // Record the reply's text at every DOM change of the message list.
  await page.evaluate(() => {
    window.__snapshots = [];
    new MutationObserver(() => {
      const content = document.querySelector('.msg.assistant:last-of-type .content');
      if (content) window.__snapshots.push(content.textContent);
    }).observe(document.querySelector('#messages'), { childList: true, subtree: true, characterData: true });
  });
  await page.press('#prompt', 'Enter');
  await waitReplyDone();
  const snapshots = await page.evaluate(() => window.__snapshots);
  const distinct = [...new Set(snapshots)].filter((s) => s.length > 0);
  assert.ok(distinct.length >= 3, `the reply appeared in ${distinct.length} steps: ${JSON.stringify(distinct.slice(0, 5))}`);
  // Each step extends the previous one (the text grows, it is not replaced).
  for (let i = 1; i < distinct.length; ++i) {
    assert.ok(distinct[i].length >= distinct[i - 1].length, 'the streamed text shrank');
  }
  const stats = await page.textContent('.msg.assistant .stats');
  assert.match(stats, /^800 tokens · [\d.]+ tokens\/s · first token after [\d.]+ s$/);

  // The assembled reply equals the server's non-streamed answer to the same request.
  const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('ember.webui.conversations.v1')));
  const reply = stored.conversations[0].messages[1].content;
  const r = await fetch(`${server.baseURL}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      messages: [{ role: 'user', content: 'Hello\nthere' }], max_tokens: 800, seed: 7, ignore_eos: true,
    }),
  });
  const expected = (await r.json()).choices[0].message.content;
  assert.equal(reply, expected);
});

test('stop aborts the request and the server frees the slot', async () => {
  const cancelledBefore = await cancelledTotal();
  await setSettings({ 'max-tokens': '3000', 'extra-json': '{"ignore_eos": true}' });
  await sendMessage('Write a long story');
  // Generating: the slot is busy and text is arriving.
  await page.waitForFunction(() => {
    const c = document.querySelector('.msg.assistant:last-of-type .content');
    return c && c.textContent.length > 10;
  });
  assert.ok((await slots()).some((s) => s.is_processing), 'the slot is not busy while generating');
  await page.click('#stop');
  await page.waitForSelector('.msg.assistant:last-of-type .note');
  assert.equal(await page.textContent('.msg.assistant:last-of-type .note'), 'Stopped.');
  const deadline = Date.now() + 5000;
  while ((await slots()).some((s) => s.is_processing)) {
    assert.ok(Date.now() < deadline, 'the slot is still busy 5 s after stop');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(await cancelledTotal(), cancelledBefore + 1);
});

test('HTML in a streamed reply renders as text and runs nothing', async () => {
  const evil = '<img src=x onerror=window.__xss=1> and <script>window.__xss=2</script> ' +
    '[click](javascript:window.__xss=3) ![pic](http://192.0.2.1/p.png) **bold**';
  await setSettings({ 'max-tokens': '400', 'extra-json': JSON.stringify({ grammar: grammarFor(evil) }) });
  await sendMessage('Say something dangerous');
  await waitReplyDone();
  const last = page.locator('.msg.assistant').last();
  const text = await last.locator('.content').textContent();
  assert.ok(text.includes('<img src=x onerror=window.__xss=1>'), text);
  assert.ok(text.includes('<script>window.__xss=2</script>'), text);
  assert.equal(await last.locator('.content strong').textContent(), 'bold');  // markdown still works
  assert.equal(await page.locator('#messages img, #messages script, #messages iframe').count(), 0);
  for (const href of await last.locator('.content a').evaluateAll((as) => as.map((a) => a.getAttribute('href')))) {
    assert.ok(href === null || /^https?:/.test(href), `unsafe link ${href}`);
  }
  assert.equal(await page.evaluate(() => window.__xss), undefined);
});

test('a stored conversation with HTML, reasoning and tool calls renders safely after a reload', async () => {
  const messagesBefore = await page.locator('.msg').count();
  const current = await page.evaluate(() => {
    const state = JSON.parse(localStorage.getItem('ember.webui.conversations.v1'));
    state.conversations.push({
      id: 'injected', title: 'Injected', created: 1,
      messages: [
        { role: 'user', content: '<img src=x onerror=window.__xss=4>' },
        {
          role: 'assistant',
          reasoning: 'thinking <script>window.__xss=5</script>',
          content: '<iframe src="http://192.0.2.1/"></iframe><svg onload=window.__xss=6></svg>\n\n```js\nlet a = 1;\n```',
          tool_calls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"<b>Paris</b>"}' }],
        },
      ],
    });
    localStorage.setItem('ember.webui.conversations.v1', JSON.stringify(state));
    return state.current;
  });
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  // The reload kept the conversation that was open.
  assert.equal(await page.locator('.msg').count(), messagesBefore);
  assert.equal(await page.locator('.conversation-open[aria-current="true"]').count(), 1);
  assert.ok(current);

  await page.click('.conversation-open:text("Injected")');
  const reply = page.locator('.msg.assistant').last();
  assert.equal(await reply.locator('details.reasoning').getAttribute('open'), null);  // collapsed
  assert.equal(await reply.locator('.reasoning-text').textContent(), 'thinking <script>window.__xss=5</script>');
  assert.equal(await reply.locator('.tool-name').textContent(), 'get_weather');
  assert.equal(await reply.locator('.tool-args').textContent(), '{"city":"<b>Paris</b>"}');
  assert.equal(await reply.locator('pre code').textContent(), 'let a = 1;\n');
  assert.ok((await reply.locator('.content').textContent()).includes('<iframe src="http://192.0.2.1/"></iframe>'));
  assert.equal(await page.locator('#messages img, #messages script, #messages iframe, #messages svg, #messages b').count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
});

test('conversations can be created and deleted', async () => {
  const count = await page.locator('.conversation').count();
  await page.click('#new-chat');
  assert.equal(await page.locator('.conversation').count(), count + 1);
  assert.equal(await page.locator('.msg').count(), 0);
  await page.click('.conversation.active .conversation-delete');
  assert.equal(await page.locator('.conversation').count(), count);
});

test('the server\'s error message is shown', async () => {
  await setSettings({ 'max-tokens': '100000', 'extra-json': '' });
  await sendMessage('Too long');
  await waitReplyDone();
  const error = await page.locator('.msg.assistant').last().locator('.error').textContent();
  assert.match(error, /The server answered 400: .*100000/);
  assert.equal(await page.locator('#banner').isVisible(), true);
});

test('the page is usable at phone width', async () => {
  await page.setViewportSize({ width: 375, height: 740 });
  assert.equal(await page.locator('#sidebar').isVisible(), false);  // behind the menu button
  const overflow = await page.evaluate(() => document.scrollingElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  assert.equal(await page.locator('#prompt').isVisible(), true);
  assert.equal(await page.locator('#toggle-sidebar').isVisible(), true);
  await page.click('#toggle-sidebar');
  assert.equal(await page.getAttribute('#toggle-sidebar', 'aria-expanded'), 'true');
  assert.equal(await page.locator('#new-chat').isVisible(), true);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'new-chat');
  await page.keyboard.press('Escape');  // closes the list, back to the menu button
  assert.equal(await page.getAttribute('#toggle-sidebar', 'aria-expanded'), 'false');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'toggle-sidebar');
  await page.click('#toggle-sidebar');
  await page.click('#close-sidebar');
  assert.equal(await page.locator('#sidebar').isVisible(), false);
  await page.setViewportSize({ width: 1100, height: 760 });
});

test('a screenshot of a conversation (EMBER_WEBUI_SCREENSHOT)', { skip: !process.env.EMBER_WEBUI_SCREENSHOT }, async () => {
  // The test model is tiny (random weights): the reply is steered by a grammar so the picture
  // shows what markdown and code look like; it is streamed and rendered like any other.
  const code = 'Here is a function that adds two numbers:\n\n```python\ndef add(a, b):\n' +
    '    return a + b\n```\n\nCall it as `add(2, 3)`; it returns **5**.';
  await page.evaluate(() => localStorage.clear());  // a clean list, not the tests' conversations
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  await setSettings({ 'max-tokens': '400', 'extra-json': JSON.stringify({ grammar: grammarFor('The capital of France is **Paris**.') }) });
  await sendMessage('What is the capital of France?');
  await waitReplyDone();
  await setSettings({ 'extra-json': JSON.stringify({ grammar: grammarFor(code) }) });
  await sendMessage('Write a Python function that adds two numbers.');
  await waitReplyDone();
  await page.screenshot({ path: process.env.EMBER_WEBUI_SCREENSHOT });
});

test('an unreachable server is reported', async () => {
  await server.stop();
  await setSettings({ 'max-tokens': '', 'extra-json': '' });
  await sendMessage('Anyone there?');
  await waitReplyDone();
  const error = await page.locator('.msg.assistant').last().locator('.error').textContent();
  assert.match(error, /Cannot reach the server/);
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(outsideRequests, []);
});
