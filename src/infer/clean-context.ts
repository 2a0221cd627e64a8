/**
 * `medtune clean --spell --model DIR` with a masked LM as the spelling context model: a correction that could turn
 * a word into another valid word ("productve": produce or productive) is applied only when the model, reading the
 * words around it with the word masked, ranks one of the candidates among its predictions (the best-ranked wins);
 * otherwise it is listed in the changes file and not applied (text/spell.ts). A --model without a masked-LM head
 * adds its vocabulary only.
 */
import { readModelConfig } from '../models/auto.js';
import { headKindOf } from '../models/families.js';
import { loadMaskedLM } from '../models/mlm.js';
import { createFillMask } from '../models/fill-mask.js';
import { Tokenizer } from '../text/tokenizer.js';
import type { FillMask } from '../text/augment.js';
import type { ContextScorer } from '../text/spell.js';
import { runClean, type CleanFileOptions } from '../text/clean-file.js';

/** A context scorer from a fill-mask function: the candidate the model ranks highest in the masked slot. */
export function fillMaskScorer(fill: FillMask): ContextScorer {
  return (text, start, end, options) => {
    const [predicted] = fill([{ left: text.slice(0, start), right: text.slice(end) }]);
    const ranked = (predicted ?? []).map((w) => w.toLowerCase());
    const best = options
      .map((o) => ({ o, rank: ranked.indexOf(o.toLowerCase()) }))
      .filter((x) => x.rank >= 0)
      .sort((a, b) => a.rank - b.rank)[0];
    return best?.o ?? null;
  };
}

/** Runs `medtune clean`, with the --model's masked LM deciding meaning-changing spelling corrections. */
export async function runCleanWithContext(o: CleanFileOptions): ReturnType<typeof runClean> {
  if (!o.spell || !o.model || o.context) return runClean(o);
  const folder = await readModelConfig(o.model);
  const kind = headKindOf(folder.config);
  if (kind !== null && kind !== 'masked-lm') return runClean(o);
  let loaded;
  try {
    loaded = await loadMaskedLM(folder, { log: () => {} });
  } catch {
    return runClean(o); // a base model without cls.predictions.*: vocabulary only
  }
  const fill = createFillMask(loaded.model, Tokenizer.fromDir(loaded.dir), { topK: 50 });
  return runClean({ ...o, context: fillMaskScorer(fill) });
}
