/**
 * predict, deid and evaluate with or without `queue`: the entry points the commands and the public API call. Without
 * a queue they are runPredict, runDeid and runEvaluate. With one, the input is checked as those check it, scanned
 * once for its chunks (data/slices.ts), the chunks run on `medtune worker` processes (coordinator.ts, chunk.ts) and
 * the output is assembled in input order: byte for byte the file one process writes.
 */
import path from 'node:path';
import { rmSync } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import { prepareOutputFile } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { checkInputFile, formatOf, pickColumn, readRows, TEXT_COLUMNS, type Row } from '../data/readers.js';
import { scanInput, sliceOf, type InputScan } from '../data/slices.js';
import type { LabeledData } from '../data/dataset.js';
import { checkDeidFiles, listFile, runDeid, usesSecret, type DeidFileOptions } from '../deid/file.js';
import { columnsOf, runPredict, type PredictOptions, type PredictResult } from '../infer/predict-file.js';
import { abstentionOverride, describeModel, documentOverrides } from '../infer/model-info.js';
import type { Predictor } from '../infer/predictor.js';
import { isTokenClassifier } from '../infer/token-predict-file.js';
import { runDeidWithModel } from '../infer/deid-model.js';
import { EVAL_CHUNK, type Scores } from '../evaluate/evaluate.js';
import { runEvaluate, type EvaluateOptions } from '../evaluate/run.js';
import { parseCleanSteps } from '../text/clean.js';
import { assemble, chunkResults, coordinate, probeRedis } from './coordinator.js';
import {
  fileCheck,
  jobFolder,
  jobOptions,
  keyOf,
  modelCheck,
  secretCheckOf,
  type ChunkDone,
  type ChunkSpec,
  type JobSpec,
} from './spec.js';

export interface QueueOptions {
  /** redis://HOST:PORT: run in chunks on `medtune worker` processes (BullMQ); the same call again resumes */
  queue?: string;
  /** rows per chunk (default 1024; predict: a multiple of the batch size, evaluate: of 256) */
  chunkRows?: number;
}

export type QueuedPredictOptions = PredictOptions & QueueOptions;
export type QueuedDeidOptions = DeidFileOptions &
  QueueOptions & {
    /** rules ∪ this de-identification model (from `medtune deid train`) */
    model?: string;
    /** with `model`: the PHI probability from which the model tags a word (default: the model's) */
    recallBias?: number;
  };
export type QueuedEvaluateOptions = EvaluateOptions & QueueOptions;

export const DEFAULT_CHUNK_ROWS = 1024;
const stderr = (l: string) => process.stderr.write(l + '\n');

/** --chunk-rows rounded up to a multiple of `unit` (so that chunks batch rows as one process does). */
function chunkRowsOf(o: QueueOptions, unit: number): number {
  const n = o.chunkRows ?? DEFAULT_CHUNK_ROWS;
  if (!Number.isInteger(n) || n < 1) throw new MedtuneError(`--chunk-rows ${n} is not a positive integer`, 'E_USAGE');
  return Math.ceil(n / unit) * unit;
}

async function firstRow(file: string, o: { format?: string; encoding?: string }): Promise<Row | null> {
  for await (const r of readRows(file, { format: o.format, encoding: o.encoding })) return r;
  return null;
}

interface SpecParts {
  kind: JobSpec['kind'];
  scan: InputScan;
  chunks: ChunkSpec[];
  chunkRows: number;
  options: Record<string, unknown>;
  model?: JobSpec['model'];
  files?: JobSpec['files'];
  secretCheck?: string;
  chunkExt: string;
}

function specOf(p: SpecParts): JobSpec {
  const { scan } = p;
  const input = {
    path: path.resolve(scan.file),
    format: scan.format,
    size: scan.size,
    mtimeMs: scan.mtimeMs,
    sha256: scan.sha256,
    rows: scan.rows,
  };
  const spec: Omit<JobSpec, 'key'> = {
    version: 1,
    kind: p.kind,
    input,
    ...(p.model ? { model: p.model } : {}),
    files: p.files ?? [],
    ...(p.secretCheck ? { secretCheck: p.secretCheck } : {}),
    options: p.options,
    chunkRows: p.chunkRows,
    chunkExt: p.chunkExt,
    chunks: p.chunks,
  };
  return { ...spec, key: keyOf(spec) };
}

/** Chunks of `size` rows from the start of the file. */
function evenChunks(scan: InputScan, size: number, columns?: string[]): ChunkSpec[] {
  const chunks: ChunkSpec[] = [];
  for (let start = 0; start < scan.rows; start += size) {
    const end = Math.min(scan.rows, start + size);
    const { slice, sha256 } = sliceOf(scan, start, end);
    chunks.push({ index: chunks.length, start, end, slice: { ...slice, ...(columns ? { columns } : {}) }, sha256 });
  }
  return chunks;
}

