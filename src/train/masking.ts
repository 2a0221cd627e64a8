/**
 * Whole-word masking for masked-LM pretraining, as HF's DataCollatorForWholeWordMask: about 15 % of a sequence's
 * tokens are chosen by whole words (all pieces of "dia ##bet ##es" together, words in random order until the
 * budget is reached), and of the chosen tokens 80 % become the mask token, 10 % a random token, 10 % stay.
 * Labels are the original ids at chosen positions and -100 elsewhere.
 */
import type { Generator } from '../tensor/random.js';

export interface EncodedText {
  /** token ids with special tokens */
  ids: number[];
  /** word index per token; -1 for special tokens (never masked) */
  words: number[];
}

/**
 * Word index of each token from character offsets: a token continues the previous token's word when it starts
 * where that one ended and both touch letters or digits ("dia|bet|es" one word; "pus|-|filled" three).
 */
export function wordIds(text: string, offsets: [number, number][], special: boolean[]): number[] {
  const out: number[] = [];
  let word = -1;
  let prevEnd = -1;
  const alnum = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}]/u.test(c);
  offsets.forEach(([s, e], i) => {
    if (special[i]) {
      out.push(-1);
      prevEnd = -1;
      return;
    }
    const continues = s === prevEnd && alnum(text[s]) && alnum(text[s - 1]);
    if (!continues) word++;
    out.push(word);
    prevEnd = e;
  });
  return out;
}

export interface MaskOptions {
  maskId: number;
  vocabSize: number;
  /** share of tokens to predict (default 0.15) */
  probability?: number;
}

/** Masks one sequence; returns the model input and the labels (-100 where nothing is predicted). */
export function maskWholeWords(t: EncodedText, gen: Generator, o: MaskOptions): { input: number[]; labels: number[] } {
  const byWord = new Map<number, number[]>();
  t.words.forEach((w, i) => {
    if (w < 0) return;
    const list = byWord.get(w);
    if (list) list.push(i);
    else byWord.set(w, [i]);
  });
  const n = t.words.filter((w) => w >= 0).length;
  const budget = Math.max(1, Math.round(n * (o.probability ?? 0.15)));
  const order = [...byWord.keys()];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(gen.uniform() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const chosen: number[] = [];
  for (const w of order) {
    const pos = byWord.get(w)!;
    if (chosen.length >= budget) break;
    if (chosen.length + pos.length > budget) continue;
    chosen.push(...pos);
  }
  if (!chosen.length && order.length) chosen.push(...byWord.get(order[0]!)!); // one long word: still predict it
  const input = [...t.ids];
  const labels = t.ids.map(() => -100);
  for (const p of chosen) {
    labels[p] = t.ids[p]!;
    const r = gen.uniform();
    if (r < 0.8) input[p] = o.maskId;
    else if (r < 0.9) input[p] = Math.floor(gen.uniform() * o.vocabSize);
  }
  return { input, labels };
}
