/** Runs the recognisers, applies allow/deny lists and resolves overlaps into a clean list of entities. */
import { ALL_RECOGNIZERS, type Finding, type Recognizer } from './recognizers.js';
import { gazetteers } from './gazetteers.js';

function isPlace(line: string): boolean {
  const g = gazetteers();
  const words = line.toLowerCase().replace(/\s\d{3,6}$/, '');
  return g.places.has(words);
}

export interface Entity {
  type: string;
  start: number;
  end: number;
  score: number;
  text: string;
  recognizer: string;
}

export interface AnalyzeOptions {
  /** words that are never PHI on their own (disease eponyms by default) */
  allowList?: string[];
  /** strings always reported (type DENY) */
  denyList?: string[];
  /** findings below this score are dropped (default 0.4) */
  threshold?: number;
  recognizers?: Recognizer[];
}

/** Disease and test eponyms that look like surnames and are (almost) never a person in a note. */
export const DEFAULT_ALLOW = [
  'parkinson',
  "parkinson's",
  'hodgkin',
  "hodgkin's",
  'crohn',
  "crohn's",
  'alzheimer',
  "alzheimer's",
  'addison',
  "addison's",
  'cushing',
  "cushing's",
  'hashimoto',
  "hashimoto's",
  'huntington',
  "huntington's",
  'raynaud',
  "raynaud's",
  'sjogren',
  'sjögren',
  "sjögren's",
  'kaposi',
  'tourette',
  "tourette's",
  'asperger',
  "asperger's",
  'guillain',
  'barré',
  'barre',
  'apgar',
  'glasgow',
  'babinski',
  'foley',
  'gleason',
  'whipple',
  'epley',
  'heimlich',
  'doppler',
  'holter',
  'nissen',
  'kernig',
  'brudzinski',
  'lyme',
  'ebola',
  'zika',
  'marburg',
  'coxsackie',
  'epstein',
  'legionella',
  'kawasaki',
  'guthrie',
  'schilling',
  'wegener',
  "wegener's",
  'bence',
];

const defaultAllow = new Set(DEFAULT_ALLOW);
const allowSets = new WeakMap<string[], Set<string>>();

/** The allow set for a user list, built once per list (analyze() runs once per row in `medtune deid`). */
function allowSet(list: string[] | undefined): Set<string> {
  if (!list || list.length === 0) return defaultAllow;
  let s = allowSets.get(list);
  if (!s) allowSets.set(list, (s = new Set([...DEFAULT_ALLOW, ...list.map((w) => w.toLowerCase())])));
  return s;
}

export function analyze(text: string, o: AnalyzeOptions = {}): Entity[] {
  const allow = allowSet(o.allowList);
  const threshold = o.threshold ?? 0.4;
  const findings: Finding[] = [];
  for (const r of o.recognizers ?? ALL_RECOGNIZERS) findings.push(...r(text, { allow }));
  for (const d of o.denyList ?? []) {
    if (!d) continue;
    let i = text.indexOf(d);
    while (i >= 0) {
      findings.push({ type: 'DENY', start: i, end: i + d.length, score: 1, recognizer: 'deny_list' });
      i = text.indexOf(d, i + d.length);
    }
  }
  // overlaps: highest score wins, then the longer span; a weaker finding overlapping a kept one is dropped
  const sorted = findings
    .filter((f) => f.score >= threshold && f.end > f.start)
    .sort((a, b) => b.score - a.score || b.end - b.start - (a.end - a.start) || a.start - b.start);
  // owner[i] = index in `kept` of the entity covering character i (-1: free); O(total span length)
  const owner = new Int32Array(text.length).fill(-1);
  const kept: Finding[] = [];
  for (const f of sorted) {
    let clashIdx = -1;
    for (let i = f.start; i < f.end; i++)
      if (owner[i]! >= 0) {
        clashIdx = owner[i]!;
        break;
      }
    if (clashIdx < 0) {
      kept.push(f);
      owner.fill(kept.length - 1, f.start, f.end);
      continue;
    }
    const clash = kept[clashIdx]!;
    // same entity seen wider by a weaker recogniser: widen when the types agree and the extra part is free
    if (f.type === clash.type && (f.start < clash.start || f.end > clash.end)) {
      let free = true;
      for (let i = f.start; i < f.end && free; i++) if (owner[i]! >= 0 && owner[i] !== clashIdx) free = false;
      if (free) {
        clash.start = Math.min(clash.start, f.start);
        clash.end = Math.max(clash.end, f.end);
        owner.fill(clashIdx, clash.start, clash.end);
      }
    }
  }
  // multi-line addresses: carry an address over following short lines that look like its parts
  // (unit, city in capitals, a place, a postcode, a country)
  for (const f of kept) {
    if (f.type !== 'ADDRESS') continue;
    for (let k = 0; k < 4; k++) {
      const m = /^[ \t]*,?[ \t]*\n[ \t]*,?[ \t]*([^\n]{1,60})/.exec(text.slice(f.end, f.end + 80));
      if (!m) break;
      const line = m[1]!.trim();
      if (
        !/\d/.test(line) &&
        line !== line.toUpperCase() &&
        !/^(?:apt|suite|unit|p\.?o\.? box)/i.test(line) &&
        !isPlace(line)
      )
        break;
      f.end += m[0].length;
    }
  }
  return kept
    .sort((a, b) => a.start - b.start)
    .map((f) => ({
      type: f.type,
      start: f.start,
      end: f.end,
      score: f.score,
      text: text.slice(f.start, f.end),
      recognizer: f.recognizer,
    }));
}
