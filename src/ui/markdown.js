// The model card's Markdown: parsed by marked (GitHub-flavoured Markdown) and sanitised by DOMPurify before it
// reaches the page, so that a card can neither run code nor load anything (links to javascript: and the like go).
// HTML written into the card is shown as text, never parsed; no inline styles survive (the Content-Security-Policy
// forbids them). The card's headings are moved two levels down, under the page's own.
import { html } from './vendor/htm-preact.js';
import { Marked } from './vendor/marked.js';
import DOMPurify from './vendor/purify.js';

const escapeHtml = (s) =>
  s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]);

const marked = new Marked({
  gfm: true,
  walkTokens: (t) => {
    if (t.type === 'heading') t.depth = Math.min(6, t.depth + 2);
  },
  renderer: {
    html: ({ text }) => escapeHtml(text),
  },
});

const PURIFY = {
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'img'],
  FORBID_ATTR: ['style', 'id', 'class'],
};

// a card's wide tables scroll inside the card on a phone: reachable by keyboard too
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.nodeName === 'TABLE') node.setAttribute('tabindex', '0');
});

/** The sanitised HTML of a card's Markdown (its YAML front matter left out). */
export function cardHtml(source) {
  const body = source.replace(/^---\n[\s\S]*?\n---\n/, '');
  return DOMPurify.sanitize(marked.parse(body), PURIFY);
}

export function Markdown({ source }) {
  return html`<div
    class="markdown"
    data-testid="markdown"
    dangerouslySetInnerHTML=${{ __html: cardHtml(source) }}
  ></div>`;
}
