// The web chat page: conversation list, messages, composer and settings (index.html), wired to
// store.js (localStorage), chat_api.js (streaming requests) and render.js (safe markdown).

import { ChatError, getJson, streamChat } from './chat_api.js';
import { renderMarkdown } from './render.js';
import {
  loadConversations, loadSettings, newConversation, saveConversations, saveSettings,
} from './store.js';

const $ = (id) => document.getElementById(id);
const ui = {
  sidebar: $('sidebar'),
  list: $('conversation-list'),
  newChat: $('new-chat'),
  toggleSidebar: $('toggle-sidebar'),
  toggleSettings: $('toggle-settings'),
  settings: $('settings'),
  settingsForm: $('settings-form'),
  settingsError: $('settings-error'),
  modelName: $('model-name'),
  banner: $('banner'),
  messages: $('messages'),
  composer: $('composer'),
  prompt: $('prompt'),
  send: $('send'),
  stop: $('stop'),
  status: $('status'),
};

const state = loadConversations();
let settings = loadSettings();
let running = null;  // { controller, conversation, message } while a reply streams

// ---- helpers ----

function current() {
  return state.conversations.find((c) => c.id === state.current) || null;
}

function persist() {
  const error = saveConversations(state);
  if (error) showBanner(error);
}

function showBanner(text) {
  ui.banner.textContent = text;
  ui.banner.hidden = !text;
}

