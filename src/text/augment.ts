/**
 * Augmentation that is safe for clinical text. EDA's operations (Wei & Zou 2019: WordNet synonym replacement,
 * random insertion of a synonym, random swap, random deletion) plus contextual substitution by a masked-LM (the
 * offline stand-in for back-translation; the model is passed in as a FillMask function) — but protected spans
 * are never changed, deleted or moved, and nothing is inserted inside or right beside them:
 *   - negation cues and their scope (NegEx-style triggers; the scope runs to the end of the clause; post-negations
 *     like "was ruled out" protect the words before them),
 *   - numbers with their units, number words, dose frequencies and routes,
 *   - drug names and stems, clinical abbreviations, all-caps words, a user list, laterality words,
 *   - PHI tags, and the label's own words.
 * Clinical words (WordNet senses that are diseases, symptoms, body parts, substances) are also never replaced by a
 * synonym or an MLM guess: their WordNet "synonyms" cross medical senses (rash → roseola).
 */
import { Generator } from '../tensor/random.js';
import { MedtuneError } from '../common/errors.js';
import {
  ABBREVIATIONS,
  DOSE_WORDS,
  isDrugName,
  NEGATION_POST,
  NEGATION_PRE,
  NUMBER_WORDS,
  PHI_TAG,
  SCOPE_TERMINATORS,
  STOP_WORDS,
  UNITS,
} from './lexicons.js';
import { isClinicalTerm, synonyms } from './wordnet.js';

export const AUGMENT_OPS = ['synonym', 'insert', 'swap', 'delete', 'contextual'] as const;
export type AugmentOp = (typeof AUGMENT_OPS)[number];

/** Masked-LM candidates for a word between `left` and `right` context, best first (whole words). */
export type FillMask = (items: { left: string; right: string }[]) => string[][];

export interface AugmentOptions {
  /** operations to draw from (default: the four EDA operations, plus contextual when fillMask is given) */
  ops?: AugmentOp[];
  /** share of a text's words an operation changes (EDA's α, default 0.1; at least one word) */
  alpha?: number;
  /** words never touched besides the built-in lists (drugs, abbreviations), any case */
  protect?: string[];
  /** the row's label: its words are protected */
  label?: string;
  fillMask?: FillMask;
}

interface Piece {
  text: string;
  kind: 'word' | 'space' | 'punct';
  protected: boolean;
}

const TOKEN = new RegExp(`(${PHI_TAG.source})|([\\p{L}\\p{N}]+(?:[/'’.\\-][\\p{L}\\p{N}]+)*%?)|(\\s+)|(.)`, 'gu');
const SENTENCE_END = /[.;:!?\n]/;
const LATERALITY = ['left', 'right', 'bilateral', 'unilateral', 'upper', 'lower', 'both', 'l', 'r'];
const cueWords = (list: string[]) => list.map((c) => c.split(' '));
const PRE = cueWords(NEGATION_PRE);
const POST = cueWords(NEGATION_POST);
const always = new Set([...DOSE_WORDS, ...ABBREVIATIONS, ...NUMBER_WORDS, ...LATERALITY]);
const units = new Set(UNITS);
const terminators = new Set(SCOPE_TERMINATORS);
const stop = new Set(STOP_WORDS);
const negationWords = new Set([...PRE.flat(), ...POST.flat()]);

export function tokenize(text: string): Piece[] {
  const out: Piece[] = [];
  for (const m of text.matchAll(TOKEN)) {
    const kind = m[1] || m[2] ? 'word' : m[3] ? 'space' : 'punct';
    out.push({ text: m[0], kind, protected: !!m[1] });
  }
  return out;
}

/** Index of the word pieces, and whether a sentence/clause boundary lies between consecutive words. */
function wordView(pieces: Piece[]): { idx: number[]; breakBefore: boolean[] } {
  const idx: number[] = [];
  const breakBefore: boolean[] = [];
  let sawBreak = true;
  pieces.forEach((p, i) => {
    if (p.kind === 'word') {
      idx.push(i);
      breakBefore.push(sawBreak);
      sawBreak = false;
    } else if (SENTENCE_END.test(p.text)) sawBreak = true;
  });
  return { idx, breakBefore };
}

function matchAt(words: string[], k: number, cue: string[]): boolean {
  return cue.every((c, j) => words[k + j] === c);
}

/**
 * Marks negation cues and their scopes: pre-negations forward to the end of the clause (sentence punctuation or a
 * terminator like "but", which is protected too), post-negations backward to its start. NegEx limits scopes to 5
 * words for detection; protection takes the whole clause, since a word swapped into the unprotected tail of a long
 * negated list would silently become negated.
 */
