/**
 * An inference worker (worker_threads): loads every served model once — and refuses one whose weights are not all
 * finite or whose smoke prediction is not a probability distribution over its labels — and does the model work the
 * HTTP thread sends it — classification batches, de-identification previews and explanations — so that no model
 * computation ever runs on the HTTP thread. A side job carries a shared cancel flag that the worker reads before it
 * starts and between an explanation's passes. Messages in: { type: 'batch' | 'deid' | 'explain', id, … }; out:
 * { type: 'ready' } | { type: 'result', id, … } | { type: 'error', id?, code, message }. Batch results carry no
 * text (the Predictor's decisions and counts only: the HTTP thread builds its answers from these decisions and
 * decides nothing again); deid and explain results carry the text back to the client who sent it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Predictor } from '../infer/predictor.js';
import type { Decision } from '../infer/decision.js';
import { setThreads } from '../tensor/backend.js';
import { setPrecision, type Precision } from '../tensor/precision.js';
import { deidentify } from '../deid/anonymize.js';
import { explain } from '../infer/explain.js';
import { TokenPredictor } from '../infer/token-predictor.js';
import { DeidModel } from '../infer/deid-model.js';
import { isTokenClassifier } from '../infer/token-predict-file.js';
import { MedtuneError } from '../common/errors.js';

export interface WorkerConfig {
  /** maxDocumentTokens: only for models that read long texts in windows */
  models: { name: string; dir: string; maxLength?: number; maxDocumentTokens?: number }[];
  threads: number;
  deid: boolean;
  /** a de-identification model beside the rules (deid and the preview: rules ∪ model) */
  deidModel?: string;
  precision?: Precision;
}

export interface BatchRequest {
  type: 'batch';
  id: number;
  model: string;
  texts: string[];
  /** per text, the request's abstention threshold (undefined: the model's; null: never abstain) */
  abstainBelow: (number | null | undefined)[];
}

export interface DeidRequest {
  type: 'deid';
  id: number;
  text: string;
  /** one Int32: set to 1 by the pool when the request is abandoned */
  cancel: SharedArrayBuffer;
}

export interface ExplainRequest {
  type: 'explain';
  id: number;
  model: string;
  text: string;
  label?: string;
  steps?: number;
  /** the most quadrature steps the explanation may double up to (--explain-max-steps) */
  maxSteps: number;
  cancel: SharedArrayBuffer;
}

/** Entities of texts with a token-classification model (POST /v1/entities). */
export interface EntitiesRequest {
  type: 'entities';
  id: number;
  model: string;
  texts: string[];
  cancel: SharedArrayBuffer;
}

export type WorkerRequest = BatchRequest | DeidRequest | ExplainRequest | EntitiesRequest;

export interface SideResult {
  type: 'result';
  id: number;
  payload: unknown;
  inferMs: number;
}

export interface BatchResult {
  type: 'result';
  id: number;
  /** the Predictor's decision per text (calibrated probabilities, label(s), confidence, abstention): the one used */
  decisions: Decision[];
  /** tokens truncation cut off, per text */
  cut: number[];
  /** PHI entities replaced per text (with deid) */
  entities: number[];
  /** tokens in the batch (sum of text lengths in tokens) and the padded batch length */
  tokens: number;
  inferMs: number;
}

export interface WorkerError {
  type: 'error';
  id?: number;
  code: string;
  message: string;
}

/** An error as a message to the pool (a load error has no id). */
const errorOf = (e: unknown, id?: number): WorkerError => ({
  type: 'error',
  ...(id !== undefined ? { id } : {}),
  code: e instanceof MedtuneError ? e.code : 'E_INTERNAL',
  message: (e as Error).message,
});

/** A fixed text for the smoke prediction of a model at load. */
const SMOKE_TEXT = 'fever and a dry cough for three days';

/** Refuses a model that cannot give answers: weights that are not finite, a smoke prediction that is not a
 * probability distribution over its labels. */
function checkServable(name: string, p: Predictor): void {
  const bad = (why: string) => new MedtuneError(`model ${name}: ${why}; the folder was not loaded`, 'E_MODEL_WEIGHTS');
  for (const [key, t] of p.loaded.model.namedParameters()) {
    if (t.dtype !== 'float32') continue;
    const a = t.f32;
    for (let i = 0; i < a.length; i++)
      if (a[i]! - a[i]! !== 0) throw bad(`the weights hold NaN or infinite values (first in ${key})`);
  }
  const labels = p.labels;
  if (!labels.length || new Set(labels).size !== labels.length || labels.some((l) => !l))
    throw bad('its label map is empty, has duplicates or empty names');
  const probs = Object.values(p.classify([SMOKE_TEXT])[0]!.probabilities);
  if (probs.length !== labels.length || probs.some((v) => !Number.isFinite(v) || v < 0 || v > 1))
    throw bad('a test prediction did not give one finite probability per label');
  const total = probs.reduce((a, v) => a + v, 0);
  if (!p.multiLabel && Math.abs(total - 1) > 1e-3)
    throw bad(`the probabilities of a test prediction sum to ${total.toFixed(4)}, not 1`);
}

