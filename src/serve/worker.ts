/**
 * An inference worker (worker_threads): loads every served model once and does the model work the HTTP thread
 * sends it — classification batches, de-identification previews and explanations — so that no model computation
 * ever runs on the HTTP thread. Messages in: { type: 'batch' | 'deid' | 'explain', id, … }; out: { type: 'ready' } |
 * { type: 'result', id, … } | { type: 'error', id?, code, message }. Batch results carry no text (the Predictor's
 * decisions and counts only: the HTTP thread builds its answers from these decisions and decides nothing again);
 * deid and explain results carry the text back to the client who sent it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Predictor } from '../infer/predictor.js';
import type { Decision } from '../infer/decision.js';
import { setThreads } from '../tensor/backend.js';
import { setPrecision } from '../tensor/precision.js';
import { deidentify } from '../deid/anonymize.js';
import { explain } from '../infer/explain.js';
import { TokenPredictor } from '../infer/token-predictor.js';
import { DeidModel } from '../infer/deid-model.js';
import { isTokenClassifier } from '../infer/token-predict-file.js';
import { MedtuneError } from '../common/errors.js';

export interface WorkerConfig {
  models: { name: string; dir: string; maxLength?: number }[];
  threads: number;
  deid: boolean;
  /** a de-identification model beside the rules (deid and the preview: rules ∪ model) */
  deidModel?: string;
  precision?: 'fp32' | 'bf16';
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
}

export interface ExplainRequest {
  type: 'explain';
  id: number;
  model: string;
  text: string;
  label?: string;
  steps?: number;
}

/** Entities of texts with a token-classification model (POST /v1/entities). */
export interface EntitiesRequest {
  type: 'entities';
  id: number;
  model: string;
  texts: string[];
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
      predictors.set(
        m.name,
        await Predictor.load(m.dir, { name: m.name, maxLength: m.maxLength, batchSize: 32, log: () => {} }),
      );
      // (a batch from the batcher is sorted by length and split into passes of 32 texts, as offline)
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
    const decisions = p.logitsOf(enc).map((row, i) => p.decide(row, { abstainBelow: msg.abstainBelow[i] }));
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
      payload = explain(model(msg.model), text, { label: msg.label, steps: msg.steps });
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
