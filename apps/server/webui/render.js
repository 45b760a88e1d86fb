// Markdown → safe HTML for model output. The one path every assistant message takes, streamed or
// loaded from storage.
//
// Model output is untrusted: it must never run script or load anything. Three layers:
//  1. raw HTML in the markdown is not interpreted: marked's `html` tokens are rendered as
//     escaped text, so "<img src=x onerror=...>" shows as those characters;
//  2. markdown images become plain links (a picture would be a remote load);
//  3. the HTML marked produces goes through DOMPurify with a short list of tags and attributes
//     (no img, no style, no forms, no event handlers; links only http(s), mailto and #).
// The page's Content-Security-Policy (no inline script, images only from data:, connections
// only to this server) backs all three.

import { Marked } from './vendor/marked.esm.js';
import DOMPurify from './vendor/purify.es.mjs';

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const marked = new Marked({ gfm: true, breaks: true, async: false });
marked.use({
  renderer: {
    html({ text }) {
      return escapeHtml(text);
    },
    image({ href, text }) {
      const label = text ? `image: ${text}` : 'image';
      return `<a href="${escapeHtml(href || '')}">[${escapeHtml(label)}]</a>`;
    },
  },
});

const ALLOWED_TAGS = [
  'a', 'blockquote', 'br', 'code', 'del', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'li',
  'ol', 'p', 'pre', 'strong', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul',
];
const ALLOWED_ATTR = ['href', 'title', 'class', 'start', 'align'];

const purifier = DOMPurify(window);
purifier.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    // Links open elsewhere and tell nothing about this page.
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
  if (node.hasAttribute && node.hasAttribute('class')) {
    // Only marked's "language-xxx" on code blocks; no page styling from model output.
    const cls = node.getAttribute('class');
    if (!/^language-[\w+#.-]{1,40}$/.test(cls)) node.removeAttribute('class');
  }
});

const PURIFY_CONFIG = {
  ALLOWED_TAGS,
  ALLOWED_ATTR,
  ADD_ATTR: ['target', 'rel'],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
  ALLOW_DATA_ATTR: false,
};

// Sanitized HTML for markdown text.
export function markdownToSafeHtml(text) {
  let html;
  try {
    html = marked.parse(String(text ?? ''));
  } catch {
    html = `<pre>${escapeHtml(text)}</pre>`;
  }
  return purifier.sanitize(html, PURIFY_CONFIG);
}

// Renders markdown into `element` (replacing its content) and adds a copy button to each code
// block.
export function renderMarkdown(element, text) {
  element.innerHTML = markdownToSafeHtml(text);
  for (const pre of element.querySelectorAll('pre')) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'copy-code';
    button.textContent = 'Copy';
    button.addEventListener('click', async () => {
      const code = pre.querySelector('code');
      try {
        await navigator.clipboard.writeText(code ? code.textContent : pre.textContent);
        button.textContent = 'Copied';
      } catch {
        button.textContent = 'Copy failed';
      }
      setTimeout(() => { button.textContent = 'Copy'; }, 1500);
    });
    pre.prepend(button);
  }
}
