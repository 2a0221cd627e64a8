/**
 * Notes joined per hospital admission, labelled with the admission's ICD codes: the pipeline MIMIC-III and
 * MIMIC-IV share (mimic.ts, mimic4.ts say how to read their tables).
 *
 * Memory stays flat for notes files of many GB, which are not sorted by admission:
 * 1. the code tables (small: about 1 M rows for MIMIC-III) are read into memory, codes interned;
 * 2. the notes are streamed once; each selected note of an admission that has codes is appended to one of P
 *    temporary partition files, chosen by HADM_ID range (ranges cut at quantiles of the coded admissions);
 * 3. the labels (top-N codes over the admissions that have notes and codes) and the splits are decided in memory;
 * 4. each partition is read back alone, its notes grouped by admission, ordered (chart order), joined and written.
 * Peak memory is the code tables plus one partition (about `partitionBytes`), whatever the size of the notes file.
 * The output is sorted by HADM_ID. Temporary files live beside the output and are removed on success, failure and
 * Ctrl-C.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { prepareOutputFile } from '../../common/atomic.js';
import { checkInputFile, DataError } from '../readers.js';
import {
  byteProgress,
  type ProgressSink,
  DatasetOutput,
  describeDropped,
  fileSize,
  frequencies,
  idCell,
  LineSink,
  readLines,
  readTable,
  spillFolder,
  splitFileName,
  stderrLog,
  topLabels,
  writeSummary,
  type ColumnSpec,
  type DatasetResult,
  type Log,
  type ProgressFactory,
  type TableRow,
  type TableSpec,
} from './io.js';
import { findSplitFiles, parseSplitRatio, readSplitFiles, splitBySubject, SPLITS, type SplitName } from './splits.js';

/** A note as a source reads it: its admission, patient, sort key within the admission (chart order) and text. */
export interface NoteOf {
  hadm: number | null;
  subject: number | null;
  order: (string | number)[];
  text: string;
}

/** One code of an admission: the label (formatted code) and its position (SEQ_NUM) in its table. */
export interface CodeOf {
  hadm: number;
  subject: number | null;
  label: string;
  seq: number;
}

export interface TableSource<T> {
  file: string;
  spec: TableSpec;
  /** the row's content, or why it is left out (a key of the summary's `dropped`) */
  read: (r: TableRow) => T | string;
}

export interface AdmissionSource {
  /** "MIMIC-III" or "MIMIC-IV" */
  name: string;
  notes: TableSource<NoteOf> & {
    /** the HADM_ID column (every note's admission is recorded, whatever its category, for the split files) */
    admissionColumn: string;
    /** words for the summary and for an empty result (e.g. the categories seen), never note text */
    describe?: () => { summary: Record<string, unknown>; hint: string };
  };
  /** diagnoses, then procedures: labels keep this order, then SEQ_NUM */
  codes: (TableSource<CodeOf> & { role: string })[];
  /** the choices that shaped the rows (categories, ICD version), for the summary */
  settings: Record<string, unknown>;
  /** ICD titles by label, for the summary */
  descriptions?: TableSource<[string, string]>;
}

export interface AdmissionOptions {
  output: string;
  /** keep the N most frequent codes (over the admissions with notes); admissions left without a code are dropped */
  top?: number;
  /** a folder of standard split files (train_*.csv, dev_*.csv, test_*.csv: one HADM_ID per line) */
  splitFiles?: string;
  /** TRAIN,DEV,TEST shares of the split grouped by patient (default 0.8,0.1,0.1) */
  splitRatio?: string;
  seed?: number;
  /** also write FILE.train.EXT, FILE.dev.EXT, FILE.test.EXT */
  writeSplits?: boolean;
  encoding?: string;
  log?: Log;
  /** how the bytes read are reported (default: a progress bar on a terminal) */
  progress?: ProgressFactory;
  /** target size of one temporary partition of note text (default 4 MB) */
  partitionBytes?: number;
}

/** Target size of one temporary partition: what pass 2 holds at once. */
const PARTITION_BYTES = 4 << 20;

const COLUMNS: ColumnSpec[] = [
  { name: 'text', type: 'string' },
  { name: 'labels', type: 'labels' },
  { name: 'hadm_id', type: 'int' },
  { name: 'subject_id', type: 'int' },
  { name: 'split', type: 'string' },
];

/** Codes per admission, interned: label ids in (table, SEQ_NUM) order. */
class CodeTable {
  readonly names: string[] = [];
  private ids = new Map<string, number>();
  /** HADM_ID → flat [sortKey, labelId, sortKey, labelId, ...] */
  readonly byAdmission = new Map<number, number[]>();
  readonly subjects = new Map<number, number>();

