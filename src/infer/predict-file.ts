/** Classifying every row of a CSV/TSV/JSONL/Parquet file (what `medtune predict` runs): one JSON object per row. */
import { performance } from 'node:perf_hooks';
import { atomicWriteStream, prepareOutputFile } from '../common/atomic.js';
import { parseCleanSteps, type PreprocessingOptions } from '../text/clean.js';
import {
  checkInputFile,
  DataError,
  formatOf,
  pickColumn,
  readRows,
  textCell,
  TEXT_COLUMNS,
  type Row,
  type RowSlice,
} from '../data/readers.js';
import { Predictor } from './predictor.js';
import { abstentionOverride, documentOverrides, type DocumentOverrides } from './model-info.js';
import { hasWords } from './input.js';
import { isTokenClassifier, runTokenPredict } from './token-predict-file.js';

export interface PredictOptions extends DocumentOverrides {
  model: string;
  input: string;
  output: string;
  textColumn?: string;
  textPairColumn?: string;
  maxLength?: number;
  batchSize?: number;
  logits?: boolean;
  format?: string;
  encoding?: string;
  threshold?: number;
  topK?: number;
  /** --clean [steps]: overrides the cleaning recorded in the model's medtune.preprocessing */
  clean?: string | boolean;
  /** abstain below this confidence and on out-of-scope notes (overrides the model's setting; 0: out of scope only) */
  abstainBelow?: number;
  /** false: never abstain (--no-abstain) */
  abstain?: boolean;
  log?: (line: string) => void;
  /** only these rows, numbered as in the whole file (a chunk of a queued job: jobs/) */
  slice?: RowSlice;
  /** a Predictor loaded with these options (a queue worker keeps one across chunks) */
  predictor?: Predictor;
}

export interface PredictResult {
  rows: number;
  seconds: number;
  /** texts cut to the model's max length, and rows with an empty text (sequence classifiers) */
  truncated?: number;
  empty?: number;
}

/**
 * `--clean [steps]` replaces the model's recorded cleaning; without it the Predictor applies what the model records.
 */
function cleanOverride(spec: string | boolean | undefined): { preprocessing?: PreprocessingOptions } {
  const clean = parseCleanSteps(spec);
  return clean ? { preprocessing: { clean } } : {};
}

/** The Predictor of a predict run. */
export function loadPredictor(o: PredictOptions, log: (l: string) => void): Promise<Predictor> {
  const { maxLength, batchSize, threshold } = o;
  const abstainBelow = abstentionOverride(o);
  const load = {
    maxLength,
    batchSize,
    threshold,
    abstainBelow,
    log,
    ...cleanOverride(o.clean),
    ...documentOverrides(o),
  };
  return Predictor.load(o.model, load);
}

export async function runPredict(o: PredictOptions): Promise<PredictResult> {
  if (!o.predictor && (await isTokenClassifier(o.model))) return runTokenPredict(o);
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  checkInputFile(o.input, '--input');
  formatOf(o.input, o.format);
  prepareOutputFile(o.output, { inputs: [o.input] });
  const predictor = o.predictor ?? (await loadPredictor(o, log));
  const out = atomicWriteStream(o.output);
  const t0 = performance.now();
  let rows = 0;
  let truncated = 0;
  let empty = 0;
  let wordless = 0;
  let textCol: string | undefined;
  let pairCol: string | undefined;
  const batchSize = predictor.batchSize;
  const flush = async (batch: { row: number; text: string; pair?: string }[]) => {
    const kept = batch.filter((b) => hasWords(b.text));
    const results = predictor.classify(
      kept.map((b) => b.text),
      { pairs: pairCol ? kept.map((b) => b.pair ?? '') : null, topK: o.topK, logits: o.logits },
    );
    let k = 0;
    for (const b of batch) {
      if (!hasWords(b.text)) {
        const blank = !b.text.trim();
        if (blank) empty++;
        else wordless++;
        const skipped = blank ? 'empty text' : 'no letters or digits';
        await out.write(JSON.stringify({ row: b.row, label: null, skipped }) + '\n');
        continue;
      }
      const r = results[k++]!;
      if (r.truncated_tokens) truncated++;
      await out.write(JSON.stringify({ row: b.row, ...r }) + '\n');
    }
    rows += batch.length;
    if (rows % (batchSize * 20) < batch.length)
      log(`  ${rows} rows, ${(rows / ((performance.now() - t0) / 1000)).toFixed(1)} rows/s`);
  };
  try {
    let batch: { row: number; text: string; pair?: string }[] = [];
    let n = o.slice?.start ?? 0;
    for await (const row of readRows(o.input, { format: o.format, encoding: o.encoding, slice: o.slice })) {
      n++;
      if (textCol === undefined) [textCol, pairCol] = columnsOf(row, o, log);
      const text = textCell(row[textCol], { file: o.input, row: n, column: textCol });
      const pair = pairCol ? textCell(row[pairCol], { file: o.input, row: n, column: pairCol }) : undefined;
      batch.push({ row: n, text, ...(pair !== undefined ? { pair } : {}) });
      if (batch.length === batchSize) {
        await flush(batch);
        batch = [];
      }
    }
    if (batch.length) await flush(batch);
    if (rows === 0) throw new DataError(`${o.input} has no rows`, 'E_INPUT_EMPTY');
    await out.commit();
  } catch (e) {
    out.abort();
    throw e;
  }
  const seconds = (performance.now() - t0) / 1000;
  const notes = [
    truncated ? `${predictor.cutNote(truncated)} (see truncated_tokens)` : '',
    empty ? `${empty} rows had an empty text (written with "skipped": "empty text")` : '',
    wordless
      ? `${wordless} rows had no letter or digit (only punctuation, symbols, invisible or control characters; ` +
        'written with "skipped": "no letters or digits", not classified)'
      : '',
  ].filter(Boolean);
  log(
    `wrote ${rows} predictions to ${o.output} in ${seconds.toFixed(1)} s (${(rows / seconds).toFixed(1)} rows/s)` +
      `${notes.length ? `; ${notes.join('; ')}` : ''}`,
  );
  return { rows, seconds, truncated, empty };
}

/** The text (and text-pair) column of a file, from its first row; a detected one is said. */
export function columnsOf(row: Row, o: PredictOptions, log: (l: string) => void): [string, string | undefined] {
  const cols = Object.keys(row);
  const textCol = pickColumn(cols, o.textColumn, TEXT_COLUMNS, 'text', o.input);
  const pairCol = o.textPairColumn ? pickColumn(cols, o.textPairColumn, [], 'text-pair', o.input) : undefined;
  if (!o.textColumn) log(`text column: "${textCol}" (detected; use --text-column to choose another)`);
  return [textCol, pairCol];
}
