/**
 * De-identification evaluation on Presidio's format: [{full_text, spans: [{entity_type, start_position,
 * end_position}]}]. A gold span counts as found when predicted entities (of any type) cover ≥ 50% of its
 * characters; a predicted entity counts as correct when gold spans cover ≥ 50% of its characters.
 */
import { analyze, type AnalyzeOptions, type Entity } from './analyzer.js';

export interface GoldDoc {
  full_text: string;
  spans: { entity_type: string; start_position: number; end_position: number; entity_value?: string }[];
}

export interface TypeScore {
  type: string;
  gold: number;
  found: number;
  predicted: number;
  correct: number;
  recall: number;
  precision: number;
}

export interface DeidEvalResult {
  documents: number;
  precision: number;
  recall: number;
  f1: number;
  f2: number;
  byGoldType: TypeScore[];
  byPredictedType: TypeScore[];
  misses: { doc: number; type: string; text: string; context: string }[];
  falsePositives: { doc: number; type: string; text: string; recognizer: string }[];
  chars: number;
  /** share of the predicted characters that lie inside gold spans */
  charPrecision: number;
  seconds: number;
}

function coverage(start: number, end: number, spans: { start: number; end: number }[]): number {
  let covered = 0;
  for (let i = start; i < end; i++) if (spans.some((s) => s.start <= i && i < s.end)) covered++;
  return end > start ? covered / (end - start) : 0;
}

const fbeta = (p: number, r: number, b: number) => (p + r === 0 ? 0 : ((1 + b * b) * p * r) / (b * b * p + r));

/**
 * Scores the rules on gold documents; with `found` (one list per document, e.g. rules ∪ a model from
 * infer/deid-model.ts), scores those entities instead.
 */
export function evaluateDeid(docs: GoldDoc[], opts: AnalyzeOptions & { found?: Entity[][] } = {}): DeidEvalResult {
  const gold = new Map<string, TypeScore>();
  const pred = new Map<string, TypeScore>();
  const score = (m: Map<string, TypeScore>, t: string) => {
    if (!m.has(t)) m.set(t, { type: t, gold: 0, found: 0, predicted: 0, correct: 0, recall: 0, precision: 0 });
    return m.get(t)!;
  };
  const misses: DeidEvalResult['misses'] = [];
  const falsePositives: DeidEvalResult['falsePositives'] = [];
  let chars = 0;
  let [predChars, goodChars] = [0, 0];
  const t0 = performance.now();
  docs.forEach((d, di) => {
    chars += d.full_text.length;
    const ents: Entity[] = opts.found?.[di] ?? analyze(d.full_text, opts);
    const g = d.spans.map((s) => ({ start: s.start_position, end: s.end_position, type: s.entity_type }));
    for (const s of g) {
      const ts = score(gold, s.type);
      ts.gold++;
      if (coverage(s.start, s.end, ents) >= 0.5) ts.found++;
      else
        misses.push({
          doc: di,
          type: s.type,
          text: d.full_text.slice(s.start, s.end),
          context: d.full_text.slice(Math.max(0, s.start - 40), s.end + 40),
        });
    }
    for (const e of ents) {
      predChars += e.end - e.start;
      goodChars += coverage(e.start, e.end, g) * (e.end - e.start);
      const ts = score(pred, e.type);
      ts.predicted++;
      if (coverage(e.start, e.end, g) >= 0.5) ts.correct++;
      else falsePositives.push({ doc: di, type: e.type, text: e.text, recognizer: e.recognizer });
    }
  });
  const seconds = (performance.now() - t0) / 1000;
  for (const ts of gold.values()) ts.recall = ts.gold ? ts.found / ts.gold : 0;
  for (const ts of pred.values()) ts.precision = ts.predicted ? ts.correct / ts.predicted : 0;
  const G = [...gold.values()].reduce((a, t) => a + t.gold, 0);
  const F = [...gold.values()].reduce((a, t) => a + t.found, 0);
  const P = [...pred.values()].reduce((a, t) => a + t.predicted, 0);
  const C = [...pred.values()].reduce((a, t) => a + t.correct, 0);
  const precision = P ? C / P : 0;
  const recall = G ? F / G : 0;
  return {
    documents: docs.length,
    precision,
    recall,
    f1: fbeta(precision, recall, 1),
    f2: fbeta(precision, recall, 2),
    byGoldType: [...gold.values()].sort((a, b) => b.gold - a.gold),
    byPredictedType: [...pred.values()].sort((a, b) => b.predicted - a.predicted),
    misses,
    falsePositives,
    chars,
    charPrecision: predChars ? goodChars / predChars : 0,
    seconds,
  };
}