  add(c: CodeOf, table: number): void {
    let id = this.ids.get(c.label);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(c.label, id);
      this.names.push(c.label);
    }
    const key = table * 1e7 + Math.min(c.seq, 1e7 - 1);
    const list = this.byAdmission.get(c.hadm);
    if (list) list.push(key, id);
    else this.byAdmission.set(c.hadm, [key, id]);
    if (c.subject !== null && !this.subjects.has(c.hadm)) this.subjects.set(c.hadm, c.subject);
  }

  /** The admission's labels, unique, in (table, SEQ_NUM) order. */
  labels(hadm: number): string[] {
    const flat = this.byAdmission.get(hadm) ?? [];
    const pairs: [number, number][] = [];
    for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
    pairs.sort((a, b) => a[0] - b[0]);
    return [...new Set(pairs.map((p) => this.names[p[1]]!))];
  }
}

async function readCodes(src: AdmissionSource, o: AdmissionOptions, progress: ProgressSink) {
  const codes = new CodeTable();
  const dropped: Record<string, number> = {};
  const inputs: { role: string; file: string; rows: number }[] = [];
  for (const [t, table] of src.codes.entries()) {
    let rows = 0;
    for await (const r of readTable(table.file, table.spec, { encoding: o.encoding, onBytes: progress.add })) {
      rows++;
      const c = table.read(r);
      if (typeof c === 'string') dropped[c] = (dropped[c] ?? 0) + 1;
      else codes.add(c, t);
    }
    inputs.push({ role: table.role, file: table.file, rows });
  }
  return { codes, dropped, inputs };
}

/** Partition files by HADM_ID range (cut at quantiles of the coded admissions). */
class Partitions {
  readonly sinks: LineSink[];
  private bounds: number[];

  constructor(dir: string, sortedIds: number[], count: number) {
    const P = Math.max(1, Math.min(count, sortedIds.length || 1));
    this.bounds = Array.from({ length: P - 1 }, (_, k) => sortedIds[Math.floor(((k + 1) * sortedIds.length) / P)]!);
    this.sinks = Array.from({ length: P }, (_, k) => new LineSink(path.join(dir, `part-${k}.jsonl`)));
  }

