/**
 * An inference worker (worker_threads): loads every served model once and classifies the batches the HTTP thread
 * sends it, so that no model computation ever runs on the HTTP thread. Optionally de-identifies texts first.
 * Messages in: { type: 'batch', id, model, texts }; out: { type: 'ready' } | { type: 'result', id, ... } |
 * { type: 'error', id?, code, message }. Messages never carry patient text back (only probabilities and counts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Predictor } from '../infer/predictor.js';
import { setThreads } from '../tensor/backend.js';
import { deidentify } from '../deid/anonymize.js';
import { MedtuneError } from '../common/errors.js';

export interface WorkerConfig {
  models: { name: string; dir: string; maxLength?: number }[];
  threads: number;
  deid: boolean;
}

export interface BatchRequest {
  type: 'batch';
  id: number;
  model: string;
  texts: string[];
}

export interface BatchResult {
  type: 'result';
  id: number;
  /** calibrated probabilities per text */
  probabilities: number[][];
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

async function main(): Promise<void> {
  const port = parentPort!;
  const cfg = workerData as WorkerConfig;
  const predictors = new Map<string, Predictor>();
  try {
    setThreads(cfg.threads);
    for (const m of cfg.models) {
      predictors.set(m.name, await Predictor.load(m.dir, { name: m.name, maxLength: m.maxLength, batchSize: 32, log: () => {} }));
      // (a batch from the batcher is sorted by length and split into passes of 32 texts, as offline)
    }
  } catch (e) {
    const err: WorkerError = { type: 'error', code: e instanceof MedtuneError ? e.code : 'E_INTERNAL', message: (e as Error).message };
    port.postMessage(err);
    return;
  }
  port.postMessage({ type: 'ready' });
  port.on('message', (msg: BatchRequest) => {
    if (msg.type !== 'batch') return;
    try {
      const p = predictors.get(msg.model);
      if (!p) throw new MedtuneError(`model ${msg.model} is not loaded`, 'E_INTERNAL');
      const t0 = performance.now();
      const entities: number[] = [];
      const texts = cfg.deid ? msg.texts.map((t) => {
        const r = deidentify(t, { operator: 'tag' });
        entities.push(r.entities.length);
        return r.text;
      }) : msg.texts;
      const enc = p.encode(texts);
      const probabilities = p.logitsOf(enc).map((row) => p.decide(row).probabilities);
      const res: BatchResult = {
        type: 'result', id: msg.id, probabilities, cut: enc.cut, entities, tokens: enc.ids.reduce((a, x) => a + x.length, 0),
        inferMs: performance.now() - t0,
      };
      port.postMessage(res);
    } catch (e) {
      const err: WorkerError = { type: 'error', id: msg.id, code: e instanceof MedtuneError ? e.code : 'E_INTERNAL', message: (e as Error).message };
      port.postMessage(err);
    }
  });
}

if (parentPort) await main();
