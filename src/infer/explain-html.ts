/**
 * Explanations as a self-contained HTML page, readable without any script: every word highlighted green (speaks for
 * the label) or red (against it), its opacity by the size of its score; the score in a tooltip.
 */
import type { Explanation } from './explain.js';

export const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** One explanation as HTML: the text with its words highlighted (gaps between words kept as they were). */
export function highlightedText(e: Explanation): string {
  const max = Math.max(1e-12, ...e.words.map((w) => Math.abs(w.score)));
  let html = '';
  let pos = 0;
  for (const w of e.words) {
    html += escapeHtml(e.text.slice(pos, w.start));
    const a = Math.min(1, Math.abs(w.score) / max) * 0.75;
    const bg = w.score >= 0 ? `rgba(22,163,74,${a.toFixed(3)})` : `rgba(220,38,38,${a.toFixed(3)})`;
    html +=
      `<span class="w" style="background:${bg}" title="${w.score >= 0 ? '+' : ''}${w.score.toFixed(4)}">` +
      `${escapeHtml(e.text.slice(w.start, w.end))}</span>`;
    pos = w.end;
  }
  return html + escapeHtml(e.text.slice(pos));
}

export function explanationsHtml(
  items: { row: number; explanation: Explanation }[],
  o: { model: string; version: string },
): string {
  const rows = items
    .map(
      ({ row, explanation: e }) =>
        '<section>\n' +
        `<h2>Row ${row}: ${escapeHtml(e.label)} <small>probability ${(100 * e.probability).toFixed(1)}% ` +
        `(without the words: ${(100 * e.baseline_probability).toFixed(1)}%)</small></h2>\n` +
        `<p class="text">${highlightedText(e)}</p>\n` +
        `<p class="meta">scores sum to ${e.total.toFixed(4)} ` +
        `(completeness error ${e.completeness_error.toExponential(1)}, ${e.steps} steps)` +
        (e.truncated_tokens ? `; ${e.truncated_tokens} tokens were cut by truncation and are not explained` : '') +
        '</p>\n' +
        '</section>',
    )
    .join('\n');
  return (
    '<!doctype html>\n' +
    '<html lang="en"><head><meta charset="utf-8"><title>medtune explanations</title>\n' +
    '<style>\n' +
    'body{font:15px/1.6 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}\n' +
    'h1{font-size:1.4rem}h2{font-size:1.05rem;margin:1.5rem 0 .3rem}small{color:#555;font-weight:normal}\n' +
    '.text{border:1px solid #ddd;border-radius:6px;padding:.6rem .8rem}.w{border-radius:3px;padding:0 1px}\n' +
    '.meta{color:#555;font-size:.85rem}' +
    '.note{background:#fff7e6;border:1px solid #f0c36d;padding:.5rem .8rem;border-radius:6px}\n' +
    '.legend span{padding:0 .4rem;border-radius:3px}\n' +
    '</style></head><body>\n' +
    '<h1>Why the model said what it said</h1>\n' +
    '<p class="note">Decision support for clinicians, not a diagnosis; not clinically validated. ' +
    'This page contains the texts it explains: it is as sensitive as they are.</p>\n' +
    `<p class="legend">Model ${escapeHtml(o.model)} (version ${escapeHtml(o.version)}). ` +
    'Integrated gradients over the word embeddings:\n' +
    '<span style="background:rgba(22,163,74,.6)">green</span> words raised the log-probability of the label, ' +
    '<span style="background:rgba(220,38,38,.6)">red</span> words lowered it;\n' +
    'stronger colour, larger effect (hover for the score).</p>\n' +
    `${rows}\n` +
    '</body></html>\n'
  );
}
