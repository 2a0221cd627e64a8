/** What every report section is: an anchor, a title, and its HTML or the reason it is absent. */
import type { Json, RunFolder } from './run-folder.js';

export interface Section {
  id: string;
  title: string;
  html?: string;
  /** why the section is absent ("needs predictions.jsonl (missing)") */
  absent?: string;
}

/** A JSON object, or null for anything else. */
export const obj = (v: unknown): Json | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null);

/** "needs FILE (why it is not usable)". */
export const why = (f: RunFolder, file: string, extra = ''): string =>
  `needs ${file} (${f.problems[file] ?? 'not usable'})${extra}`;
