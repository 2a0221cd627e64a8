/**
 * The Predictor: loads a model folder once (weights, tokenizer, label map, problem type, max input length, the
 * `medtune` metadata: temperature, thresholds, abstention, and the out-of-scope detector) and classifies batches of
 * texts. Every classification in medtune goes through it — `predict`, `evaluate`, the server, the UI — so the
 * decision exists once (src/infer/decision.ts). Texts are sorted by length into batches to limit padding (forward.ts);
 * results come back in input order.
 */
import path from 'node:path';
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
  type AbstainReason,
  type Decision,
  type DecisionSettings,
} from './decision.js';
import { describeModel, type DecisionOverrides, type DocumentOverrides, type ModelInfo } from './model-info.js';
import type { DocumentSettings } from '../models/pooling.js';
import { encodeTexts } from '../text/windows.js';
import { forwardPasses, type PassResult } from './forward.js';
import { OodDetector } from './ood.js';

export interface PredictorOptions extends DecisionOverrides, DocumentOverrides {
  /**
   * tokens per text, or per window of a document (default: the model's window, else 512 capped at the model's limit;
   * an explicit value above the limit is refused)
   */
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
  /** tokens cut off by truncation, or beyond --max-document-tokens for documents (0: the whole text was read) */
  truncated_tokens: number;
  /** true: not sure — refer to a clinician (`label` is still the top label) */
  abstain: boolean;
  /** why it abstains: "out_of_scope" or "low_confidence" (null when it answers) */
  abstain_reason: AbstainReason | null;
  /** the note is like the model's training data (true when the model has no out-of-scope detector) */
  in_scope: boolean;
  /** distance to the training data over the in-scope limit (above 1: out of scope); null without a detector */
  ood_score: number | null;
  logits?: number[];
}

export interface ClassifyOptions {
  pairs?: string[] | null;
  /** also return the k most probable labels */
  topK?: number;
  logits?: boolean;
}

/**
 * The classification of one text from its calibrated probabilities (and its out-of-scope score, when the model has
 * a detector) — the one place results are built.
 */
export function classificationFrom(
  probabilities: number[],
  cut: number,
  s: DecisionSettings,
  o: ClassifyOptions & { logitsRow?: number[]; oodScore?: number | null } = {},
): Classification {
  return classificationOf(decideFromProbabilities(probabilities, s, o.oodScore ?? null), cut, s, o);
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
    abstain_reason: d.abstainReason,
    in_scope: d.inScope,
    ood_score: d.oodScore,
    ...(o.logits && o.logitsRow ? { logits: o.logitsRow } : {}),
  };
  if (o.topK) {
    res.top_k = s.labels
      .map((label, c) => ({ label, score: d.probabilities[c]! }))
      .sort((a, b) => b.score - a.score)
      .slice(0, o.topK);
  }
  return res;
}

