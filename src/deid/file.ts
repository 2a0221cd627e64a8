/**
 * De-identifying a file (what `medtune deid` runs): the text column of a CSV/TSV/JSONL file, streamed row by row
 * (flat memory), written in the same format; JSONL rows also get `entities` with offsets into the original text.
 * And `medtune deid-eval`: precision / recall / F1 / F2 per type on a Presidio-format gold file.
 */
import { readFileSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { stringify } from 'csv-stringify/sync';
import {
  checkInputFile,
  formatOf,
  pickColumn,
  readRows,
  textCell,
  TEXT_COLUMNS,
  DataError,
  type Row,
  type RowFormat,
  type RowSlice,
} from '../data/readers.js';
import { atomicWriteStream, prepareOutputFile, writeFileAtomic } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { deidentify, type Operator } from './anonymize.js';
import type { AnalyzeOptions, Entity } from './analyzer.js';
import { evaluateDeid, type GoldDoc } from './evaluate.js';

export interface DeidFileOptions {
  input: string;
  output: string;
  textColumn?: string;
  operator: Operator;
  secret?: string;
  patientColumn?: string;
  allow?: string;
  deny?: string;
  encoding?: string;
  /** format of the input (default: from its extension) */
  format?: string;
  /** write the output over the input file (only when asked: the original is lost) */
  inPlace?: boolean;
  /**
   * finds the entities of a batch of texts instead of the rules alone (rules ∪ a model: infer/deid-model.ts); rows
   * are then read in batches of `batchSize` (default 16)
   */
  analyzeBatch?: (texts: string[], o: AnalyzeOptions) => (Entity & { source?: string })[][];
  batchSize?: number;
  log?: (l: string) => void;
  /**
   * only these rows, numbered as in the whole file, written without a header (a chunk of a queued job: jobs/);
   * its `columns` are the output's (the CSV/TSV header, or the keys of a JSONL file's first row)
   */
  slice?: RowSlice;
}

/** Whether the operator uses the key (surrogates, hashes): jobs check that workers hold the same one. */
export const usesSecret = (operator: string | undefined) => operator === 'surrogate' || operator === 'hash';

/**
 * What `deid` checks before it reads a row, in one process or as a queued job's coordinator: the input, the output
 * (never the input unless --in-place), the formats, and a warning when a key-based operator has no key.
 */
export function checkDeidFiles(
  o: DeidFileOptions,
  log: (l: string) => void,
): { inFmt: RowFormat; outFmt: RowFormat; secret: string | undefined } {
  checkInputFile(o.input, '--input');
  prepareOutputFile(o.output, {
    inputs: [o.input],
    allowInput: o.inPlace,
    inputHint: 'pass --in-place to replace it on purpose',
  });
  const inFmt = formatOf(o.input, o.format);
  const outFmt = formatOf(o.output, undefined, null);
  if (inFmt === 'parquet' || outFmt === 'parquet')
    throw new DataError('medtune deid reads and writes CSV, TSV or JSONL', 'E_INPUT_FORMAT');
  const secret = o.secret ?? process.env.MEDTUNE_DEID_SECRET;
  if (usesSecret(o.operator) && !secret)
    log(
      'warning: no --secret (or MEDTUNE_DEID_SECRET): surrogates and hashes use a public default key, ' +
        'so they can be reversed by anyone with medtune',
    );
  return { inFmt, outFmt, secret };
}

/** The words of an --allow / --deny list (a clear error when it cannot be read). */
export function listFile(f: string | undefined): string[] {
  if (!f) return [];
  try {
    return readFileSync(f, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
  } catch {
    throw new MedtuneError(`cannot read the list ${f} (it does not exist or is not a text file)`, 'E_USAGE');
  }
}

export async function runDeid(
  o: DeidFileOptions,
): Promise<{ rows: number; bytes: number; mbPerSecond: number; entities: Record<string, number> }> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const { inFmt, outFmt, secret } = checkDeidFiles(o, log);
  const allowList = listFile(o.allow);
  const denyList = listFile(o.deny);
  const out = atomicWriteStream(o.output);
  const write = out.write;
  const counts: Record<string, number> = {};
  let rows = 0;
  let bytes = 0;
  let textCol: string | undefined;
  let header: string[] | null = o.slice?.columns ?? null;
  const t0 = performance.now();
  try {
    const writeHeader = async (cols: string[]) => {
      if (header || outFmt === 'jsonl') return;
      header = cols;
      await write(stringify([header], { delimiter: outFmt === 'tsv' ? '\t' : ',' }));
    };
    const batch = o.analyzeBatch ? (o.batchSize ?? 16) : 1;
    let pending: { row: Row; text: string }[] = [];
    const analyzeOpts = { allowList, denyList };
    const flush = async () => {
      if (!pending.length) return;
      const found = o.analyzeBatch?.(
        pending.map((p) => p.text),
        analyzeOpts,
      );
      for (const [k, { row, text }] of pending.entries()) await writeRow(row, text, found?.[k]);
      pending = [];
    };
    const writeRow = async (row: Row, text: string, entities?: (Entity & { source?: string })[]) => {
      bytes += Buffer.byteLength(text);
      const r = deidentify(text, {
        operator: o.operator,
        secret,
        patientId: o.patientColumn ? String(row[o.patientColumn] ?? '') : '',
        allowList,
        denyList,
        entities,
      });
      for (const e of r.entities) counts[e.type] = (counts[e.type] ?? 0) + 1;
      const outRow: Row = { ...row, [textCol!]: r.text };
      // entities give offsets into the original, never the PHI itself (the output is meant to be free of it)
      if (outFmt === 'jsonl')
        await write(
          JSON.stringify({
            ...outRow,
            entities: r.entities.map((e) => {
              const { type, start, end, score } = e;
              const source = (e as { source?: string }).source;
              return { type, start, end, score, ...(source ? { source } : {}) };
            }),
          }) + '\n',
        );
      else await write(stringify([header!.map((h) => outRow[h] ?? '')], { delimiter: outFmt === 'tsv' ? '\t' : ',' }));
      rows++;
      if (rows % 20000 === 0)
        log(`  ${rows} rows, ${(bytes / 1e6 / ((performance.now() - t0) / 1000)).toFixed(2)} MB/s`);
    };
    let csvHeader: string[] | null = null;
    for await (const row of readRows(o.input, {
      format: inFmt,
      encoding: o.encoding,
      onHeader: (cols) => {
        csvHeader = cols;
      },
      slice: o.slice,
    })) {
      if (textCol === undefined) {
        textCol = pickColumn(Object.keys(row), o.textColumn, TEXT_COLUMNS, 'text', o.input);
        if (o.patientColumn) pickColumn(Object.keys(row), o.patientColumn, [], 'patient', o.input);
        await writeHeader(Object.keys(row));
      }
      pending.push({
        row,
        text: textCell(row[textCol], {
          file: o.input,
          row: (o.slice?.start ?? 0) + rows + pending.length + 1,
          column: textCol,
        }),
      });
      if (pending.length >= batch) await flush();
    }
    await flush();
    // a header-only file keeps its header (and says so)
    if (rows === 0 && !csvHeader) log(`${o.input} has no rows; the output is empty`);
    if (rows === 0 && csvHeader) {
      pickColumn(csvHeader, o.textColumn, TEXT_COLUMNS, 'text', o.input);
      await writeHeader(csvHeader);
      log(`${o.input} has a header but no rows; wrote the header only`);
    }
    await out.commit();
  } catch (e) {
    out.abort();
    throw e;
  }
  const secs = (performance.now() - t0) / 1000;
  const mbPerSecond = bytes / 1e6 / secs;
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  log(
    `de-identified ${rows} rows (${(bytes / 1e6).toFixed(1)} MB of text) in ${secs.toFixed(1)} s: ` +
      `${mbPerSecond.toFixed(2)} MB/s; ${total} entities (` +
      Object.entries(counts)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') +
      `); peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB -> ${o.output}`,
  );
  return { rows, bytes, mbPerSecond, entities: counts };
}

export interface DeidEvalOptions {
  gold: string;
  /** write the full report (per type, misses, false positives) as JSON */
  output?: string;
  /** misses to print */
  misses: number;
}

/** Gold with no span to find, or spans outside their text, cannot be scored: refused (scores would read 0). */
function checkGoldSpans(file: string, docs: GoldDoc[]): void {
  if (!docs.length) throw new MedtuneError(`${file} holds no documents`, 'E_INPUT_EMPTY');
  docs.forEach((d, i) => {
    const bad = d.spans.findIndex(
      (s) =>
        !Number.isInteger(s.start_position) ||
        !Number.isInteger(s.end_position) ||
        s.start_position < 0 ||
        s.end_position <= s.start_position ||
        s.end_position > d.full_text.length,
    );
    if (bad >= 0)
      throw new MedtuneError(
        `${file}: document ${i + 1}, span ${bad + 1} is not inside its text (start_position and end_position must ` +
          `satisfy 0 ≤ start < end ≤ ${d.full_text.length}, the length of full_text)`,
        'E_INPUT_DATA',
      );
  });
  if (!docs.some((d) => d.spans.length))
    throw new MedtuneError(
      `${file} has no gold spans in its ${docs.length} documents: recall and precision cannot be measured`,
      'E_INPUT_EMPTY',
    );
}

/** Precision, recall, F1 and F2 overall and per type on a Presidio-format gold file; the first misses in context. */
export function runDeidEval(o: DeidEvalOptions, log: (l: string) => void = (l) => console.log(l)): void {
  checkInputFile(o.gold, '--gold');
  if (o.output) prepareOutputFile(o.output, { inputs: [o.gold] });
  let docs: GoldDoc[];
  try {
    docs = JSON.parse(readFileSync(o.gold, 'utf8')) as GoldDoc[];
  } catch {
    throw new MedtuneError(
      `${o.gold} is not valid JSON (expected Presidio's format: [{"full_text": ..., "spans": [...]}])`,
      'E_INPUT_PARSE',
    );
  }
  if (!Array.isArray(docs) || docs.some((d) => typeof d.full_text !== 'string' || !Array.isArray(d.spans)))
    throw new MedtuneError(
      `${o.gold} is not in Presidio's format: ` +
        '[{"full_text": ..., "spans": [{"entity_type", "start_position", "end_position"}]}]',
      'E_INPUT_PARSE',
    );
  checkGoldSpans(o.gold, docs);
  const r = evaluateDeid(docs);
  const pct = (x: number) => x.toFixed(3);
  log(
    `${r.documents} documents, ${(statSync(o.gold).size / 1e6).toFixed(1)} MB: ` +
      `precision ${pct(r.precision)}, recall ${pct(r.recall)}, F1 ${pct(r.f1)}, F2 ${pct(r.f2)} ` +
      '(a gold span is found when entities cover ≥ 50% of it)',
  );
  log('\nrecall by gold type:');
  for (const t of r.byGoldType)
    log(`  ${t.type.padEnd(20)} ${String(t.found).padStart(5)}/${String(t.gold).padEnd(5)} ${pct(t.recall)}`);
  log('precision by predicted type:');
  for (const t of r.byPredictedType)
    log(
      `  ${t.type.padEnd(20)} ` +
        `${String(t.correct).padStart(5)}/${String(t.predicted).padEnd(5)} ${pct(t.precision)}`,
    );
  if (r.misses.length) {
    log(`\nmisses (${r.misses.length}; first ${Math.min(o.misses, r.misses.length)}):`);
    for (const m of r.misses.slice(0, o.misses))
      log(`  [${m.type}] ${JSON.stringify(m.text)}  …${JSON.stringify(m.context)}…`);
  }
  if (o.output) writeFileAtomic(o.output, JSON.stringify(r, null, 2) + '\n');
}