const sum = (done: ChunkDone[], f: (s: Record<string, unknown>) => number) => done.reduce((n, d) => n + f(d.stats), 0);

/** `medtune predict` (and the public `predictFile`): one JSON line per row, on the queue when `queue` is given. */
export async function predictFile(o: QueuedPredictOptions): Promise<PredictResult> {
  if (!o.queue) return runPredict(o);
  const log = o.log ?? stderr;
  checkInputFile(o.input, '--input');
  const format = formatOf(o.input, o.format);
  prepareOutputFile(o.output, { inputs: [o.input] });
  parseCleanSteps(o.clean);
  if (await isTokenClassifier(o.model))
    throw new MedtuneError(
      '--queue runs sequence classifiers; run this token-classification model without --queue',
      'E_USAGE',
    );
  await probeRedis(o.queue);
  await describeModel(o.model, { maxLength: o.maxLength });
  const first = await firstRow(o.input, o);
  if (!first) return runPredict(o); // its own message for a file without rows
  const [textColumn] = columnsOf(first, o, log);
  const chunkRows = chunkRowsOf(o, o.batchSize ?? 32); // the Predictor's batches, as one process makes them
  const scan = await scanInput(o.input, { format, encoding: o.encoding, isStart: (r) => r % chunkRows === 0 });
  const spec = specOf({
    kind: 'predict',
    scan,
    chunks: evenChunks(scan, chunkRows),
    chunkRows,
    options: jobOptions({ ...o, textColumn }, ['model', 'input', 'output']),
    model: await modelCheck(o.model),
    chunkExt: '.jsonl',
  });
  const dir = jobFolder('predict', o.output);
  const r = await coordinate({ url: o.queue, spec, dir, log });
  await assemble(spec, dir, r.done, o.output);
  const [truncated, empty] = [sum(r.done, (s) => s.truncated as number), sum(r.done, (s) => s.empty as number)];
  const notes = [
    truncated ? `${truncated} texts were truncated to the model's max length (see truncated_tokens)` : '',
    empty ? `${empty} rows had an empty text (written with "skipped": "empty text")` : '',
  ].filter(Boolean);
  log(
    `wrote ${scan.rows} predictions to ${o.output}; ${r.rows} rows run on the queue in ${r.seconds.toFixed(1)} s ` +
      `(${(r.rows / r.seconds).toFixed(1)} rows/s)${notes.length ? `; ${notes.join('; ')}` : ''}`,
  );
  return { rows: scan.rows, seconds: r.seconds, truncated, empty };
}

export interface DeidResult {
  rows: number;
  bytes: number;
  mbPerSecond: number;
  entities: Record<string, number>;
}

/** `medtune deid` (and the public `deidentifyFile`), on the queue when `queue` is given. */
export async function deidentifyFile(o: QueuedDeidOptions): Promise<DeidResult> {
  if (o.recallBias !== undefined && !o.model) throw new MedtuneError('--recall-bias needs --model DIR', 'E_USAGE');
  if (!o.queue) return o.model ? runDeidWithModel({ ...o, model: o.model }) : runDeid(o);
  const log = o.log ?? stderr;
  const { inFmt: format, outFmt, secret } = checkDeidFiles(o, log);
  const files = (['allow', 'deny'] as const)
    .filter((k) => o[k])
    .map((k) => {
      listFile(o[k]); // readable, as one process needs it
      return fileCheck(`--${k}`, o[k]!);
    });
  const model = o.model;
  await probeRedis(o.queue);
  const first = await firstRow(o.input, o);
  if (!first) return runDeid(o); // a header-only or empty file, as one process writes it
  const header = Object.keys(first);
  const textColumn = pickColumn(header, o.textColumn, TEXT_COLUMNS, 'text', o.input);
  if (o.patientColumn) pickColumn(header, o.patientColumn, [], 'patient', o.input);
  const chunkRows = chunkRowsOf(o, 1);
  const scan = await scanInput(o.input, { format, encoding: o.encoding, isStart: (r) => r % chunkRows === 0 });
  const spec = specOf({
    kind: 'deid',
    scan,
    chunks: evenChunks(scan, chunkRows, header),
    chunkRows,
    options: jobOptions({ ...o, textColumn }, ['input', 'output', 'inPlace'], ['allow', 'deny', 'model']),
    ...(model ? { model: await modelCheck(model) } : {}),
    files,
    // only the operators that use the key need the workers to hold the same one
    ...(usesSecret(o.operator) ? { secretCheck: secretCheckOf(secret) } : {}),
    chunkExt: path.extname(o.output),
  });
  const dir = jobFolder('deid', o.output);
  const r = await coordinate({ url: o.queue, spec, dir, log });
  const head = outFmt === 'jsonl' ? '' : stringify([header], { delimiter: outFmt === 'tsv' ? '\t' : ',' });
  await assemble(spec, dir, r.done, o.output, head);
  const bytes = sum(r.done, (s) => s.bytes as number);
  const entities: Record<string, number> = {};
  for (const d of r.done)
    for (const [k, v] of Object.entries(d.stats.entities as Record<string, number>))
      entities[k] = (entities[k] ?? 0) + v;
  const total = Object.values(entities).reduce((a, b) => a + b, 0);
  const mbPerSecond = bytes / 1e6 / r.seconds;
  log(
    `de-identified ${scan.rows} rows (${(bytes / 1e6).toFixed(1)} MB of text); ${r.rows} rows run on the queue in ` +
      `${r.seconds.toFixed(1)} s (${(r.rows / r.seconds).toFixed(1)} rows/s); ${total} entities (` +
      Object.entries(entities)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') +
      `) -> ${o.output}`,
  );
  return { rows: scan.rows, bytes, mbPerSecond, entities };
}

