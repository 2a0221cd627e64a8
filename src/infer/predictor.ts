/**
 * The Predictor: loads a model folder once (weights, tokenizer, label map, problem type, max input length and the
 * `medtune` metadata: temperature, thresholds, abstention) and classifies batches of texts. Every classification
 * in medtune goes through it — `predict`, `evaluate`, the server, the UI — so the decision exists once
 * (src/infer/decision.ts). Texts are sorted by length into batches to limit padding; results come back in input order.
 */
import path from 'node:path';
import { noGrad, scope } from '../tensor/tensor.js';
import { batchTensors } from '../data/batch.js';
import type { Encoded } from '../data/dataset.js';
import { Tokenizer } from '../text/tokenizer.js';
import { applyPreprocessing, type PreprocessingOptions } from '../text/clean.js';
import { loadClassifier, type LoadedClassifier } from '../models/auto.js';
import type { MedtuneMetadata, ModelIdentity } from '../models/metadata.js';
import type { ProblemType } from '../models/heads.js';
import { MedtuneError } from '../common/errors.js';
import { precision, type Precision } from '../tensor/precision.js';
import {
  decide,
  decideFromProbabilities,
  labelNames,
  withAbstention,
  type Decision,
  type DecisionSettings,
} from './decision.js';
import { describeModel, type DecisionOverrides, type ModelInfo } from './model-info.js';

export interface PredictorOptions extends DecisionOverrides {
  /** tokens per text (default: 512 capped at the model's limit; an explicit value above the limit is refused) */
  maxLength?: number;
  /** texts per forward pass (default 32) */
  batchSize?: number;
  /**
   * padded tokens per forward pass (texts × longest text; default 4096): bounds memory, since a forward keeps its
   * activations until it ends (e.g. mini-biobert: ~450 MB for 200 texts of 35 tokens in one pass)
   */
  maxBatchTokens?: number;
  /** a name for the model (default: its folder name) */
  name?: string;
  /**
   * text preparation before tokenising (default: the model's medtune.preprocessing, e.g. the cleaning it was trained
   * with)
   */
  preprocessing?: PreprocessingOptions;
  /** receives the load report (default: stderr) */
  log?: (line: string) => void;
  /** int8: the model's linear layers run int8 (models/quantize.ts) (default: the current precision) */
  precision?: Precision;
}

export interface Classification {
  /** the class (single-label), the chosen labels (multi-label) or the value (regression) */
  label: string | string[] | number;
  /** top-class probability (single-label), highest label probability (multi-label), the value (regression) */
  score: number;
  probabilities: Record<string, number>;
  top_k?: { label: string; score: number }[];
  /** tokens cut off by truncation (0: the whole text was read) */
  truncated_tokens: number;
  abstain: boolean;
  abstain_reason?: string;
  logits?: number[];
}

export interface ClassifyOptions {
  pairs?: string[] | null;
  /** also return the k most probable labels */
  topK?: number;
  logits?: boolean;
}

/** The classification of one text from its calibrated probabilities — the one place results are built. */
export function classificationFrom(
  probabilities: number[],
  cut: number,
  s: DecisionSettings,
  o: ClassifyOptions & { logitsRow?: number[] } = {},
): Classification {
  return classificationOf(decideFromProbabilities(probabilities, s), cut, s, o);
}

/** The classification of one text from a decision already made with the settings `s` (nothing is decided again). */
export function classificationOf(
  d: Decision,
  cut: number,
  s: DecisionSettings,
  o: ClassifyOptions & { logitsRow?: number[] } = {},
): Classification {
  const res: Classification = {
    label: labelNames(d.predicted, s.labels),
    score: Math.max(...d.probabilities),
    probabilities: Object.fromEntries(s.labels.map((l, c) => [l, d.probabilities[c]!])),
    truncated_tokens: cut,
    abstain: d.abstain,
    ...(o.logits && o.logitsRow ? { logits: o.logitsRow } : {}),
  };
  if (d.abstain)
    res.abstain_reason =
      `confidence ${d.confidence.toFixed(3)} is below the abstention threshold ${s.abstainBelow}: ` +
      'refer to a clinician';
  if (o.topK) {
    res.top_k = s.labels
      .map((label, c) => ({ label, score: d.probabilities[c]! }))
      .sort((a, b) => b.score - a.score)
      .slice(0, o.topK);
  }
  return res;
}

export class Predictor {
  readonly labels: string[];
  readonly problemType: ProblemType;
  readonly multiLabel: boolean;
  readonly metadata: MedtuneMetadata;
  readonly identity: ModelIdentity;
  readonly settings: DecisionSettings;
  readonly batchSize: number;
  readonly maxBatchTokens: number;
  readonly maxLength: number;
  /** applied to every text (and pair) before tokenising, as in training */
  readonly preprocessing: PreprocessingOptions;

