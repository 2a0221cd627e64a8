/**
 * One chunk of a batch job, as a worker runs it (in the sandboxed child of `medtune worker`): the job's spec is read
 * from its folder, the chunk's input bytes, the model folder, list files and de-id key are checked against it, the
 * rows are run through the same workflow as without a queue (runPredict, runDeid; evaluate's probabilities) and the
 * result is written atomically, then its record (size, sha256, counts): the record is what makes a chunk done. A
 * chunk that is done already, or belongs to a job that is no longer there, is left alone (a duplicate delivery). An
 * input error (the data is wrong, or changed) is recorded for the coordinator, which stops the job; any other error
 * is thrown, so that BullMQ retries the chunk (possibly on another worker).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { atomicWriteStream, writeFileAtomic } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { readRows, textCell } from '../data/readers.js';
import { bytesSha256 } from '../data/slices.js';
import { runDeid, type DeidFileOptions } from '../deid/file.js';
import { DeidModel, runDeidWithModel } from '../infer/deid-model.js';
import { documentOverrides, type DocumentOverrides } from '../infer/model-info.js';
import { loadPredictor, runPredict, type PredictOptions } from '../infer/predict-file.js';
import { Predictor } from '../infer/predictor.js';
import { predictorProbabilities } from '../evaluate/evaluate.js';
import { readModelConfig } from '../models/auto.js';
import {
  chunkPaths,
  folderSha256,
  readSpec,
  rowsText,
  secretCheckOf,
  type ChunkDone,
  type ChunkFailed,
  type ChunkSpec,
  type FileCheck,
  type JobKind,
  type JobSpec,
} from './spec.js';
import { fileSha256 } from '../models/metadata.js';

/** What the queue carries for a chunk: paths, a row range and the job's key, never text. */
export interface ChunkJobData {
  dir: string;
  key: string;
  kind: JobKind;
  index: number;
  chunks: number;
  /** 1-based, inclusive (for logs) */
  rows: [number, number];
}

export type ChunkOutcome =
  | { state: 'done'; rows: number; seconds: number }
  | { state: 'already done' | 'obsolete' }
  | { state: 'refused'; code: string; message: string };

const noLog = () => {};

export async function runChunk(d: ChunkJobData, worker: string): Promise<ChunkOutcome> {
  const spec = readSpec(d.dir);
  const chunk = spec?.chunks[d.index];
  if (!spec || spec.key !== d.key || !chunk) return { state: 'obsolete' };
  const paths = chunkPaths(d.dir, d.index, spec.chunkExt);
  if (existsSync(paths.done)) return { state: 'already done' };
  const t0 = performance.now();
  try {
    await checkInput(spec, chunk);
    await checkWorker(spec, worker);
    const stats = await RUNNERS[spec.kind](spec, chunk, paths.out);
    const { size, sha256 } = await outputOf(paths.out);
    const seconds = (performance.now() - t0) / 1000;
    const done: ChunkDone = { index: d.index, rows: chunk.end - chunk.start, size, sha256, worker, seconds, stats };
    // a job finished meanwhile (by another delivery of this chunk) leaves no folder to write into
    if (readSpec(d.dir)?.key !== d.key) return { state: 'obsolete' };
    writeFileAtomic(paths.done, JSON.stringify(done) + '\n');
    return { state: 'done', rows: done.rows, seconds };
  } catch (e) {
    // the data is the same for every worker: retrying cannot help
    if (e instanceof MedtuneError && e.code.startsWith('E_INPUT_')) {
      const message = `${rowsText(chunk, spec.input.path)}: ${e.message}`;
      const failed: ChunkFailed = { index: d.index, code: e.code, message, worker };
      writeFileAtomic(paths.failed, JSON.stringify(failed) + '\n');
      return { state: 'refused', code: e.code, message };
    }
    throw e;
  }
}

const changed = (what: string) =>
  new MedtuneError(
    `--input changed during the job (${what} when the job started); nothing was written`,
    'E_INPUT_CHANGED',
  );

/** The input as the job found it: its size, and the sha256 of the chunk's bytes (else its modification time). */
async function checkInput(spec: JobSpec, chunk: ChunkSpec): Promise<void> {
  const st = statSync(spec.input.path, { throwIfNoEntry: false });
  if (!st) throw new MedtuneError(`--input ${spec.input.path} does not exist on this worker`, 'E_JOB_WORKER');
  if (st.size !== spec.input.size) throw changed('its size is not what it was');
  if (chunk.slice.bytes) {
    if ((await bytesSha256(spec.input.path, chunk.slice.bytes)) !== chunk.sha256)
      throw changed('the sha256 of these rows is not what it was');
  } else if (st.mtimeMs !== spec.input.mtimeMs) throw changed('it was modified after');
}

/** Checked once per process and file version: sha256 of a model folder or list file. */
const known = new Map<string, string>();