/**
 * evaluate's options with the probabilities computed on the queue when `queue` is given (the Redis server is probed
 * first); the metrics, predictions and reports are then made by this process as without a queue.
 */
export async function withQueue(o: QueuedEvaluateOptions, log: (l: string) => void): Promise<EvaluateOptions> {
  const { queue, chunkRows: _rows, ...rest } = o;
  if (!queue) return rest;
  const chunkRows = chunkRowsOf(o, EVAL_CHUNK); // the chunks evaluate's Predictor calls take
  await probeRedis(queue);
  return { ...rest, probabilitiesOf: (p, data) => probabilitiesOnQueue({ ...rest, queue, chunkRows }, p, data, log) };
}

/** The public `evaluate`: runEvaluate, on the queue when `queue` is given. */
export async function evaluate(o: QueuedEvaluateOptions, log: (l: string) => void = (l) => console.log(l)) {
  return runEvaluate(await withQueue(o, log), log);
}

async function probabilitiesOnQueue(
  o: EvaluateOptions & { queue: string; chunkRows: number },
  _predictor: Predictor,
  data: LabeledData,
  log: (l: string) => void,
): Promise<Scores> {
  const ex = data.examples;
  const starts: number[] = [];
  for (let k = 0; k < ex.length; k += o.chunkRows) starts.push(ex[k]!.row - 1);
  const at = new Set(starts);
  const scan = await scanInput(o.test, { format: o.format, encoding: o.encoding, isStart: (r) => at.has(r) });
  const skipped = data.skipped.map((s) => s.row);
  const chunks: ChunkSpec[] = starts.map((start, index) => {
    const end = starts[index + 1] ?? scan.rows;
    const examples = Math.min(o.chunkRows, ex.length - index * o.chunkRows);
    const skip = skipped.filter((r) => r > start && r <= end);
    return { index, start, end, ...sliceOf(scan, start, end), skip, examples };
  });
  const { maxLength, batchSize, threshold, format, encoding } = o;
  const abstainBelow = abstentionOverride(o);
  const options = { textColumn: data.textColumn, pairColumn: data.pairColumn, format, encoding };
  const spec = specOf({
    kind: 'evaluate',
    scan,
    chunks,
    chunkRows: o.chunkRows,
    options: jobOptions({ ...options, maxLength, batchSize, threshold, abstainBelow, ...documentOverrides(o) }, []),
    model: await modelCheck(o.model),
    chunkExt: '.jsonl',
  });
  const dir = jobFolder('evaluate', o.outputDir);
  const r = await coordinate({ url: o.queue, spec, dir, log });
  const probabilities: number[][] = [];
  const oodScores: (number | null)[] = [];
  let tail = '';
  for await (const s of chunkResults(spec, dir, r.done)) {
    const lines = (tail + s).split('\n');
    tail = lines.pop()!;
    for (const l of lines) {
      const { p, ood } = JSON.parse(l) as { p: number[]; ood: number | null };
      probabilities.push(p);
      oodScores.push(ood);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  if (probabilities.length !== ex.length)
    throw new MedtuneError(`the chunks of ${dir} hold ${probabilities.length} results, not ${ex.length}`, 'E_INTERNAL');
  log(`probabilities of ${ex.length} examples: ${r.rows} rows run on the queue in ${r.seconds.toFixed(1)} s`);
  return { probabilities, oodScores };
}
