// The model card's Markdown, rendered as Preact elements (never as HTML).
import { html } from './vendor/htm-preact.js';

/** A small, safe Markdown subset (headings, lists, tables, paragraphs, code, bold): text is never inserted as HTML. */
export function Markdown({ source }) {
  const body = source.replace(/^---\n[\s\S]*?\n---\n/, '');
  const blocks = body.split(/\n{2,}/);
  const inline = (s) =>
    s
      .split(/(\*\*[^*]+\*\*|`[^`]+`)/)
      .map((p) =>
        p.startsWith('**')
          ? html`<strong>${p.slice(2, -2)}</strong>`
          : p.startsWith('`')
            ? html`<code>${p.slice(1, -1)}</code>`
            : p,
      );
  return html`<div class="markdown">
    ${blocks.map((b) => {
      const lines = b.split('\n');
      const h = /^(#{1,4}) (.*)$/.exec(lines[0]);
      if (h && lines.length === 1)
        return h[1].length <= 2 ? html`<h3>${inline(h[2])}</h3>` : html`<h4>${inline(h[2])}</h4>`;
      if (lines.every((l) => /^\s*[-*] /.test(l)))
        return html`<ul>
          ${lines.map((l) => html`<li>${inline(l.replace(/^\s*[-*] /, ''))}</li>`)}
        </ul>`;
      if (lines.length >= 2 && lines.every((l) => l.trim().startsWith('|'))) {
        const cells = (l) =>
          l
            .trim()
            .replace(/^\||\|$/g, '')
            .split('|')
            .map((x) => x.trim());
        const rows = lines.filter((l) => !/^\s*\|[\s:|-]+\|\s*$/.test(l));
        return html`<table>
          <thead>
            <tr>
              ${cells(rows[0]).map((x) => html`<th scope="col">${inline(x)}</th>`)}
            </tr>
          </thead>
          <tbody>
            ${rows.slice(1).map(
              (r) =>
                html`<tr>
                  ${cells(r).map((x) => html`<td>${inline(x)}</td>`)}
                </tr>`,
            )}
          </tbody>
        </table>`;
      }
      if (lines[0].startsWith('```')) return html`<pre><code>${lines.slice(1, -1).join('\n')}</code></pre>`;
      return html`<p>${inline(b)}</p>`;
    })}
  </div>`;
}