  private constructor(
    readonly info: ModelInfo,
    readonly loaded: LoadedClassifier,
    readonly tokenizer: Tokenizer,
    readonly name: string,
    batchSize: number,
    maxBatchTokens: number,
    preprocessing?: PreprocessingOptions,
  ) {
    this.labels = info.labels;
    this.problemType = loaded.model.problemType();
    this.multiLabel = this.problemType === 'multi_label_classification';
    this.metadata = info.metadata;
    this.identity = info.identity;
    this.settings = info.settings;
    this.maxLength = info.maxLength;
    this.batchSize = batchSize;
    this.maxBatchTokens = maxBatchTokens;
    this.preprocessing = preprocessing ?? info.metadata.preprocessing ?? {};
  }

  /** Loads a model folder (or hub name) for inference. */
  static async load(nameOrDir: string, o: PredictorOptions = {}): Promise<Predictor> {
    const info = await describeModel(nameOrDir, o);
    // config.json as describeModel read it
    const loaded = await loadClassifier(info, { log: o.log, precision: o.precision ?? precision() });
    const tok = Tokenizer.fromDir(loaded.dir);
    return new Predictor(
      info,
      loaded,
      tok,
      o.name ?? path.basename(path.resolve(loaded.dir)),
      o.batchSize ?? 32,
      o.maxBatchTokens ?? 4096,
      o.preprocessing,
    );
  }

  get dir(): string {
    return this.loaded.dir;
  }

  /**
   * Token ids of the texts (no padding; the model's preprocessing applied), with the tokens truncation cut from each.
   */
  encode(texts: string[], pairs: string[] | null = null): Encoded {
    const prep = (xs: string[]) => applyPreprocessing(xs, this.preprocessing);
    const enc = this.tokenizer.encode(prep(texts), pairs ? prep(pairs) : null, {
      maxLength: this.maxLength,
      padding: false,
    });
    return { ids: enc.input_ids, types: enc.token_type_ids, truncated: enc.truncated, cut: enc.cut_tokens };
  }

  /**
   * Raw logits per text, in input order. Texts are sorted by length and cut into forward passes of at most
   * `batchSize` texts and `maxBatchTokens` padded tokens, so that padding and memory stay small.
   */
  logitsOf(enc: Encoded): number[][] {
    const n = enc.ids.length;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => enc.ids[a]!.length - enc.ids[b]!.length);
    const out: number[][] = new Array(n);
    const model = this.loaded.model;
    const padId = this.tokenizer.padId;
    for (let s = 0; s < n;) {
      let e = s + 1;
      // sorted ascending: the text at e is the longest of the pass
      while (e < n && e - s < this.batchSize && (e - s + 1) * enc.ids[order[e]!]!.length <= this.maxBatchTokens) e++;
      const idx = order.slice(s, e);
      const flat = scope(() => noGrad(() => model.forward(batchTensors(enc, idx, padId)).logits.toArray()));
      const C = flat.length / idx.length;
      idx.forEach((ex, b) => {
        out[ex] = flat.slice(b * C, (b + 1) * C);
      });
      s = e;
    }
    return out;
  }

  /**
   * The decision for one row of logits (calibration, thresholds, abstention); `abstainBelow` overrides the model's
   * abstention threshold (null: never abstain; undefined: the model's).
   */
  decide(logits: number[], o: { abstainBelow?: number | null } = {}): Decision {
    return decide(logits, withAbstention(this.settings, o.abstainBelow));
  }

  /** Classifies texts (optionally paired): label, score, probabilities, top-k, truncation, abstention. */
  classify(texts: string[], o: ClassifyOptions = {}): Classification[] {
    if (o.pairs && o.pairs.length !== texts.length)
      throw new MedtuneError(`${texts.length} texts but ${o.pairs.length} text pairs`, 'E_USAGE');
    if (!texts.length) return [];
    const enc = this.encode(texts, o.pairs ?? null);
    return this.logitsOf(enc).map((row, i) => this.classification(row, enc.cut[i]!, o));
  }

  private classification(row: number[], cut: number, o: ClassifyOptions): Classification {
    if (this.problemType === 'regression') {
      return {
        label: row[0]!,
        score: row[0]!,
        probabilities: {},
        truncated_tokens: cut,
        abstain: false,
        ...(o.logits ? { logits: row } : {}),
      };
    }
    return classificationOf(this.decide(row), cut, this.settings, { ...o, logitsRow: row });
  }
}
