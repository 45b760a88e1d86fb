// Conversations and settings, kept in this browser's localStorage (nothing is stored on the
// server). Stored data is read defensively: a corrupt or foreign value becomes the default
// instead of breaking the page.

const CONVERSATIONS_KEY = 'ember.webui.conversations.v1';
const SETTINGS_KEY = 'ember.webui.settings.v1';

export const DEFAULT_SETTINGS = {
  system: '',
  temperature: '',
  top_p: '',
  max_tokens: '',
  seed: '',
  api_key: '',
  extra: '',
};

function read(key) {
  try {
    const text = localStorage.getItem(key);
    return text === null ? null : JSON.parse(text);
  } catch {
    return null;
  }
}

// Writes JSON; returns an error message when the browser refuses (quota, private mode).
function write(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
    return '';
  } catch (error) {
    return `Could not save to this browser's storage: ${error.message}`;
  }
}

export function loadSettings() {
  const stored = read(SETTINGS_KEY);
  const settings = { ...DEFAULT_SETTINGS };
  if (stored && typeof stored === 'object') {
    for (const key of Object.keys(DEFAULT_SETTINGS)) {
      if (typeof stored[key] === 'string') settings[key] = stored[key];
    }
  }
  return settings;
}

export function saveSettings(settings) {
  return write(SETTINGS_KEY, settings);
}

function validMessage(m) {
  return m && typeof m === 'object' && ['user', 'assistant'].includes(m.role) &&
    typeof m.content === 'string';
}

// { conversations: [{id, title, created, messages}], current } with the newest first.
export function loadConversations() {
  const stored = read(CONVERSATIONS_KEY);
  const conversations = [];
  if (stored && Array.isArray(stored.conversations)) {
    for (const c of stored.conversations) {
      if (!c || typeof c.id !== 'string' || !Array.isArray(c.messages)) continue;
      conversations.push({
        id: c.id,
        title: typeof c.title === 'string' ? c.title : 'Conversation',
        created: Number(c.created) || 0,
        messages: c.messages.filter(validMessage),
      });
    }
  }
  const current = stored && typeof stored.current === 'string' ? stored.current : null;
  return { conversations, current };
}

export function saveConversations(state) {
  return write(CONVERSATIONS_KEY, { conversations: state.conversations, current: state.current });
}

export function newConversation() {
  const id = (crypto.randomUUID && crypto.randomUUID()) ||
    `c${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
  return { id, title: 'New chat', created: Date.now(), messages: [] };
}
