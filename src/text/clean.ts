/**
 * Text cleaning, the same at training and serving time: Unicode normalisation (NFKC), control characters,
 * whitespace, line-break repair (hard-wrapped lines joined, words hyphenated across a line break rejoined), and
 * options that are off by default: lower-casing (only allowed where the tokenizer lower-cases anyway, so it changes
 * nothing the model sees except for the spelling lexicon) and stop-word removal (hurts transformers, which read
 * function words as syntax, and the usual lists drop "no"/"not"; medtune's never drops negations).
 *
 * Spelling correction (spell.ts) is separate: it needs a lexicon, so it runs in `medtune clean`, not at serving.
 * `applyPreprocessing` is what the Predictor calls for every text when a model's config.json has
 * `medtune.preprocessing`.
 */
import { createRequire } from 'node:module';
import { MedtuneError } from '../common/errors.js';
import { NEGATION_PRE, STOP_WORDS } from './lexicons.js';

export interface CleanOptions {
  /** NFKC: compatibility forms (ﬁ, full-width letters, non-breaking spaces) become their plain equivalents */
  unicode?: boolean;
  /** control characters (C0/C1 except tab and line feed) removed */
  controls?: boolean;
  /** spaces of every kind become one space, zero-width characters go, lines are trimmed */
  whitespace?: boolean;
  /** CRLF → LF, hard-wrapped lines joined, "hyper-\ntension" → "hypertension", blank-line runs capped at one */
  linebreaks?: boolean;
  /** lower-case everything (only where the tokenizer does it anyway) */
  lowercase?: boolean;
  /** drop stop words, negations excepted (off by default: it hurts transformers) */
  stopwords?: boolean;
}

/** Options of text preparation a model was trained with; predict and the server apply the same. */
export interface PreprocessingOptions {
  clean?: CleanOptions;
}

export const CLEAN_STEPS = ['unicode', 'controls', 'whitespace', 'linebreaks', 'lowercase', 'stopwords'] as const;
export type CleanStep = (typeof CLEAN_STEPS)[number];

/** What `--clean` without a list does: the safe, meaning-preserving steps. */
export const DEFAULT_CLEAN: CleanOptions = { unicode: true, controls: true, whitespace: true, linebreaks: true };

/** `--clean` (true: defaults) or `--clean unicode,whitespace,...` → options. */
export function parseCleanSteps(spec: string | boolean | undefined): CleanOptions | null {
  if (spec === undefined || spec === false) return null;
  if (spec === true || spec === '' || spec === 'default') return { ...DEFAULT_CLEAN };
  const out: CleanOptions = {};
  for (const s of spec
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    if (s === 'default') Object.assign(out, DEFAULT_CLEAN);
    else if ((CLEAN_STEPS as readonly string[]).includes(s)) out[s as CleanStep] = true;
    else
      throw new MedtuneError(
        `--clean: unknown step "${s}" (use default or a list of ${CLEAN_STEPS.join(', ')})`,
        'E_USAGE',
      );
  }
  return out;
}

/** Checks a `medtune.preprocessing` object read from a config.json; returns the message of what is wrong. */
export function preprocessingProblem(p: unknown): string | null {
  if (!p || typeof p !== 'object' || Array.isArray(p)) return 'preprocessing must be an object';
  const clean = (p as PreprocessingOptions).clean;
  if (clean === undefined) return null;
  if (!clean || typeof clean !== 'object') return 'preprocessing.clean must be an object';
  for (const [k, v] of Object.entries(clean)) {
    if (!(CLEAN_STEPS as readonly string[]).includes(k)) return `preprocessing.clean has an unknown step "${k}"`;
    if (typeof v !== 'boolean') return `preprocessing.clean.${k} must be true or false`;
  }
  return null;
}

let englishWords: Set<string> | null = null;
/** ~275,000 English words (an-array-of-english-words), for de-hyphenation decisions. */
export function englishLexicon(): Set<string> {
  if (!englishWords) englishWords = new Set(createRequire(import.meta.url)('an-array-of-english-words') as string[]);
  return englishWords;
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g;
const SPACES = /[\t\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g;
const ZERO_WIDTH = /[\u200B-\u200D\u2060\uFEFF\u00AD]/g;
const LIST_ITEM = /^\s*(?:[-*•·]|\d+[.)]|[a-z][.)])\s/;

/** "hyper-\ntension" → "hypertension" when the joined word is English, else "follow-up" keeps its hyphen. */
function dehyphenate(text: string): string {
  return text.replace(/(\p{L}+)-[ \t]*\n[ \t]*(\p{Ll}+)/gu, (_, a: string, b: string) => {
    const joined = `${a}${b}`;
    return englishLexicon().has(joined.toLowerCase()) ? joined : `${a}-${b}`;
  });
}

/** Joins hard-wrapped lines: a line break inside a sentence, before a lower-case word, becomes a space. */
function unwrap(text: string): string {
  const lines = text.split('\n');
  const out: string[] = [];
  for (const line of lines) {
    const prev = out[out.length - 1];
    const joinable =
      prev !== undefined &&
      prev.trim() !== '' &&
      line.trim() !== '' &&
      !/[.:;!?]\s*$/.test(prev) &&
      /^\s*\p{Ll}/u.test(line) &&
      !LIST_ITEM.test(line);
    if (joinable) out[out.length - 1] = `${prev.replace(/\s+$/, '')} ${line.trim()}`;
    else out.push(line);
  }
  return out.join('\n');
}

const negations = new Set(NEGATION_PRE.filter((w) => !w.includes(' ')));
const stopWords = new Set(STOP_WORDS.filter((w) => !negations.has(w)));

function removeStopwords(text: string): string {
  return text
    .replace(/[\p{L}']+/gu, (w) => (stopWords.has(w.toLowerCase()) ? '' : w))
    .replace(/[ ]{2,}/g, ' ')
    .replace(/^ | $/gm, '');
}

/** Cleans one text. Steps run in a fixed order; each is idempotent, so cleaning twice changes nothing. */
export function cleanText(text: string, o: CleanOptions = DEFAULT_CLEAN): string {
  let t = text;
  if (o.unicode) t = t.normalize('NFKC');
  if (o.linebreaks) t = t.replace(/\r\n?/g, '\n');
  if (o.controls) t = t.replace(CONTROLS, (c) => (c === '\u000B' || c === '\u000C' ? '\n' : ''));
  if (o.whitespace) t = t.replace(ZERO_WIDTH, '').replace(SPACES, ' ');
  if (o.linebreaks) t = unwrap(dehyphenate(t)).replace(/\n[ \t]*\n(?:[ \t]*\n)+/g, '\n\n');
  if (o.whitespace)
    t = t
      .replace(/ {2,}/g, ' ')
      .replace(/^ +| +$/gm, '')
      .trim();
  if (o.lowercase) t = t.toLowerCase();
  if (o.stopwords) t = removeStopwords(t);
  return t;
}

/** The one entry point for serving: the preprocessing a model was trained with, applied to each text. */
export function applyPreprocessing(texts: string[], p: PreprocessingOptions): string[] {
  if (!p.clean) return texts;
  const o = p.clean;
  return texts.map((t) => cleanText(t, o));
}
