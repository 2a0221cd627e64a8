/**
 * Spelling correction in the style of SymSpell (Garbe): a lexicon of frequency-ranked words from the training
 * corpus and the model's vocabulary, indexed by their deletions up to edit distance 2, so a misspelt word finds its
 * candidates by looking up its own deletions; the nearest (optimal string alignment distance) and then most
 * frequent candidate wins. Known words — the lexicon, ~275,000 English words, WordNet 3.1's lemmas, a user list —
 * are never changed, and neither are numbers or words next to digits, units, dose words, abbreviations (all-caps
 * words and the clinical list), drug names, contractions, PHI tags, or words shorter than 4 letters. Distance 2 is
 * allowed only for words of 8 letters or more, and a candidate must be clearly more frequent than the word itself.
 */
import { readFailure } from '../common/atomic.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { englishLexicon } from './clean.js';
import { wordnetLemmas } from './wordnet.js';
import { ABBREVIATIONS, DOSE_WORDS, isDrugName, PHI_TAG, UNITS } from './lexicons.js';

export interface LexiconSources {
  /** texts of the training corpus (word counts) */
  corpus?: string[];
  /** whole words of the model's vocabulary (model folder: modelVocabWords) */
  vocab?: string[];
  /** a user lexicon: word → count (readLexiconFile) */
  user?: Map<string, number>;
  /** corpus words seen fewer times than this (and in no other source) are not trusted as correct (default 3) */
  minCount?: number;
  /** also treat English words and WordNet lemmas as known (default true) */
  dictionaries?: boolean;
}

/** Vocabulary entries count as this many occurrences: WordPiece/BPE vocabularies keep frequent words. */
const VOCAB_COUNT = 5;
const WORD = /\p{L}+(?:['’]\p{L}+)*/gu;

export class Lexicon {
  /** candidate words (lower case) with their frequency */
  readonly counts = new Map<string, number>();
  /** how often each corpus word was seen (typos included) */
  readonly corpusCounts = new Map<string, number>();
  private readonly dictionaries: boolean;

  constructor(o: LexiconSources) {
    for (const t of o.corpus ?? []) {
      for (const m of t.matchAll(WORD)) {
        const w = m[0].toLowerCase();
        this.corpusCounts.set(w, (this.corpusCounts.get(w) ?? 0) + 1);
      }
    }
    const min = o.minCount ?? 3;
    for (const [w, c] of this.corpusCounts) if (c >= min) this.counts.set(w, c);
    for (const v of o.vocab ?? []) {
      const w = v.toLowerCase();
      if (/^\p{L}{2,}$/u.test(w))
        this.counts.set(w, (this.counts.get(w) ?? this.corpusCounts.get(w) ?? 0) + VOCAB_COUNT);
    }
    for (const [w, c] of o.user ?? []) this.counts.set(w.toLowerCase(), (this.counts.get(w.toLowerCase()) ?? 0) + c);
    this.dictionaries = o.dictionaries ?? true;
  }

  /** A word that is never corrected. */
  known(word: string): boolean {
    const w = word.toLowerCase();
    if (this.counts.has(w)) return true;
    return this.dictionaries && (englishLexicon().has(w) || wordnet().has(w));
  }
}

let lemmas: Set<string> | null = null;
const wordnet = () => (lemmas ??= wordnetLemmas());

/** Reads a lexicon file: one word per line, optionally followed by a tab or space and a count; # comments. */
export function readLexiconFile(file: string): Map<string, number> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new MedtuneError(`cannot read the lexicon ${file}: ${readFailure(e)}`, 'E_LEXICON');
  }
  if (text.includes('\u0000'))
    throw new MedtuneError(`the lexicon ${file} is a binary file, not a word list`, 'E_LEXICON');
  const out = new Map<string, number>();
  text.split('\n').forEach((line, i) => {
    const l = line.trim();
    if (!l || l.startsWith('#')) return;
    const [w, c] = l.split(/[\t ]+/);
    const n = c === undefined ? 1 : Number(c);
    if (!Number.isFinite(n) || n < 0)
      throw new MedtuneError(`${file} line ${i + 1}: the count must be a number`, 'E_LEXICON');
    out.set(w!, n);
  });
  if (!out.size) throw new MedtuneError(`the lexicon ${file} has no words`, 'E_LEXICON');
  return out;
}

/** Whole words of a model folder's vocabulary (WordPiece vocab.txt or tokenizer.json; BPE "Ġword" entries). */
export function modelVocabWords(dir: string): string[] {
  const tj = path.join(dir, 'tokenizer.json');
  let tokens: string[] = [];
  if (existsSync(tj)) {
    const vocab = (
      JSON.parse(readFileSync(tj, 'utf8')) as { model?: { vocab?: Record<string, number> | [string, number][] } }
    ).model?.vocab;
    tokens = Array.isArray(vocab) ? vocab.map((v) => v[0]) : Object.keys(vocab ?? {});
  } else if (existsSync(path.join(dir, 'vocab.txt')))
    tokens = readFileSync(path.join(dir, 'vocab.txt'), 'utf8').split('\n');
  return tokens
    .filter((t) => !t.startsWith('##'))
    .map((t) => t.replace(/^Ġ/, ''))
    .filter((t) => /^\p{L}{2,}$/u.test(t));
}

/** Optimal string alignment distance (Damerau–Levenshtein with adjacent transpositions), capped at max + 1. */
export function editDistance(a: string, b: string, max = 2): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const n = b.length;
  let prev2 = new Array<number>(n + 1).fill(0);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2]! + 1);
      cur.push(v);
      rowMin = Math.min(rowMin, v);
    }
    if (rowMin > max) return max + 1;
    prev2 = prev;
    prev = cur;
  }
  return prev[n]!;
}

