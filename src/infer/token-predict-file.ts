/**
 * `medtune predict` with a token-classification model: every row's text -> its entities as character spans
 * (`{row, entities: [{start, end, label, score}]}`), texts of any length (windows with stride).
 */
import { performance } from 'node:perf_hooks';
import { atomicWriteStream, prepareOutputFile } from '../common/atomic.js';
import { checkInputFile, DataError, formatOf, pickColumn, readRows, textCell, TEXT_COLUMNS } from '../data/readers.js';
import { readModelConfig } from '../models/auto.js';
import { headKindOf } from '../models/families.js';
import { TokenPredictor } from './token-predictor.js';

/** Whether a model folder holds a token classifier (config.json's architectures; no weights read). */
export async function isTokenClassifier(model: string): Promise<boolean> {
  const { config } = await readModelConfig(model);
  return headKindOf(config) === 'token-classification';
}

export interface TokenPredictFileOptions {
  model: string;
  input: string;
  output: string;
  textColumn?: string;
  maxLength?: number;
  batchSize?: number;
  threshold?: number;
  format?: string;
  encoding?: string;
  log?: (line: string) => void;
}

/** Writes the entities of every row of a file, one JSON object per row. */
export async function runTokenPredict(o: TokenPredictFileOptions): Promise<{ rows: number; seconds: number }> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  checkInputFile(o.input, '--input');
  formatOf(o.input, o.format);
  prepareOutputFile(o.output, { inputs: [o.input] });
  const p = await TokenPredictor.load(o.model, { maxLength: o.maxLength, threshold: o.threshold, log });
  const out = atomicWriteStream(o.output);
  const t0 = performance.now();
  let rows = 0;
  let col: string | undefined;
  const flush = async (batch: { row: number; text: string }[]) => {
    const found = p.entities(batch.map((b) => b.text));
    for (const [k, b] of batch.entries()) await out.write(JSON.stringify({ row: b.row, entities: found[k] }) + '\n');
    rows += batch.length;
  };
  try {
    let batch: { row: number; text: string }[] = [];
    for await (const row of readRows(o.input, { format: o.format, encoding: o.encoding })) {
      col ??= pickColumn(Object.keys(row), o.textColumn, TEXT_COLUMNS, 'text', o.input);
      batch.push({
        row: rows + batch.length + 1,
        text: textCell(row[col], { file: o.input, row: rows + 1, column: col }),
      });
      if (batch.length === (o.batchSize ?? 32)) {
        await flush(batch);
        batch = [];
      }
    }
    if (batch.length) await flush(batch);
    if (!rows) throw new DataError(`${o.input} has no rows`, 'E_INPUT_EMPTY');
    await out.commit();
  } catch (e) {
    out.abort();
    throw e;
  }
  const seconds = (performance.now() - t0) / 1000;
  log(
    `wrote the entities of ${rows} rows to ${o.output} in ${seconds.toFixed(1)} s (${(rows / seconds).toFixed(1)}/s)`,
  );
  return { rows, seconds };
}