function protectNegations(words: string[], breakBefore: boolean[], mark: (k: number) => void): void {
  for (let k = 0; k < words.length; k++) {
    for (const cue of PRE) {
      if (!matchAt(words, k, cue)) continue;
      let j = k;
      for (; j < k + cue.length; j++) mark(j);
      for (; j < words.length && !breakBefore[j] && !terminators.has(words[j]!); j++) mark(j);
      if (j < words.length && !breakBefore[j]) mark(j); // the terminator stays, so nothing can move into the scope
    }
    for (const cue of POST) {
      if (!matchAt(words, k, cue)) continue;
      for (let j = k; j < k + cue.length; j++) mark(j);
      let j = k - 1;
      for (; j >= 0 && !breakBefore[j + 1] && !terminators.has(words[j]!); j--) mark(j);
      if (j >= 0 && !breakBefore[j + 1]) mark(j);
    }
  }
}

/** Sets `protected` on every word piece that must not change or move. */
export function markProtected(pieces: Piece[], o: Pick<AugmentOptions, 'protect' | 'label'> = {}): Piece[] {
  const { idx, breakBefore } = wordView(pieces);
  const words = idx.map((i) => pieces[i]!.text.toLowerCase());
  const user = new Set((o.protect ?? []).map((w) => w.toLowerCase()));
  const labelStems = (o.label ?? '')
    .toLowerCase()
    .split(/[^\p{L}]+/u)
    .filter((w) => w.length >= 3)
    .map((w) => w.slice(0, Math.max(4, w.length - 3))); // psoriasis → psoria: psoriatic too
  const mark = (k: number) => {
    if (k >= 0 && k < idx.length) pieces[idx[k]!]!.protected = true;
  };
  const isNumber = (w: string) => /\p{N}/u.test(w) || NUMBER_WORDS.includes(w);
  words.forEach((w, k) => {
    const raw = pieces[idx[k]!]!.text;
    if (isNumber(w)) {
      mark(k);
      if (units.has(words[k + 1] ?? '') || always.has(words[k + 1] ?? '')) mark(k + 1);
    }
    if (always.has(w) || user.has(w) || isDrugName(w) || (/\p{Lu}.*\p{Lu}/u.test(raw) && raw === raw.toUpperCase()))
      mark(k);
    if (labelStems.some((s) => w.startsWith(s))) mark(k);
  });
  protectNegations(words, breakBefore, mark);
  return pieces;
}

const capitalise = (model: string, w: string) => (/^\p{Lu}/u.test(model) ? w[0]!.toUpperCase() + w.slice(1) : w);

/** A usable replacement: letters only (one or two words), no negation, not the word itself. */
function usable(cand: string, word: string): boolean {
  return (
    /^\p{L}+(?: \p{L}+)?$/u.test(cand) &&
    cand.toLowerCase() !== word.toLowerCase() &&
    !cand.split(' ').some((w) => negationWords.has(w))
  );
}

/** Word indices an operation may change: unprotected, and (for replacement) not stop words or clinical terms. */
function candidates(pieces: Piece[], idx: number[], forReplacement: boolean): number[] {
  return idx.filter((i) => {
    const p = pieces[i]!;
    if (p.protected) return false;
    if (!forReplacement) return true;
    const w = p.text.toLowerCase();
    return /^\p{L}+$/u.test(w) && !stop.has(w) && !isClinicalTerm(w);
  });
}

function pick<T>(xs: T[], gen: Generator): T {
  return xs[Math.floor(gen.uniform() * xs.length)]!;
}

function sample<T>(xs: T[], n: number, gen: Generator): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(gen.uniform() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, n);
}

type OpFn = (pieces: Piece[], n: number, gen: Generator, o: AugmentOptions) => number;

const synonymOp: OpFn = (pieces, n, gen) => {
  const { idx } = wordView(pieces);
  let changed = 0;
  for (const i of sample(candidates(pieces, idx, true), Infinity, gen)) {
    if (changed >= n) break;
    const syns = synonyms(pieces[i]!.text).filter((s) => usable(s, pieces[i]!.text));
    if (!syns.length) continue;
    pieces[i]!.text = capitalise(pieces[i]!.text, pick(syns, gen));
    changed++;
  }
  return changed;
};

/** Insertion points: after word k, when word k and word k+1 (if any) are both unprotected. */
function insertionPoints(pieces: Piece[], idx: number[]): number[] {
  return idx.filter((i, k) => !pieces[i]!.protected && (k + 1 >= idx.length || !pieces[idx[k + 1]!]!.protected));
}

const insertOp: OpFn = (pieces, n, gen) => {
  let changed = 0;
  for (let tries = 0; changed < n && tries < 4 * n + 8; tries++) {
    const { idx } = wordView(pieces);
    const sources = candidates(pieces, idx, true);
    const points = insertionPoints(pieces, idx);
    if (!sources.length || !points.length) break;
    const src = pick(sources, gen);
    const syns = synonyms(pieces[src]!.text).filter((s) => usable(s, pieces[src]!.text));
    if (!syns.length) continue;
    const at = pick(points, gen);
    pieces.splice(
      at + 1,
      0,
      { text: ' ', kind: 'space', protected: false },
      { text: pick(syns, gen), kind: 'word', protected: false },
    );
    changed++;
  }
  return changed;
};