  private indexOf(hadm: number): number {
    let lo = 0;
    let hi = this.bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (hadm >= this.bounds[mid]!) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(n: NoteOf): void {
    this.sinks[this.indexOf(n.hadm!)]!.add(JSON.stringify([n.hadm, n.subject, n.order, n.text]));
  }

  close(): void {
    for (const s of this.sinks) s.close();
  }
}

interface NotesPass {
  /** admissions with at least one selected note and at least one code → their patient */
  withNotes: Map<number, number | null>;
  /** every HADM_ID of the notes file (any category): the admissions split files may name */
  seen: Set<number>;
  notesWithoutCodes: Set<number>;
  rows: number;
  selected: number;
  dropped: Record<string, number>;
  /** first data row of each drop reason */
  firstRow: Record<string, number>;
}

async function spillNotes(
  src: AdmissionSource,
  codes: CodeTable,
  parts: Partitions,
  o: AdmissionOptions,
  progress: ProgressSink,
): Promise<NotesPass> {
  const p: NotesPass = {
    withNotes: new Map(),
    seen: new Set(),
    notesWithoutCodes: new Set(),
    rows: 0,
    selected: 0,
    dropped: {},
    firstRow: {},
  };
  const drop = (why: string, row: number) => {
    p.dropped[why] = (p.dropped[why] ?? 0) + 1;
    p.firstRow[why] ??= row;
  };
  for await (const r of readTable(src.notes.file, src.notes.spec, { encoding: o.encoding, onBytes: progress.add })) {
    p.rows++;
    const hadm = idCell(r, src.notes.admissionColumn, src.notes.file);
    if (hadm !== null) p.seen.add(hadm);
    const n = src.notes.read(r);
    if (typeof n === 'string') drop(n, r.row);
    else if (n.hadm === null) drop('notes_without_admission_id', r.row);
    else if (!n.text.trim()) drop('empty_notes', r.row);
    else if (!codes.byAdmission.has(n.hadm)) p.notesWithoutCodes.add(n.hadm);
    else {
      p.selected++;
      if (!p.withNotes.has(n.hadm) || p.withNotes.get(n.hadm) === null) p.withNotes.set(n.hadm, n.subject);
      parts.add(n);
    }
  }
  return p;
}

/**
 * The split of each kept admission: from the split files (admissions in none of them are dropped from `labels`),
 * or grouped by patient.
 */
function assignSplits(
  labels: Map<number, string[]>,
  x: {
    subjectOf: (h: number) => number | null;
    known: (h: number) => boolean;
    dropped: Record<string, number>;
    o: AdmissionOptions;
    log: Log;
  },
): { split: Map<number, SplitName>; method: string } {
  const { o, dropped } = x;
  if (o.splitFiles) {
    const files = findSplitFiles(o.splitFiles, o.top ? String(o.top) : 'full');
    const split = readSplitFiles(files, x.known);
    dropped.admissions_not_in_split_files = 0;
    for (const h of [...labels.keys()])
      if (!split.has(h)) {
        labels.delete(h);
        dropped.admissions_not_in_split_files++;
      }
    if (dropped.admissions_not_in_split_files)
      x.log(`  ${dropped.admissions_not_in_split_files} admissions are in none of the split files: left out`);
    return { split, method: `split files: ${SPLITS.map((s) => path.basename(files[s])).join(', ')}` };
  }
  const ratio = parseSplitRatio(o.splitRatio ?? '0.8,0.1,0.1');
  const seed = o.seed ?? 42;
  // an admission without a known patient is a group of its own
  const patients = new Map([...labels.keys()].map((h) => [h, x.subjectOf(h) ?? -h]));
  const shares = ratio.map((r) => r.toFixed(2)).join('/');
  return {
    split: splitBySubject(patients, ratio, seed),
    method: `by SUBJECT_ID (no patient in two splits), ratio ${shares}, seed ${seed}`,
  };
}

/** Labels per kept admission (top-N), the split of each, and what was dropped at the admission level. */
function decideRows(codes: CodeTable, notes: NotesPass, o: AdmissionOptions, log: Log) {
  const dropped: Record<string, number> = {
    admissions_with_notes_but_no_codes: notes.notesWithoutCodes.size,
    admissions_with_codes_but_no_notes: [...codes.byAdmission.keys()].filter((h) => !notes.withNotes.has(h)).length,
  };
  const all = new Map<number, string[]>();
  const counts = new Map<string, number>();
  for (const hadm of notes.withNotes.keys()) {
    const labels = codes.labels(hadm);
    all.set(hadm, labels);
    for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  }
  const keep = topLabels(counts, o.top);
  const labels = new Map<number, string[]>();
  dropped.admissions_without_top_codes = 0;
  for (const [hadm, ls] of all) {
    const kept = ls.filter((l) => keep.has(l));
    if (kept.length) labels.set(hadm, kept);
    else dropped.admissions_without_top_codes++;
  }
  const subjectOf = (h: number): number | null => notes.withNotes.get(h) ?? codes.subjects.get(h) ?? null;
  const known = (h: number) => notes.seen.has(h) || codes.byAdmission.has(h);
  const { split, method } = assignSplits(labels, { subjectOf, known, dropped, o, log });
  return { labels, counts, top: keep, split, method, dropped, subjectOf };
}

/** Reads one partition back and writes its admissions, in HADM_ID order, notes in chart order. */
async function writePartition(
  file: string,
  rows: ReturnType<typeof decideRows>,
  out: DatasetOutput,
  stats: { rows: number; counts: Map<string, number>; splits: Record<string, number> },
): Promise<void> {
  const byAdmission = new Map<number, [(string | number)[], string][]>();
  for await (const line of readLines(file)) {
    const [hadm, , order, text] = JSON.parse(line) as [number, number | null, (string | number)[], string];
    if (!rows.labels.has(hadm)) continue;
    const notes = byAdmission.get(hadm);
    if (notes) notes.push([order, text]);
    else byAdmission.set(hadm, [[order, text]]);
  }
  const cmp = (a: (string | number)[], b: (string | number)[]) => {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const x = a[i] ?? '';
      const y = b[i] ?? '';
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  };
  for (const hadm of [...byAdmission.keys()].sort((a, b) => a - b)) {
    const notes = byAdmission.get(hadm)!.sort((a, b) => cmp(a[0], b[0]));
    const labels = rows.labels.get(hadm)!;
    const split = rows.split.get(hadm)!;
    await out.write({
      text: notes.map((n) => n[1]).join('\n\n'),
      labels,
      hadm_id: hadm,
      subject_id: rows.subjectOf(hadm),
      split,
    });
    stats.rows++;
    stats.splits[split] = (stats.splits[split] ?? 0) + 1;
    for (const l of labels) stats.counts.set(l, (stats.counts.get(l) ?? 0) + 1);
  }
}

async function readDescriptions(src: AdmissionSource, o: AdmissionOptions): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!src.descriptions) return out;
  for await (const r of readTable(src.descriptions.file, src.descriptions.spec, { encoding: o.encoding })) {
    const d = src.descriptions.read(r);
    if (typeof d !== 'string') out.set(d[0], d[1]);
  }
  return out;
}

