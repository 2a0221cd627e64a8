/**
 * Long texts in windows: a tokenised text longer than the model's length is cut into windows of that length that
 * overlap by `stride` tokens, each wrapped in the special tokens of a single text ([CLS] … [SEP]), and positions in a
 * window map back to positions (and character offsets) in the whole text. The one place medtune windows token ids:
 * document classification (models/document.ts), explanations and token classification build on it.
 */
import { MedtuneError } from '../common/errors.js';
import type { Tokenizer } from './tokenizer.js';

/** How a tokenised text is cut into windows. */
export interface WindowSpec {
  /** tokens per window, special tokens included (the model's length) */
  length: number;
  /** tokens neighbouring windows share */
  stride: number;
  /** special tokens before the text ([CLS]: 1) and after it ([SEP]: 1) in every window */
  head: number;
  tail: number;
}

/** The most tokens a document is read to (`--max-document-tokens`); the cut beyond is reported. */
export const DEFAULT_MAX_DOCUMENT_TOKENS = 16_384;

const usage = (msg: string) => new MedtuneError(msg, 'E_USAGE');

/** Text tokens per window (the window less its special tokens). */
export function windowSize(spec: WindowSpec): number {
  return spec.length - spec.head - spec.tail;
}

/** The default overlap: a quarter of a window's text tokens. */
export function defaultStride(length: number, specials = 2): number {
  return Math.max(0, Math.floor((length - specials) / 4));
}

/** A window spec, checked: the stride must leave each window new tokens. */
export function windowSpec(o: { length: number; stride?: number; head: number; tail: number }): WindowSpec {
  const size = o.length - o.head - o.tail;
  if (!(size >= 1)) throw usage(`a window of ${o.length} tokens leaves no room for text beside its special tokens`);
  const stride = o.stride ?? defaultStride(o.length, o.head + o.tail);
  if (!Number.isInteger(stride) || stride < 0) throw usage(`--stride must be an integer ≥ 0, got ${stride}`);
  if (stride >= size)
    throw usage(
      `--stride ${stride} is not smaller than the window (${size} text tokens of ${o.length}); ` +
        `windows would never advance: use at most ${size - 1}`,
    );
  return { length: o.length, stride, head: o.head, tail: o.tail };
}

/** [start, end) of each window over `n` text tokens (the last window ends at n; one window when n fits). */
export function windowRanges(n: number, spec: WindowSpec): [number, number][] {
  const size = windowSize(spec);
  if (n <= size) return [[0, n]];
  const step = size - spec.stride;
  const out: [number, number][] = [];
  for (let s = 0; ; s += step) {
    const e = Math.min(n, s + size);
    out.push([s, e]);
    if (e === n) break;
  }
  return out;
}

/** How many windows a text of `tokens` tokens (special tokens included) takes. */
export function windowCount(tokens: number, spec: WindowSpec): number {
  return windowRanges(Math.max(0, tokens - spec.head - spec.tail), spec).length;
}

export interface TextWindows {
  ids: number[][];
  types: number[][];
  /** [start, end) of each window in the text's tokens (special tokens not counted) */
  ranges: [number, number][];
}

/**
 * The windows of one tokenised text (special tokens included, as the tokenizer returns a single text): each window is
 * the text's leading specials, a part of its tokens, its trailing specials. A text that fits is its one window.
 */
export function splitWindows(ids: number[], types: number[], spec: WindowSpec): TextWindows {
  const { head, tail } = spec;
  if (ids.length <= spec.length) return { ids: [ids], types: [types], ranges: [[0, ids.length - head - tail]] };
  const body = ids.slice(head, ids.length - tail);
  const ranges = windowRanges(body.length, spec);
  const pre = ids.slice(0, head);
  const post = ids.slice(ids.length - tail);
  const type0 = types.slice(0, head);
  const typeN = types.slice(types.length - tail);
  const bodyTypes = types.slice(head, types.length - tail);
  return {
    ids: ranges.map(([s, e]) => [...pre, ...body.slice(s, e), ...post]),
    types: ranges.map(([s, e]) => [...type0, ...bodyTypes.slice(s, e), ...typeN]),
    ranges,
  };
}

/**
 * The position in the whole text (its tokenisation, special tokens included) of position `t` of window `w`, or -1
 * for a window's own special tokens.
 */
export function textPosition(ranges: [number, number][], spec: WindowSpec, w: number, t: number): number {
  const [s, e] = ranges[w]!;
  const k = t - spec.head;
  return k < 0 || k >= e - s ? -1 : spec.head + s + k;
}

/**
 * The window that reads a text token with the most context on both sides (for per-token outputs of overlapping
 * windows: each token is taken from the window where it sits most centrally).
 */
export function centralWindow(ranges: [number, number][], k: number): number {
  let best = -1;
  let margin = -1;
  ranges.forEach(([s, e], w) => {
    if (k < s || k >= e) return;
    const m = Math.min(k - s, e - 1 - k);
    if (m > margin) [best, margin] = [w, m];
  });
  return best;
}

export interface EncodedTexts {
  ids: number[][];
  types: number[][];
  offsets: [number, number][][];
  truncated: number;
  cut: number[];
  /** set when the texts are documents to be read in windows */
  window?: WindowSpec;
}

/**
 * Tokenises texts (no padding): cut at `maxLength`, or — with `document` and no text pairs — read up to
 * `maxDocumentTokens` tokens and cut into windows of `maxLength` later (`window` says how). Pairs are always cut at
 * `maxLength`.
 */
export function encodeTexts(
  tok: Tokenizer,
  texts: string[],
  pairs: string[] | null,
  o: {
    maxLength: number;
    document?: { stride?: number; maxDocumentTokens: number } | null;
    /** how an error names text i (default: "text i+1 of n") */
    where?: (i: number) => string;
  },
): EncodedTexts {
  const doc = o.document && !pairs ? o.document : null;
  const specials = doc ? tok.singleSpecials() : null;
  const maxLength = doc ? doc.maxDocumentTokens + specials!.head + specials!.tail : o.maxLength;
  const enc = tok.encode(texts, pairs, { maxLength, padding: false });
  if (specials) {
    const empty = enc.input_ids.findIndex((ids) => ids.length <= specials.head + specials.tail);
    if (empty >= 0)
      throw new MedtuneError(
        `${o.where?.(empty) ?? `text ${empty + 1} of ${texts.length}`} has no tokens after cleaning: ` +
          'nothing for the model to read ' +
          '(remove the row, or check the text preparation the model applies)',
        'E_INPUT_EMPTY',
      );
  }
  const window = doc && specials ? windowSpec({ length: o.maxLength, stride: doc.stride, ...specials }) : undefined;
  return {
    ids: enc.input_ids,
    types: enc.token_type_ids,
    offsets: enc.offsets,
    truncated: enc.truncated,
    cut: enc.cut_tokens,
    ...(window ? { window } : {}),
  };
}