function deletes(w: string, d: number, out: Set<string>): void {
  if (d === 0) return;
  for (let i = 0; i < w.length; i++) {
    const x = w.slice(0, i) + w.slice(i + 1);
    if (!out.has(x)) {
      out.add(x);
      deletes(x, d - 1, out);
    }
  }
}

export interface SpellChange {
  start: number;
  end: number;
  from: string;
  to: string;
  distance: number;
  /**
   * false: listed, not applied — another dictionary word is as close as `to` ("productve": produce or productive?),
   * so the correction could change the meaning, and no context model agreed with it
   */
  applied?: boolean;
  /** the other dictionary words as close as the correction (when not applied) */
  alternatives?: string[];
}

/**
 * Picks among a correction and its equally close alternatives from the words around it (a masked LM, say); returns
 * the word it prefers, or null when it cannot tell.
 */
export type ContextScorer = (text: string, start: number, end: number, options: string[]) => string | null;

const ALPHA = 'abcdefghijklmnopqrstuvwxyz';
/** Dictionary words (English, WordNet) one edit from a word. */
function dictionaryNeighbours(w: string, known: (x: string) => boolean): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i <= w.length; i++) {
    const [a, b] = [w.slice(0, i), w.slice(i)];
    const cands = [b ? a + b.slice(1) : '', b.length > 1 ? a + b[1] + b[0] + b.slice(2) : ''];
    for (const c of ALPHA) cands.push(a + c + b, b ? a + c + b.slice(1) : '');
    for (const x of cands) if (x.length > 2 && x !== w && known(x)) out.add(x);
  }
  return out;
}

const guarded = new Set([...UNITS, ...DOSE_WORDS, ...ABBREVIATIONS]);

export class SpellCorrector {
  private readonly index = new Map<string, string[]>();

  constructor(
    readonly lexicon: Lexicon,
    readonly maxDistance = 2,
    /** decides corrections that could change the meaning (none: they are listed, not applied) */
    readonly context?: ContextScorer,
  ) {
    for (const w of lexicon.counts.keys()) {
      const ds = new Set<string>([w]);
      deletes(w, maxDistance, ds);
      for (const d of ds) {
        const list = this.index.get(d);
        if (list) list.push(w);
        else this.index.set(d, [w]);
      }
    }
  }

  /** The correction of one lower-case word, or null. */
  suggest(word: string): { to: string; distance: number } | null {
    const max = Math.min(this.maxDistance, word.length >= 8 ? 2 : 1);
    const own = this.lexicon.corpusCounts.get(word) ?? 0;
    const ds = new Set<string>([word]);
    deletes(word, max, ds);
    let best: { to: string; distance: number; count: number } | null = null;
    for (const d of ds) {
      for (const c of this.index.get(d) ?? []) {
        const count = this.lexicon.counts.get(c)!;
        if (count < 2 * (own + 1)) continue;
        const dist = editDistance(word, c, max);
        if (dist > max) continue;
        if (!best || dist < best.distance || (dist === best.distance && count > best.count))
          best = { to: c, distance: dist, count };
      }
    }
    return best && { to: best.to, distance: best.distance };
  }

  /**
   * Dictionary words other than the suggestion that are as close to the word: a correction with rivals could turn the
   * word into another valid word than the writer meant ("productve" -> "produce" beside "productive").
   */
  private rivals(word: string, s: { to: string; distance: number }): string[] {
    // one edit away: any dictionary word is closer than a 2-edit suggestion; at 1 edit, a rival must be as frequent
    // a word as the suggestion is (in the lexicon's counts), not an obscure dictionary entry ("patinet": "satinet")
    const known = (x: string) => (s.distance >= 2 ? this.lexicon.known(x) : this.lexicon.counts.has(x));
    const near = dictionaryNeighbours(word, known);
    near.delete(s.to);
    return [...near].sort();
  }

  /** Whether a word at [start, end) of text may be corrected at all. */
  private eligible(text: string, w: string, start: number, end: number, phi: [number, number][]): boolean {
    if (w.length < 4 || /['’]/.test(w)) return false;
    if (/\p{Lu}/u.test(w.slice(1)) || guarded.has(w.toLowerCase()) || isDrugName(w)) return false;
    if (/[\p{N}_/]/u.test(text[start - 1] ?? '') || /[\p{N}_/]/u.test(text[end] ?? '')) return false;
    if (phi.some(([a, b]) => start < b && end > a)) return false;
    return !this.lexicon.known(w);
  }

  correct(text: string): { text: string; changes: SpellChange[] } {
    const phi = [...text.matchAll(PHI_TAG)].map((m) => [m.index!, m.index! + m[0].length] as [number, number]);
    const changes: SpellChange[] = [];
    for (const m of text.matchAll(WORD)) {
      const w = m[0];
      const start = m.index!;
      if (!this.eligible(text, w, start, start + w.length, phi)) continue;
      const s = this.suggest(w.toLowerCase());
      if (!s) continue;
      const cap = (x: string) => (/^\p{Lu}/u.test(w) ? x[0]!.toUpperCase() + x.slice(1) : x);
      const change: SpellChange = { start, end: start + w.length, from: w, to: cap(s.to), distance: s.distance };
      const others = this.rivals(w.toLowerCase(), s);
      if (others.length) {
        const pick = this.context?.(text, start, start + w.length, [s.to, ...others]) ?? null;
        if (pick) change.to = cap(pick);
        else Object.assign(change, { applied: false, alternatives: others });
      }
      changes.push(change);
    }
    let out = text;
    for (const c of [...changes].reverse())
      if (c.applied !== false) out = out.slice(0, c.start) + c.to + out.slice(c.end);
    return { text: out, changes };
  }
}
