/**
 * A masked-LM as the FillMask function of augmentation (text/augment.ts): the word between `left` and `right`
 * is replaced by one mask token, and the model's top predictions that are whole words (no "##" pieces, no
 * special tokens, letters only) come back, best first. Batched, no gradients.
 */
import { noGrad, scope, tensor } from '../tensor/tensor.js';
import type { Tokenizer } from '../text/tokenizer.js';
import type { FillMask } from '../text/augment.js';
import type { MaskedLM } from './mlm.js';
import { MedtuneError } from '../common/errors.js';

export function createFillMask(
  model: MaskedLM,
  tok: Tokenizer,
  o: { topK?: number; maxLength?: number; batchSize?: number } = {},
): FillMask {
  const maskId = tok.tokenToId('[MASK]') ?? tok.tokenToId('<mask>');
  const cls = tok.tokenToId('[CLS]') ?? tok.tokenToId('<s>');
  const sep = tok.tokenToId('[SEP]') ?? tok.tokenToId('</s>');
  if (maskId === undefined || cls === undefined || sep === undefined)
    throw new MedtuneError('the tokenizer has no mask token ([MASK] or <mask>)', 'E_TOKENIZER');
  const topK = o.topK ?? 20;
  const maxLength = o.maxLength ?? 128;
  const B = o.batchSize ?? 32;
  const V = model.config.vocab_size;
  const words = new Map<number, string | null>();
  const wordOf = (id: number): string | null => {
    if (!words.has(id)) {
      const t = tok.decode([id], false).trim();
      words.set(id, /^\p{L}{2,}$/u.test(t) && !t.startsWith('##') && !/^\[.*\]$/.test(t) ? t : null);
    }
    return words.get(id)!;
  };
  const encode = (s: string) =>
    s.trim() ? tok.encode([s], null, { addSpecialTokens: false, padding: false, truncation: false }).input_ids[0]! : [];
  return (items) => {
    const out: string[][] = [];
    model.eval();
    for (let s = 0; s < items.length; s += B) {
      const part = items.slice(s, s + B);
      const seqs = part.map(({ left, right }) => {
        const budget = maxLength - 3;
        const l = encode(left);
        const r = encode(right);
        const keepL = Math.min(l.length, Math.max(Math.floor(budget / 2), budget - r.length));
        const ids = [cls, ...l.slice(l.length - keepL), maskId, ...r.slice(0, budget - keepL), sep];
        return { ids, pos: keepL + 1 };
      });
      const T = Math.max(...seqs.map((x) => x.ids.length));
      const ids = seqs.flatMap((x) => [...x.ids, ...new Array<number>(T - x.ids.length).fill(tok.padId)]);
      const mask = seqs.flatMap((x) => x.ids.map(() => 1).concat(new Array<number>(T - x.ids.length).fill(0)));
      const positions = seqs.map((x, b) => b * T + x.pos);
      const logits = scope(() =>
        noGrad(() =>
          model
            .maskedLogits(
              {
                input_ids: tensor(ids, [seqs.length, T], 'int32'),
                attention_mask: tensor(mask, [seqs.length, T], 'int32'),
              },
              tensor(positions, [positions.length], 'int32'),
            )
            .toArray(),
        ),
      );
      for (let b = 0; b < seqs.length; b++) {
        const row = logits.slice(b * V, (b + 1) * V);
        const order = Array.from(row.keys()).sort((x, y) => row[y]! - row[x]!);
        const cands: string[] = [];
        for (const id of order) {
          if (cands.length >= topK) break;
          const w = wordOf(id);
          if (w) cands.push(w);
        }
        out.push(cands);
      }
    }
    return out;
  };
}
