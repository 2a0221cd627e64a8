/**
 * Entity-level metrics with seqeval's semantics: an entity counts as found only when a predicted entity has exactly
 * its span and type (precision, recall and F1 micro-averaged over entities, and per type), plus token accuracy over
 * words. Gold entities come from the data (strict scheme checks, data/tags.ts); predicted ones from IOB2 tags decoded
 * as seqeval's default mode does.
 */
import type { TokenEntity } from '../data/tags.js';

export interface TypeReport {
  type: string;
  precision: number;
  recall: number;
  f1: number;
  /** gold entities of the type */
  support: number;
}

export interface EntityMetrics {
  entity_precision: number;
  entity_recall: number;
  entity_f1: number;
  /** share of words whose predicted IOB2 tag equals the gold tag */
  token_accuracy: number;
  per_type: TypeReport[];
  /** gold entities */
  support: number;
  /** predicted entities */
  predicted: number;
}

/** One example's gold and predicted entities (word indices) and tags (IOB2, one per word). */
export interface EntityPair {
  gold: TokenEntity[];
  predicted: TokenEntity[];
  goldTags: string[];
  predictedTags: string[];
}

const key = (e: TokenEntity) => `${e.start}:${e.end}:${e.type}`;
const ratio = (a: number, b: number) => (b ? a / b : 0);
const f1Of = (p: number, r: number) => (p + r ? (2 * p * r) / (p + r) : 0);

/** Entity-level precision / recall / F1 (exact span and type), per type, and token accuracy. */
export function entityMetrics(pairs: EntityPair[], types: string[] = []): EntityMetrics {
  const count = new Map<string, { tp: number; gold: number; pred: number }>();
  const of = (t: string) => count.get(t) ?? (count.set(t, { tp: 0, gold: 0, pred: 0 }), count.get(t)!);
  for (const t of types) of(t);
  let [words, right] = [0, 0];
  for (const p of pairs) {
    const gold = new Set(p.gold.map(key));
    for (const e of p.gold) of(e.type).gold++;
    for (const e of p.predicted) {
      of(e.type).pred++;
      if (gold.has(key(e))) of(e.type).tp++;
    }
    p.goldTags.forEach((t, i) => {
      words++;
      if (p.predictedTags[i] === t) right++;
    });
  }
  const all = [...count.values()].reduce(
    (a, c) => ({ tp: a.tp + c.tp, gold: a.gold + c.gold, pred: a.pred + c.pred }),
    {
      tp: 0,
      gold: 0,
      pred: 0,
    },
  );
  const per_type = [...count.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, c]) => {
      const [precision, recall] = [ratio(c.tp, c.pred), ratio(c.tp, c.gold)];
      return { type, precision, recall, f1: f1Of(precision, recall), support: c.gold };
    });
  const [precision, recall] = [ratio(all.tp, all.pred), ratio(all.tp, all.gold)];
  return {
    entity_precision: precision,
    entity_recall: recall,
    entity_f1: f1Of(precision, recall),
    token_accuracy: ratio(right, words),
    per_type,
    support: all.gold,
    predicted: all.pred,
  };
}

/** A miss: a gold entity not predicted exactly, or a predicted one that is not gold. */
export interface EntityMiss {
  example: number;
  kind: 'missed' | 'spurious';
  entity: TokenEntity;
}

/** The misses of each example (for the report), up to `limit`. */
export function entityMisses(pairs: EntityPair[], limit = 200): EntityMiss[] {
  const out: EntityMiss[] = [];
  pairs.forEach((p, example) => {
    const gold = new Set(p.gold.map(key));
    const pred = new Set(p.predicted.map(key));
    for (const e of p.gold) if (!pred.has(key(e))) out.push({ example, kind: 'missed', entity: e });
    for (const e of p.predicted) if (!gold.has(key(e))) out.push({ example, kind: 'spurious', entity: e });
  });
  return out.slice(0, limit);
}