async function shaOf(c: FileCheck): Promise<string> {
  const p = c.option === '--model' && !existsSync(c.path) ? (await readModelConfig(c.path)).dir : c.path;
  const st = statSync(p, { throwIfNoEntry: false });
  if (!st) throw new MedtuneError(`${c.option} ${c.path} does not exist on this worker`, 'E_JOB_WORKER');
  const files = st.isDirectory() ? readdirSync(p).map((n) => path.join(p, n)) : [p];
  const id = files.map((f) => `${f}\0${statSync(f).mtimeMs}\0${statSync(f).size}`).join('\n');
  if (!known.has(id)) known.set(id, st.isDirectory() ? folderSha256(p) : fileSha256(p));
  return known.get(id)!;
}

/** This worker's copies of the model folder and list files, and its de-id key, are the job's. */
async function checkWorker(spec: JobSpec, worker: string): Promise<void> {
  for (const c of [...(spec.model ? [spec.model] : []), ...spec.files]) {
    const sha = await shaOf(c);
    if (sha !== c.sha256)
      throw new MedtuneError(
        `worker ${worker}: ${c.option} ${c.path} has sha256 ${sha.slice(0, 12)}… here, ` +
          `the job's is ${c.sha256.slice(0, 12)}…; give every worker the same files`,
        'E_JOB_WORKER',
      );
  }
  if (spec.secretCheck && secretCheckOf(process.env.MEDTUNE_DEID_SECRET) !== spec.secretCheck)
    throw new MedtuneError(
      `worker ${worker}: its MEDTUNE_DEID_SECRET is not the key the job was started with ` +
        '(start workers with MEDTUNE_DEID_SECRET set to the --secret of the deid command)',
      'E_JOB_WORKER',
    );
}

/** A worker process keeps its last model across chunks (loading one takes longer than many chunks). */
let cached: { id: string; model: unknown } | null = null;

async function modelFor<T>(id: unknown[], load: () => Promise<T>): Promise<T> {
  const key = JSON.stringify(id);
  if (cached?.id !== key) cached = { id: key, model: await load() };
  return cached.model as T;
}

type Runner = (spec: JobSpec, chunk: ChunkSpec, out: string) => Promise<Record<string, unknown>>;

const RUNNERS: Record<JobKind, Runner> = {
  predict: async (spec, chunk, out) => {
    const o = { ...(spec.options as unknown as PredictOptions), model: spec.model!.path, input: spec.input.path };
    const predictor = await modelFor(['predict', spec.model, spec.options], () => loadPredictor(o, noLog));
    const r = await runPredict({ ...o, output: out, slice: chunk.slice, predictor, log: noLog });
    return { truncated: r.truncated, empty: r.empty };
  },
  deid: async (spec, chunk, out) => {
    const o = spec.options as unknown as DeidFileOptions & { recallBias?: number };
    const files = { ...o, input: spec.input.path, output: out, slice: chunk.slice, log: noLog };
    // rules ∪ the job's de-identification model when it names one
    const model = spec.model?.path;
    const load = () => DeidModel.load(model!, { recallBias: o.recallBias, log: noLog });
    const r = model
      ? await runDeidWithModel({ ...files, model, loaded: await modelFor(['deid', spec.model, o.recallBias], load) })
      : await runDeid(files);
    return { bytes: r.bytes, entities: r.entities };
  },
  evaluate: evaluateChunk,
};

interface EvaluateChunkOptions extends DocumentOverrides {
  textColumn: string;
  pairColumn?: string;
  format?: string;
  encoding?: string;
  maxLength?: number;
  batchSize?: number;
  threshold?: number;
  abstainBelow?: number | null;
}

/** evaluate: the calibrated probabilities and out-of-scope score of the chunk's examples, one JSON object per line. */
async function evaluateChunk(spec: JobSpec, chunk: ChunkSpec, out: string): Promise<Record<string, unknown>> {
  const o = spec.options as unknown as EvaluateChunkOptions;
  const { maxLength, batchSize, threshold, abstainBelow } = o;
  const load = { maxLength, batchSize, threshold, abstainBelow, ...documentOverrides(o), log: noLog };
  const predictor = await modelFor(['evaluate', spec.model, load], () => Predictor.load(spec.model!.path, load));
  const skip = new Set(chunk.skip ?? []);
  const file = spec.input.path;
  const texts: string[] = [];
  const pairs: string[] = [];
  let row = chunk.start;
  for await (const r of readRows(file, { format: o.format, encoding: o.encoding, slice: chunk.slice })) {
    if (skip.has(++row)) continue;
    texts.push(textCell(r[o.textColumn], { file, row, column: o.textColumn }));
    if (o.pairColumn) pairs.push(textCell(r[o.pairColumn], { file, row, column: o.pairColumn }));
  }
  if (texts.length !== chunk.examples) throw changed('these rows do not hold the examples they held');
  const enc = predictor.encode(texts, o.pairColumn ? pairs : null);
  const { probabilities, oodScores } = await predictorProbabilities(predictor, enc);
  const w = atomicWriteStream(out);
  try {
    for (const [k, p] of probabilities.entries()) await w.write(JSON.stringify({ p, ood: oodScores[k] }) + '\n');
    await w.commit();
  } catch (e) {
    w.abort();
    throw e;
  }
  return { examples: texts.length };
}

async function outputOf(file: string): Promise<{ size: number; sha256: string }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const b of createReadStream(file)) {
    h.update(b as Buffer);
    size += (b as Buffer).length;
  }
  return { size, sha256: h.digest('hex') };
}