function emptyError(src: AdmissionSource, dropped: Record<string, number>): DataError {
  const hint = src.notes.describe?.().hint;
  return new DataError(
    `no admission is left to write (left out: ${describeDropped(dropped)})${hint ? `; ${hint}` : ''}; ` +
      'are the notes and code tables from the same release?',
    'E_INPUT_EMPTY',
  );
}

/** The whole conversion: checks, the code tables, the notes (spilled), the decisions, the output and summary. */
export async function buildAdmissionDataset(src: AdmissionSource, o: AdmissionOptions): Promise<DatasetResult> {
  const t0 = performance.now();
  const log = o.log ?? stderrLog;
  const inputFiles = [
    src.notes.file,
    ...src.codes.map((c) => c.file),
    ...(src.descriptions ? [src.descriptions.file] : []),
  ];
  inputFiles.forEach((f) => checkInputFile(f));
  if (o.splitFiles) findSplitFiles(o.splitFiles, o.top ? String(o.top) : 'full');
  if (o.splitRatio) parseSplitRatio(o.splitRatio);
  const outputs = [o.output, ...(o.writeSplits ? SPLITS.map((s) => splitFileName(o.output, s)) : [])];
  for (const f of outputs) prepareOutputFile(f, { inputs: inputFiles });
  const total = inputFiles.reduce((a, f) => a + fileSize(f), 0);
  const progress = (o.progress ?? byteProgress)(total, `${src.name} tables`, log);
  const spill = spillFolder(o.output);
  let out: DatasetOutput | null = null;
  try {
    const { codes, dropped: codeDrops, inputs } = await readCodes(src, o, progress);
    const notesBytes = fileSize(src.notes.file) * (/\.gz$/i.test(src.notes.file) ? 5 : 1);
    const P = Math.min(256, Math.ceil(notesBytes / (o.partitionBytes ?? PARTITION_BYTES)));
    const parts = new Partitions(
      spill.dir,
      [...codes.byAdmission.keys()].sort((a, b) => a - b),
      P,
    );
    let notes: NotesPass;
    try {
      notes = await spillNotes(src, codes, parts, o, progress);
    } finally {
      parts.close();
      progress.stop();
    }
    const unlinked = notes.dropped.notes_without_admission_id ?? 0;
    if (unlinked) {
      const first = notes.firstRow.notes_without_admission_id;
      log(
        `  ${src.notes.file}: ${unlinked === 1 ? `1 selected note has` : `${unlinked} selected notes have`} ` +
          `no admission id (${unlinked === 1 ? '' : 'the first at '}data row ${first}); left out`,
      );
    }
    const rows = decideRows(codes, notes, o, log);
    const dropped = { ...codeDrops, ...notes.dropped, ...rows.dropped };
    if (!rows.labels.size) throw emptyError(src, dropped);
    const descriptions = await readDescriptions(src, o);
    out = await DatasetOutput.open({ output: o.output, columns: COLUMNS, splits: o.writeSplits ? [...SPLITS] : [] });
    const stats = { rows: 0, counts: new Map<string, number>(), splits: {} as Record<string, number> };
    for (const s of parts.sinks) await writePartition(s.file, rows, out, stats);
    await out.commit();
    const summary = {
      source: src.name,
      output: o.output,
      files: out.files,
      inputs: [{ role: 'notes', file: src.notes.file, rows: notes.rows, selected: notes.selected }, ...inputs],
      ...src.settings,
      ...(src.notes.describe ? src.notes.describe().summary : {}),
      rows: stats.rows,
      labels: stats.counts.size,
      codes_before_top: rows.counts.size,
      top: o.top ?? null,
      splits: Object.fromEntries(SPLITS.map((s) => [s, stats.splits[s] ?? 0])),
      split_method: rows.method,
      dropped,
      first_dropped_row: notes.firstRow,
      label_frequencies: frequencies(stats.counts).map((f) => ({
        ...f,
        ...(descriptions.has(f.label) ? { description: descriptions.get(f.label) } : {}),
      })),
      temporary_partitions: parts.sinks.length,
      seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
    };
    const summaryFile = writeSummary(o.output, summary);
    log(
      `${src.name}: ${stats.rows} admissions (${SPLITS.map((s) => `${s} ${stats.splits[s] ?? 0}`).join(', ')}), ` +
        `${stats.counts.size} codes${o.top ? ` (top ${o.top} of ${rows.counts.size})` : ''}; ` +
        `left out: ${describeDropped(dropped)}`,
    );
    log(`wrote ${out.files.join(', ')}; summary: ${summaryFile}`);
    return { rows: stats.rows, files: out.files, summaryFile, summary };
  } catch (e) {
    out?.abort();
    throw e;
  } finally {
    spill.remove();
  }
}