const cancelled = (msg: DeidRequest | ExplainRequest | EntitiesRequest) => () =>
  Atomics.load(new Int32Array(msg.cancel), 0) === 1;

async function main(): Promise<void> {
  const port = parentPort!;
  const cfg = workerData as WorkerConfig;
  const predictors = new Map<string, Predictor>();
  const taggers = new Map<string, TokenPredictor>();
  try {
    setThreads(cfg.threads);
    if (cfg.precision) setPrecision(cfg.precision, '--precision');
    for (const m of cfg.models) {
      if (await isTokenClassifier(m.dir)) {
        taggers.set(m.name, await TokenPredictor.load(m.dir, { maxLength: m.maxLength, log: () => {} }));
        continue;
      }
      const p = await Predictor.load(m.dir, {
        name: m.name,
        maxLength: m.maxLength,
        maxDocumentTokens: m.maxDocumentTokens,
        batchSize: 32,
        log: () => {},
      });
      // (a batch from the batcher is sorted by length and split into passes of 32 texts, as offline)
      checkServable(m.name, p);
      predictors.set(m.name, p);
    }
  } catch (e) {
    port.postMessage(errorOf(e));
    return;
  }
  let deidModel: DeidModel | null = null;
  try {
    if (cfg.deidModel) deidModel = await DeidModel.load(cfg.deidModel, { log: () => {} });
  } catch (e) {
    port.postMessage(errorOf(e));
    return;
  }
  /** PHI found and replaced ([TAG]): the rules, with --deid-model rules ∪ model */
  const scrub = (texts: string[]) => {
    const found = deidModel?.analyzeBatch(texts);
    return texts.map((t, i) => deidentify(t, { operator: 'tag', entities: found?.[i] }));
  };
  port.postMessage({ type: 'ready' });
  const model = (name: string) => {
    const p = predictors.get(name);
    if (!p) throw new MedtuneError(`model ${name} is not loaded`, 'E_INTERNAL');
    return p;
  };
  const batch = (msg: BatchRequest): BatchResult => {
    const p = model(msg.model);
    const t0 = performance.now();
    const entities: number[] = [];
    const texts = cfg.deid
      ? scrub(msg.texts).map((r) => {
          entities.push(r.entities.length);
          return r.text;
        })
      : msg.texts;
    const enc = p.encode(texts);
    const decisions = p.decideEncoded(enc, msg.abstainBelow);
    return {
      type: 'result',
      id: msg.id,
      decisions,
      cut: enc.cut,
      entities,
      tokens: enc.ids.reduce((a, x) => a + x.length, 0),
      inferMs: performance.now() - t0,
    };
  };
  const side = (msg: DeidRequest | ExplainRequest | EntitiesRequest): SideResult => {
    const t0 = performance.now();
    const stop = cancelled(msg);
    if (stop()) throw new MedtuneError('the request was cancelled before it started', 'E_CANCELLED');
    let payload: unknown;
    if (msg.type === 'entities') {
      const t = taggers.get(msg.model);
      if (!t) throw new MedtuneError(`model ${msg.model} is not a token-classification model`, 'E_MODEL_TASK');
      payload = t.entities(cfg.deid ? scrub(msg.texts).map((r) => r.text) : msg.texts);
    } else if (msg.type === 'deid') {
      const [r] = scrub([msg.text]);
      payload = {
        text: r!.text,
        entities: r!.entities.map((e) => {
          const source = (e as { source?: string }).source;
          return { type: e.type, start: e.start, end: e.end, score: e.score, ...(source ? { source } : {}) };
        }),
      };
    } else {
      const text = cfg.deid ? scrub([msg.text])[0]!.text : msg.text;
      payload = explain(model(msg.model), text, {
        label: msg.label,
        steps: msg.steps,
        maxSteps: msg.maxSteps,
        cancelled: stop,
      });
    }
    return { type: 'result', id: msg.id, payload, inferMs: performance.now() - t0 };
  };
  port.on('message', (msg: WorkerRequest) => {
    try {
      port.postMessage(msg.type === 'batch' ? batch(msg) : side(msg));
    } catch (e) {
      port.postMessage(errorOf(e, msg.id));
    }
  });
}

if (parentPort) await main();
