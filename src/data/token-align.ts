/**
 * Words to sub-words, as HF's token-classification recipe does (`word_ids()`): the first sub-token of a word carries
 * the word's tag, the rest of its sub-tokens and the special tokens get -100 (left out of the loss); predictions are
 * read from each word's first sub-token. Texts longer than the model takes are cut into windows that overlap by
 * `stride` tokens (HF's `return_overflowing_tokens` + `stride`); every window gets the special tokens.
 */
import type { Tokenizer } from '../text/tokenizer.js';

export const IGNORE = -100;

/** A text's sub-tokens (no special tokens) and the word each belongs to (-1: none). */
export interface SubwordEncoding {
  ids: number[];
  /** word index per sub-token */
  wordIds: number[];
  /** character range of each sub-token */
  offsets: [number, number][];
}

/** One window of a text: model inputs (special tokens included) and where its tokens come from. */
export interface TokenWindow {
  /** index of the text */
  example: number;
  ids: number[];
  /** word index per position (-1: special token) */
  wordIds: number[];
  /** label id per position (-100: ignored) when labelled */
  labels?: number[];
  /** first sub-token (in the text's own numbering) of the window */
  offset: number;
}

/** The special tokens the tokenizer puts before and after one sequence ([CLS] … [SEP], <s> … </s>). */
export function specialFrame(tok: Tokenizer): { before: number[]; after: number[] } {
  const plain = tok.encode(['a'], null, { addSpecialTokens: false, padding: false }).input_ids[0]!;
  const full = tok.encode(['a'], null, { padding: false }).input_ids[0]!;
  const at = full.findIndex((_, i) => plain.every((id, k) => full[i + k] === id));
  return { before: full.slice(0, at), after: full.slice(at + plain.length) };
}

/** Sub-tokens of texts with the word (character ranges `words`) each one starts in. */
export function encodeWords(tok: Tokenizer, items: { text: string; words: [number, number][] }[]): SubwordEncoding[] {
  const out: SubwordEncoding[] = [];
  for (let i = 0; i < items.length; i += 256) {
    const part = items.slice(i, i + 256);
    const enc = tok.encode(
      part.map((p) => p.text),
      null,
      { addSpecialTokens: false, truncation: false, padding: false },
    );
    part.forEach((p, j) => {
      const offsets = enc.offsets[j]!;
      const wordIds: number[] = [];
      let w = 0;
      for (const [s] of offsets) {
        while (w < p.words.length && p.words[w]![1] <= s) w++;
        wordIds.push(w < p.words.length && p.words[w]![0] <= s ? w : -1);
      }
      out.push({ ids: enc.input_ids[j]!, wordIds, offsets });
    });
  }
  return out;
}

/** Starts of windows of `size` tokens over n tokens, consecutive windows sharing `stride` tokens. */
export function windowStarts(n: number, size: number, stride: number): number[] {
  if (n <= size) return [0];
  const step = Math.max(1, size - stride);
  const starts: number[] = [];
  for (let s = 0; ; s += step) {
    if (s + size >= n) {
      starts.push(Math.max(0, n - size));
      break;
    }
    starts.push(s);
  }
  return [...new Set(starts)];
}

/**
 * Windows of every text (maxLength tokens with the special tokens); with `tags` (label id per word), the labels of
 * each window: a word's first sub-token its tag, everything else -100.
 */
export function makeWindows(
  encs: SubwordEncoding[],
  o: { tok: Tokenizer; maxLength: number; stride: number; tags?: number[][] },
): TokenWindow[] {
  const { before, after } = specialFrame(o.tok);
  const size = Math.max(1, o.maxLength - before.length - after.length);
  const out: TokenWindow[] = [];
  encs.forEach((e, example) => {
    for (const start of windowStarts(e.ids.length, size, Math.min(o.stride, size - 1))) {
      const end = Math.min(e.ids.length, start + size);
      const words = e.wordIds.slice(start, end);
      const pad = (xs: number[], fill: number) => [...before.map(() => fill), ...xs, ...after.map(() => fill)];
      const win: TokenWindow = {
        example,
        ids: [...before, ...e.ids.slice(start, end), ...after],
        wordIds: pad(words, -1),
        offset: start,
      };
      if (o.tags) {
        const tags = o.tags[example]!;
        const first = words.map((w, k) => w >= 0 && (start + k === 0 || e.wordIds[start + k - 1] !== w));
        win.labels = pad(
          words.map((w, k) => (first[k] ? tags[w]! : IGNORE)),
          IGNORE,
        );
      }
      out.push(win);
    }
  });
  return out;
}