function announce(text) {
  ui.status.textContent = text;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// ---- settings ----

function fillSettingsForm() {
  for (const [key, value] of Object.entries(settings)) {
    const field = ui.settingsForm.elements.namedItem(key);
    if (field) field.value = value;
  }
}

function readSettingsForm() {
  const next = { ...settings };
  for (const key of Object.keys(settings)) {
    const field = ui.settingsForm.elements.namedItem(key);
    if (field) next[key] = field.value;
  }
  settings = next;
  const error = saveSettings(settings);
  if (error) showBanner(error);
}

// The request's sampling fields from the settings; throws ChatError on a malformed value.
function samplingFields() {
  const body = {};
  const numbers = [['temperature', false], ['top_p', false], ['max_tokens', true], ['seed', true]];
  for (const [key, integer] of numbers) {
    const text = settings[key].trim();
    if (!text) continue;
    const value = Number(text);
    if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
      throw new ChatError(`Settings: ${key} must be ${integer ? 'an integer' : 'a number'}, not "${text}"`);
    }
    body[key] = value;
  }
  const extra = settings.extra.trim();
  if (extra) {
    let parsed;
    try {
      parsed = JSON.parse(extra);
    } catch (error) {
      throw new ChatError(`Settings: the extra request fields are not valid JSON: ${error.message}`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new ChatError('Settings: the extra request fields must be a JSON object');
    }
    Object.assign(body, parsed);
  }
  return body;
}

// ---- rendering ----

function renderList() {
  ui.list.replaceChildren();
  for (const c of state.conversations) {
    const item = el('li', c.id === state.current ? 'conversation active' : 'conversation');
    const open = el('button', 'conversation-open', c.title || 'Conversation');
    open.type = 'button';
    if (c.id === state.current) open.setAttribute('aria-current', 'true');
    open.addEventListener('click', () => selectConversation(c.id));
    const remove = el('button', 'conversation-delete icon-button', '\u00d7');
    remove.type = 'button';
    remove.title = 'Delete this conversation';
    remove.setAttribute('aria-label', `Delete conversation "${c.title}"`);
    remove.addEventListener('click', () => deleteConversation(c.id));
    item.append(open, remove);
    ui.list.append(item);
  }
}

function statsText(stats) {
  if (!stats) return '';
  const parts = [`${stats.tokens} tokens`];
  if (stats.tokens_per_s > 0) parts.push(`${stats.tokens_per_s.toFixed(1)} tokens/s`);
  if (stats.ttft_s >= 0) parts.push(`first token after ${stats.ttft_s.toFixed(2)} s`);
  return parts.join(' \u00b7 ');
}

// Builds or refreshes the element of one message.
function renderMessage(message, node) {
  const view = node || el('article', `msg ${message.role}`);
  view.replaceChildren();
  view.append(el('h2', 'role', message.role === 'user' ? 'You' : 'Assistant'));
  if (message.role === 'assistant' && message.reasoning) {
    const details = el('details', 'reasoning');
    details.append(el('summary', '', 'Reasoning'), el('div', 'reasoning-text', message.reasoning));
    view.append(details);
  }
  const content = el('div', 'content');
  if (message.role === 'assistant') {
    renderMarkdown(content, message.content);
  } else {
    content.textContent = message.content;
  }
  view.append(content);
  if (message.tool_calls && message.tool_calls.length) {
    const calls = el('div', 'tool-calls');
    for (const call of message.tool_calls) {
      const box = el('div', 'tool-call');
      box.append(el('span', 'tool-label', 'Tool call: '), el('code', 'tool-name', call.name || '?'));
      box.append(el('pre', 'tool-args', call.arguments || ''));
      calls.append(box);
    }
    view.append(calls);
  }
  if (message.error) view.append(el('p', 'error', message.error));
  if (message.stopped) view.append(el('p', 'note', 'Stopped.'));
  const stats = statsText(message.stats);
  if (stats) view.append(el('p', 'stats', stats));
  return view;
}

function renderConversation() {
  const c = current();
  ui.messages.replaceChildren();
  if (!c || c.messages.length === 0) {
    ui.messages.append(el('p', 'empty', 'Start a conversation: type a message below.'));
    return;
  }
  for (const m of c.messages) ui.messages.append(renderMessage(m));
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function setRunning(value) {
  running = value;
  ui.send.hidden = Boolean(running);
  ui.stop.hidden = !running;
}

// ---- conversations ----

function selectConversation(id) {
  if (running) stopReply();
  state.current = id;
  persist();
  renderList();
  renderConversation();
  closeSidebarOnPhone();
  ui.prompt.focus();
}

function startNewConversation() {
  if (running) stopReply();
  const c = newConversation();
  state.conversations.unshift(c);
  state.current = c.id;
  persist();
  renderList();
  renderConversation();
  closeSidebarOnPhone();
  ui.prompt.focus();
}

function deleteConversation(id) {
  if (running && running.conversation.id === id) stopReply();
  state.conversations = state.conversations.filter((c) => c.id !== id);
  if (state.current === id) state.current = state.conversations[0]?.id || null;
  persist();
  renderList();
  renderConversation();
}

// ---- sending ----

function requestMessages(conversation) {
  const out = [];
  if (settings.system.trim()) out.push({ role: 'system', content: settings.system });
  for (const m of conversation.messages) {
    if (m.role === 'user') {
      out.push({ role: 'user', content: m.content });
    } else if (!m.error || m.content) {
      const msg = { role: 'assistant', content: m.content };
      if (m.tool_calls && m.tool_calls.length) {
        msg.tool_calls = m.tool_calls.map((t, i) => ({
          id: t.id || `call_${i}`, type: 'function',
          function: { name: t.name || '', arguments: t.arguments || '' },
        }));
      }
      out.push(msg);
    }
  }
  return out;
}

async function send() {
  const text = ui.prompt.value;
  if (!text.trim() || running) return;
  readSettingsForm();
  let fields;
  try {
    fields = samplingFields();
    ui.settingsError.textContent = '';
  } catch (error) {
    ui.settingsError.textContent = error.message;
    showBanner(error.message);
    return;
  }
  showBanner('');
  let c = current();
  if (!c) {
    c = newConversation();
    state.conversations.unshift(c);
    state.current = c.id;
  }
  if (c.messages.length === 0) c.title = text.trim().slice(0, 60);
  c.messages.push({ role: 'user', content: text });
  const reply = { role: 'assistant', content: '', reasoning: '', tool_calls: [] };
  const body = { messages: requestMessages(c), ...fields };
  c.messages.push(reply);
  ui.prompt.value = '';
  persist();
  renderList();
  renderConversation();

  const view = ui.messages.lastElementChild;
  const controller = new AbortController();
  setRunning({ controller, conversation: c, message: reply });
  announce('Generating a reply');

  const started = performance.now();
  let firstToken = -1;
  let usage = null;
  let frame = 0;
  const refresh = () => {
    frame = 0;
    renderMessage(reply, view);
    ui.messages.scrollTop = ui.messages.scrollHeight;
  };
  try {
    await streamChat(body, {
      apiKey: settings.api_key,
      signal: controller.signal,
      onChunk(chunk) {
        if (chunk.usage) usage = chunk.usage;
        const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
        if (!delta) return;
        if (firstToken < 0 && (delta.content || delta.reasoning_content || delta.tool_calls)) {
          firstToken = performance.now();
        }
        if (delta.content) reply.content += delta.content;
        if (delta.reasoning_content) reply.reasoning += delta.reasoning_content;
        for (const t of delta.tool_calls || []) {
          const index = t.index ?? 0;
          const call = reply.tool_calls[index] || (reply.tool_calls[index] = { id: '', name: '', arguments: '' });
          if (t.id) call.id = t.id;
          if (t.function?.name) call.name += t.function.name;
          if (t.function?.arguments) call.arguments += t.function.arguments;
        }
        // Re-render at most once per frame, however fast the tokens come.
        if (!frame) frame = requestAnimationFrame(refresh);
      },
    });
    const end = performance.now();
    const tokens = usage ? usage.completion_tokens : 0;
    const genSeconds = firstToken >= 0 ? (end - firstToken) / 1000 : 0;
    const totalSeconds = (end - started) / 1000;
    reply.stats = {
      tokens,
      // The first token's time is prompt evaluation: the rate counts the tokens after it. A reply
      // that arrived almost at once (a few network reads) has no meaningful span after its first
      // token: then the rate is over the whole request.
      tokens_per_s: tokens > 1 && genSeconds >= 0.25 ? (tokens - 1) / genSeconds
        : totalSeconds > 0 ? tokens / totalSeconds : 0,
      ttft_s: firstToken >= 0 ? (firstToken - started) / 1000 : -1,
    };
    announce('Reply complete');
  } catch (error) {
    if (error.name === 'AbortError') {
      reply.stopped = true;
      announce('Stopped');
    } else {
      reply.error = error instanceof ChatError ? error.message : `Error: ${error.message}`;
      showBanner(reply.error);
      announce(reply.error);
    }
  } finally {
    if (frame) cancelAnimationFrame(frame);
    setRunning(null);
    persist();
    if (current() === c) refresh();
  }
}

function stopReply() {
  if (running) running.controller.abort();
}

// ---- layout ----

function setSidebarOpen(open) {
  ui.sidebar.classList.toggle('open', open);
  ui.toggleSidebar.setAttribute('aria-expanded', String(open));
  if (open) {
    ui.newChat.focus();
  } else if (ui.sidebar.contains(document.activeElement)) {
    ui.toggleSidebar.focus();
  }
}

function closeSidebarOnPhone() {
  if (window.matchMedia('(max-width: 720px)').matches) setSidebarOpen(false);
}

async function showModel() {
  try {
    const models = await getJson('/v1/models', settings.api_key);
    const id = models?.data?.[0]?.id;
    if (id) {
      ui.modelName.textContent = id;
      document.title = `${id} \u00b7 ember chat`;
    }
  } catch (error) {
    showBanner(error.message);
  }
}

// ---- events ----

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  send();
});
ui.prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  } else if (event.key === 'Escape' && running) {
    stopReply();
  }
});
ui.stop.addEventListener('click', () => {
  stopReply();
  ui.prompt.focus();
});
ui.newChat.addEventListener('click', startNewConversation);
ui.toggleSidebar.addEventListener('click', () => setSidebarOpen(!ui.sidebar.classList.contains('open')));
$('close-sidebar').addEventListener('click', () => setSidebarOpen(false));
ui.sidebar.addEventListener('keydown', (event) => {
  if (event.key === 'Escape') setSidebarOpen(false);
});
ui.toggleSettings.addEventListener('click', () => {
  ui.settings.hidden = !ui.settings.hidden;
  ui.toggleSettings.setAttribute('aria-expanded', String(!ui.settings.hidden));
  if (!ui.settings.hidden) $('system-prompt').focus();
});
ui.settingsForm.addEventListener('input', readSettingsForm);
ui.settingsForm.addEventListener('submit', (event) => event.preventDefault());

if (!current() && state.conversations.length) state.current = state.conversations[0].id;
fillSettingsForm();
renderList();
renderConversation();
showModel();
ui.prompt.focus();
document.body.dataset.ready = 'true';