/** A model read with attention pooling or label-wise attention must have their weights (a clear line if not). */
function checkDocumentParts(dir: string, missing: string[], d: DocumentSettings | null): void {
  const part = d?.head === 'label-attention' ? 'label_attention.' : d?.pooling === 'attention' ? 'pooling.' : null;
  if (!part || !missing.some((k) => k.startsWith(part))) return;
  throw new MedtuneError(
    d?.head === 'label-attention'
      ? `${dir} has no label-wise attention weights (label_attention.*), although its config.json asks ` +
          'for them; the weights file is not the one it was trained with'
      : `--pooling attention: ${dir} has no attention-pooling weights (pooling.attention.*): it was trained ` +
          'without them; read its windows with --pooling max or mean, or train with --pooling attention',
    'E_MODEL_WEIGHTS',
  );
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
  /** the out-of-scope detector saved with the model (null: none) */
  readonly ood: OodDetector | null;
  /** long texts are read in windows of `maxLength` tokens and pooled so (null: they are cut at `maxLength`) */
  readonly document: DocumentSettings | null;

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
    this.ood = OodDetector.read(info.dir, info.metadata.ood);
    this.document = info.document;
  }

  /** Loads a model folder (or hub name) for inference. */
  static async load(nameOrDir: string, o: PredictorOptions = {}): Promise<Predictor> {
    const info = await describeModel(nameOrDir, o);
    // config.json as describeModel read it; a missing pooling head is named as such
    const loaded = await loadClassifier(info, {
      log: o.log,
      precision: o.precision ?? precision(),
      inference: true,
      explainIncomplete: (r) => checkDocumentParts(info.dir, r.missing, info.document),
    });
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
    const d = this.document;
    const { offsets: _o, ...enc } = encodeTexts(this.tokenizer, prep(texts), pairs ? prep(pairs) : null, {
      maxLength: this.maxLength,
      document: d ? { stride: d.stride, maxDocumentTokens: d.max_document_tokens } : null,
    });
    return enc;
  }

  /**
   * Raw logits per text, in input order, and each text's out-of-scope score when the model has a detector (null
   * otherwise). Texts are sorted by length and cut into forward passes of at most `batchSize` texts and
   * `maxBatchTokens` padded tokens, so that padding and memory stay small.
   */
  forward(enc: Encoded): { logits: number[][]; oodScores: (number | null)[] } {
    const pass: PassResult = forwardPasses(this.loaded.model, enc, {
      padId: this.tokenizer.padId,
      batchSize: this.batchSize,
      maxBatchTokens: this.maxBatchTokens,
      features: this.ood ? this.metadata.ood!.features : null,
    });
    const ood = this.ood;
    return {
      logits: pass.logits,
      oodScores: pass.features && ood ? pass.features.map((f) => ood.score(f)) : pass.logits.map(() => null),
    };
  }

  /** What truncation did to `n` texts, in words (documents: cut at --max-document-tokens). */
  cutNote(n: number): string {
    const d = this.document;
    return d
      ? `${n} documents were longer than ${d.max_document_tokens} tokens and cut there (--max-document-tokens)`
      : `${n} texts were truncated to ${this.maxLength} tokens`;
  }

  /** Raw logits per text, in input order (see `forward`). */
  logitsOf(enc: Encoded): number[][] {
    return forwardPasses(this.loaded.model, enc, {
      padId: this.tokenizer.padId,
      batchSize: this.batchSize,
      maxBatchTokens: this.maxBatchTokens,
    }).logits;
  }

  /**
   * The decision for one row of logits and its out-of-scope score (calibration, thresholds, abstention);
   * `abstainBelow` overrides the model's abstention (a number: abstain below it and on out-of-scope notes; null:
   * never abstain; undefined: the model's).
   */
  decide(logits: number[], o: { abstainBelow?: number | null; oodScore?: number | null } = {}): Decision {
    return decide(logits, withAbstention(this.settings, o.abstainBelow), o.oodScore ?? null);
  }

  /**
   * The decisions for tokenised texts (the server's workers send these back): one forward pass, the out-of-scope
   * scores, each text's abstention (`abstainBelow[i]`, as in `decide`).
   */
  decideEncoded(enc: Encoded, abstainBelow: (number | null | undefined)[] = []): Decision[] {
    const { logits, oodScores } = this.forward(enc);
    return logits.map((row, i) => this.decide(row, { abstainBelow: abstainBelow[i], oodScore: oodScores[i] }));
  }

  /** Classifies texts (optionally paired): label, score, probabilities, top-k, truncation, abstention. */
  classify(texts: string[], o: ClassifyOptions = {}): Classification[] {
    if (o.pairs && o.pairs.length !== texts.length)
      throw new MedtuneError(`${texts.length} texts but ${o.pairs.length} text pairs`, 'E_USAGE');
    if (!texts.length) return [];
    const enc = this.encode(texts, o.pairs ?? null);
    const { logits, oodScores } = this.forward(enc);
    return logits.map((row, i) => this.classification(row, oodScores[i]!, enc.cut[i]!, o));
  }

  private classification(row: number[], oodScore: number | null, cut: number, o: ClassifyOptions): Classification {
    if (this.problemType === 'regression') {
      return {
        label: row[0]!,
        score: row[0]!,
        probabilities: {},
        truncated_tokens: cut,
        abstain: false,
        abstain_reason: null,
        in_scope: true,
        ood_score: null,
        ...(o.logits ? { logits: row } : {}),
      };
    }
    return classificationOf(this.decide(row, { oodScore }), cut, this.settings, { ...o, logitsRow: row });
  }
}
