/** HTML building blocks of the report pages: escaping, numbers, tables, the page shell (no script, no network). */
import { escapeHtml } from '../infer/explain-html.js';

export const esc = escapeHtml;

/** A number for people: fixed decimals, "–" when there is none. */
export function num(v: unknown, digits = 4): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '–';
}

export const pct = (v: unknown, digits = 1): string =>
  typeof v === 'number' && Number.isFinite(v) ? `${(100 * v).toFixed(digits)} %` : '–';

export const interval = (ci: [number, number] | undefined, digits = 3): string =>
  ci && Number.isFinite(ci[0]) ? `[${ci[0].toFixed(digits)}, ${ci[1].toFixed(digits)}]` : '–';

/** A table from a header and rows of already-escaped cells. */
export interface TableOptions {
  cls?: string;
  /** tabular figures (default true) */
  numeric?: boolean;
  /** a class for the cells of each column */
  cellClass?: (string | undefined)[];
}

export function table(head: string[], rows: string[][], o: TableOptions = {}): string {
  const cls = [o.cls, o.numeric !== false ? 'num' : ''].filter(Boolean).join(' ');
  const td = (c: string, j: number) => (o.cellClass?.[j] ? `<td class="${o.cellClass[j]}">${c}</td>` : `<td>${c}</td>`);
  // wide tables scroll inside their own box: the page itself never scrolls sideways on a phone
  return (
    `<div class="scroll"><table${cls ? ` class="${cls}"` : ''}><thead><tr>` +
    `${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead>` +
    `<tbody>${rows.map((r) => `<tr>${r.map(td).join('')}</tr>`).join('')}</tbody></table></div>`
  );
}

/** A two-column table of names and values (no header row). */
export const kv = (rows: [string, string][]): string =>
  `<div class="scroll"><table>${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table></div>`;

/** A collapsed block (works without script). */
export const details = (summary: string, body: string): string =>
  `<details><summary>${summary}</summary>${body}</details>`;

export const figure = (svg: string, caption: string): string =>
  `<figure>${svg}<figcaption>${caption}</figcaption></figure>`;

const CSS = `
body{font:14px/1.55 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:72rem;margin:1.5rem auto;
padding:0 1rem;color:#111;overflow-wrap:break-word}
h1{font-size:1.5rem;margin-bottom:.2rem}
h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
h3{font-size:1rem;margin:1.2rem 0 .4rem}small,.muted{color:#555}
.warn{background:#fff7e6;border:1px solid #f0c36d;padding:.6rem .9rem;border-radius:6px}
.bad{background:#fdecec;border:1px solid #e8a3a3;padding:.6rem .9rem;border-radius:6px}
.ok{background:#ecfdf3;border:1px solid #9fd8b5;padding:.6rem .9rem;border-radius:6px}
table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f7f9}table.num td{font-variant-numeric:tabular-nums}
td.text{max-width:40rem;white-space:pre-wrap;word-break:break-word}
figure{display:inline-block;margin:.5rem 1rem .5rem 0;vertical-align:top;max-width:100%}
figure svg{display:block;max-width:100%;height:auto}
figcaption{font-size:.8rem;color:#555;max-width:36rem}
.scroll{overflow-x:auto;max-width:100%}
code{background:#f3f4f6;padding:0 .25rem;border-radius:3px;word-break:break-all}
nav ol{columns:2;font-size:.9rem}details{margin:.4rem 0}summary{cursor:pointer;color:#1d4ed8}
.flag{color:#b91c1c;font-weight:600}.better{color:#1d4ed8;font-weight:600}section.absent p{color:#555}
@media (max-width:40rem){body{margin:.8rem auto;padding:0 .6rem}nav ol{columns:1}figure{margin:.5rem 0}}
`;

/** The whole page: a strict content policy (no script, nothing fetched), inline styles, the body. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style></head><body>
${body}
</body></html>
`;
}