const swapOp: OpFn = (pieces, n, gen) => {
  const free = candidates(pieces, wordView(pieces).idx, false);
  if (free.length < 2) return 0;
  let changed = 0;
  for (let s = 0; s < n; s++) {
    const [a, b] = sample(free, 2, gen) as [number, number];
    if (pieces[a]!.text.toLowerCase() === pieces[b]!.text.toLowerCase()) continue;
    [pieces[a]!.text, pieces[b]!.text] = [pieces[b]!.text, pieces[a]!.text];
    changed++;
  }
  return changed;
};

const deleteOp: OpFn = (pieces, n, gen, o) => {
  const { idx } = wordView(pieces);
  const free = candidates(pieces, idx, false);
  const p = Math.max(o.alpha ?? 0.1, n / Math.max(1, idx.length));
  let drop = new Set(free.filter(() => gen.uniform() < p));
  if (drop.size >= idx.length) drop = new Set([...drop].slice(1));
  if (!drop.size && free.length && idx.length > 1) drop = new Set([pick(free, gen)]);
  // remove each dropped word with the space before it (or after it, at the start)
  for (const i of [...drop].sort((a, b) => b - a)) {
    const before = pieces[i - 1]?.kind === 'space' ? i - 1 : -1;
    const after = pieces[i + 1]?.kind === 'space' ? i + 1 : -1;
    if (before >= 0) pieces.splice(before, 2);
    else if (after >= 0) pieces.splice(i, 2);
    else pieces.splice(i, 1);
  }
  return drop.size;
};

const contextualOp: OpFn = (pieces, n, gen, o) => {
  if (!o.fillMask)
    throw new MedtuneError('contextual substitution needs a model with a masked-LM head (--model DIR)', 'E_USAGE');
  const targets = sample(candidates(pieces, wordView(pieces).idx, true), n, gen);
  if (!targets.length) return 0;
  const join = (a: number, b: number) =>
    pieces
      .slice(a, b)
      .map((p) => p.text)
      .join('');
  const preds = o.fillMask(targets.map((i) => ({ left: join(0, i), right: join(i + 1, pieces.length) })));
  let changed = 0;
  targets.forEach((i, t) => {
    const good = (preds[t] ?? [])
      .filter((c) => usable(c, pieces[i]!.text) && !stop.has(c) && !isClinicalTerm(c))
      .slice(0, 5);
    if (!good.length) return;
    pieces[i]!.text = capitalise(pieces[i]!.text, pick(good, gen));
    changed++;
  });
  return changed;
};

const OPS: Record<AugmentOp, OpFn> = {
  synonym: synonymOp,
  insert: insertOp,
  swap: swapOp,
  delete: deleteOp,
  contextual: contextualOp,
};

export interface Augmented {
  text: string;
  /** operations applied, e.g. ["synonym:2"] */
  ops: string[];
}

/**
 * Up to `count` distinct augmentations of one text, each by one operation drawn from `ops` (an operation that finds
 * nothing to change is replaced by another draw). Fewer come back when the text offers too little to change.
 */
export function augmentText(text: string, count: number, gen: Generator, o: AugmentOptions = {}): Augmented[] {
  const ops = o.ops ?? (o.fillMask ? [...AUGMENT_OPS] : AUGMENT_OPS.filter((x) => x !== 'contextual'));
  const base = markProtected(tokenize(text), o);
  const nWords = base.filter((p) => p.kind === 'word').length;
  const n = Math.max(1, Math.round((o.alpha ?? 0.1) * nWords));
  const seen = new Set([text]);
  const out: Augmented[] = [];
  for (let tries = 0; out.length < count && tries < count * 4; tries++) {
    const op = pick(ops, gen);
    const pieces = base.map((p) => ({ ...p }));
    const changed = OPS[op](pieces, n, gen, o);
    const t = pieces.map((p) => p.text).join('');
    if (!changed || seen.has(t)) continue;
    seen.add(t);
    out.push({ text: t, ops: [`${op}:${changed}`] });
  }
  return out;
}

/** An augmentation count: 1..100 per example (more gives near-copies, not information). */
export function checkAugmentCount(n: number, option = '--augment'): void {
  if (!Number.isInteger(n) || n < 1)
    throw new MedtuneError(
      `${option} must be a whole number of augmented copies per example, at least 1; got ${n}`,
      'E_USAGE',
    );
  if (n > 100)
    throw new MedtuneError(
      `${option} ${n} is too many: more than 100 copies of each example are near-duplicates (EDA uses 4–16); ` +
        'use at most 100',
      'E_USAGE',
    );
}

/** Parses `--augment-ops` (default: the four EDA operations); contextual needs a model with a masked-LM head. */
export function parseAugmentOps(spec: string | undefined): AugmentOp[] {
  if (!spec) return AUGMENT_OPS.filter((x) => x !== 'contextual');
  const ops = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const op of ops)
    if (!(AUGMENT_OPS as readonly string[]).includes(op))
      throw new MedtuneError(`--augment-ops: unknown operation "${op}" (${AUGMENT_OPS.join(', ')})`, 'E_USAGE');
  if (!ops.length) throw new MedtuneError('--augment-ops is empty', 'E_USAGE');
  return ops as AugmentOp[];
}
