/**
 * De-identification by rules ∪ model: the rule recognisers (deid/analyzer.ts) and a token-classification model
 * trained by `medtune deid train` run on the same texts, and their entities are united — overlapping spans merge into
 * one covering both, typed by the rules when they found it (their types are finer: phone, SSN, e-mail), with
 * `source: "rules" | "model" | "both"`. The model tags a word as PHI when its PHI probability reaches the recall-biased
 * threshold saved with it (chosen on validation for entity-word recall ≥ 0.98) or `recallBias`.
 * The model-based part lives here, in infer/, because deid/ sits below models/.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { analyze, type AnalyzeOptions, type Entity } from '../deid/analyzer.js';
import { runDeid, type DeidFileOptions } from '../deid/file.js';
import { TokenPredictor, type EntitySpan } from './token-predictor.js';

export type EntitySource = 'rules' | 'model' | 'both';
export interface SourcedEntity extends Entity {
  source: EntitySource;
}

/** The union of rule and model entities (overlaps merged, rule types preferred), in text order. */
export function uniteEntities(text: string, rules: Entity[], model: EntitySpan[]): SourcedEntity[] {
  const all = [
    ...rules.map((e) => ({ ...e, source: 'rules' as EntitySource })),
    ...model.map((e) => ({
      type: e.label,
      start: e.start,
      end: e.end,
      score: e.score,
      text: '',
      recognizer: 'model',
      source: 'model' as EntitySource,
    })),
  ].sort((a, b) => a.start - b.start || b.end - a.end);
  const out: SourcedEntity[] = [];
  for (const e of all) {
    const last = out[out.length - 1];
    if (!last || e.start >= last.end) {
      out.push({ ...e });
      continue;
    }
    // overlap: one entity covering both
    last.end = Math.max(last.end, e.end);
    if (last.source !== e.source) last.source = 'both';
    if (last.recognizer === 'model' && e.recognizer !== 'model') {
      last.type = e.type;
      last.recognizer = e.recognizer;
    }
    last.score = Math.max(last.score, e.score);
  }
  for (const e of out) e.text = text.slice(e.start, e.end);
  return out;
}

export interface DeidModelOptions {
  /** PHI probability from which a word is tagged (default: the threshold saved with the model) */
  recallBias?: number;
  batchSize?: number;
  log?: (l: string) => void;
}

/** A de-identification model loaded once: rules ∪ model on batches of texts. */
export class DeidModel {
  private constructor(readonly predictor: TokenPredictor) {}

  /** Loads a model folder, or the best_model/ of a `medtune deid train` output folder. */
  static async load(dir: string, o: DeidModelOptions = {}): Promise<DeidModel> {
    if (!existsSync(path.join(dir, 'config.json')) && existsSync(path.join(dir, 'best_model', 'config.json')))
      dir = path.join(dir, 'best_model');
    return new DeidModel(
      await TokenPredictor.load(dir, { threshold: o.recallBias, batchSize: o.batchSize, log: o.log }),
    );
  }

  get threshold(): number {
    return this.predictor.threshold;
  }

  /** The model's entities alone. */
  modelEntities(texts: string[]): EntitySpan[][] {
    return this.predictor.entities(texts);
  }

  /** Rules ∪ model for each text. */
  analyzeBatch(texts: string[], o: AnalyzeOptions = {}): SourcedEntity[][] {
    const found = this.modelEntities(texts);
    return texts.map((t, i) => uniteEntities(t, analyze(t, o), found[i]!));
  }
}

/** `medtune deid --model DIR`: the file de-identified with rules ∪ model (`loaded`: a model already loaded). */
export async function runDeidWithModel(
  o: DeidFileOptions & { model: string; recallBias?: number; loaded?: DeidModel },
): ReturnType<typeof runDeid> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const m = o.loaded ?? (await DeidModel.load(o.model, { recallBias: o.recallBias, log: () => {} }));
  log(`de-identifying with rules ∪ model ${o.model} (PHI threshold ${m.threshold})`);
  return runDeid({ ...o, analyzeBatch: (texts, a) => m.analyzeBatch(texts, a) });
}
