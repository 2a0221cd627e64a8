/**
 * Document sources (PubMed articles, ClinicalTrials.gov studies): records are parsed once and spilled to a
 * temporary JSONL file beside the output, with only their ids and label counts in memory; then the label decisions
 * are made (spellings merged with --normalize-labels, top-N) and the spill is read back into the output. A record
 * seen again under the same id (PubMed update files, a study in two downloads) replaces the earlier one.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { prepareOutputFile } from '../../common/atomic.js';
import { describeVariants, findLabelVariants, mapLabels, type LabelVariants } from '../labels.js';
import { checkInputFile, DataError } from '../readers.js';
import {
  byteProgress,
  DatasetOutput,
  describeDropped,
  fileSize,
  frequencies,
  labelDelimiterFor,
  LineSink,
  readLines,
  spillFolder,
  stderrLog,
  topLabels,
  writeSummary,
  type ColumnSpec,
  type DatasetResult,
  type Log,
  type ProgressFactory,
} from './io.js';

export interface SourceRecord {
  id: string;
  text: string;
  labels: string[];
}

export interface RecordOptions {
  output: string;
  /** keep the N most frequent labels; records left without a label are dropped */
  top?: number;
  /** merge labels that differ only by case, spaces or punctuation into their most frequent spelling */
  normalizeLabels?: boolean;
  log?: Log;
  /** how the bytes read are reported (default: a progress bar on a terminal) */
  progress?: ProgressFactory;
}

/** What a source does with the spill: parse its inputs, adding records and counting what it left out. */
export interface RecordSource {
  /** "PubMed", "ClinicalTrials.gov" */
  name: string;
  /** the output column of the id (pmid, nct_id) */
  idColumn: string;
  inputs: string[];
  /** the choices that shaped the rows, for the summary */
  settings: Record<string, unknown>;
  parse(o: {
    add: (r: SourceRecord) => void;
    drop: (why: string) => void;
    onBytes: (n: number) => void;
  }): Promise<void>;
}

/** The spill: records in order, the last position of each id. */
class Spill {
  private sink: LineSink;
  private last = new Map<string, number>();
  count = 0;
  replaced = 0;
  constructor(readonly file: string) {
    this.sink = new LineSink(file);
  }
  add(r: SourceRecord): void {
    if (this.last.has(r.id)) this.replaced++;
    this.last.set(r.id, this.count++);
    this.sink.add(JSON.stringify([r.id, r.labels, r.text]));
  }
  close(): void {
    this.sink.close();
  }
  /** the live records (the last of each id), in input order */
  async *records(): AsyncGenerator<SourceRecord> {
    let i = 0;
    for await (const line of readLines(this.file)) {
      const [id, labels, text] = JSON.parse(line) as [string, string[], string];
      if (this.last.get(id) === i++) yield { id, labels, text };
    }
  }
}

async function labelCounts(spill: Spill, mapping: Record<string, string> | null): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for await (const r of spill.records())
    for (const l of mapping ? mapLabels(r.labels, mapping) : r.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  return counts;
}

/** Spelling variants, the mapping applied (or not), and the labels kept (top-N). */
async function decideLabels(spill: Spill, o: RecordOptions) {
  const raw = await labelCounts(spill, null);
  const variants: LabelVariants = findLabelVariants(raw);
  const mapping = o.normalizeLabels && variants.groups.length ? variants.mapping : null;
  const counts = mapping ? await labelCounts(spill, mapping) : raw;
  return { variants, mapping, counts, keep: topLabels(counts, o.top) };
}

/** Parses the inputs of `src`, decides the labels and writes the output and its summary. */
export async function buildRecordDataset(src: RecordSource, o: RecordOptions): Promise<DatasetResult> {
  const t0 = performance.now();
  const log = o.log ?? stderrLog;
  if (!src.inputs.length) throw new DataError('give at least one --input', 'E_USAGE');
  src.inputs.forEach((f) => checkInputFile(f));
  prepareOutputFile(o.output, { inputs: src.inputs });
  const total = src.inputs.reduce((a, f) => a + fileSize(f), 0);
  const progress = (o.progress ?? byteProgress)(total, src.name, log);
  const tmp = spillFolder(o.output);
  const spill = new Spill(path.join(tmp.dir, 'records.jsonl'));
  const dropped: Record<string, number> = {};
  let out: DatasetOutput | null = null;
  try {
    try {
      await src.parse({
        add: (r) => (r.labels.length ? spill.add(r) : (dropped[`without_labels`] = (dropped.without_labels ?? 0) + 1)),
        drop: (why) => (dropped[why] = (dropped[why] ?? 0) + 1),
        onBytes: progress.add,
      });
    } finally {
      spill.close();
      progress.stop();
    }
    dropped.replaced_by_a_later_version = spill.replaced;
    const d = await decideLabels(spill, o);
    if (d.variants.groups.length) log(describeVariants(d.variants, !!d.mapping));
    const columns: ColumnSpec[] = [
      { name: 'text', type: 'string' },
      { name: 'labels', type: 'labels' },
      { name: src.idColumn, type: 'string' },
    ];
    const labelDelimiter = /\.(csv|tsv)$/i.test(o.output) ? labelDelimiterFor(d.keep) : null;
    dropped.without_top_labels = 0;
    const stats = { rows: 0, counts: new Map<string, number>() };
    for await (const r of spill.records()) {
      const labels = (d.mapping ? mapLabels(r.labels, d.mapping) : r.labels).filter((l) => d.keep.has(l));
      if (!labels.length) {
        dropped.without_top_labels++;
        continue;
      }
      out ??= await DatasetOutput.open({ output: o.output, columns, labelDelimiter: labelDelimiter ?? ',' });
      await out.write({ text: r.text, labels, [src.idColumn]: r.id });
      stats.rows++;
      for (const l of labels) stats.counts.set(l, (stats.counts.get(l) ?? 0) + 1);
    }
    if (!out) {
      throw new DataError(
        `no ${src.name} record is left to write (left out: ${describeDropped(dropped)})`,
        'E_INPUT_EMPTY',
      );
    }
    await out.commit();
    const summary = {
      source: src.name,
      output: o.output,
      inputs: src.inputs,
      ...src.settings,
      records_read: spill.count,
      rows: stats.rows,
      labels: stats.counts.size,
      labels_before_top: d.counts.size,
      top: o.top ?? null,
      label_delimiter: labelDelimiter,
      dropped,
      label_variants: { merged: !!d.mapping, groups: d.variants.groups, mapping: d.mapping ?? {} },
      label_frequencies: frequencies(stats.counts),
      seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
    };
    const summaryFile = writeSummary(o.output, summary);
    log(
      `${src.name}: ${stats.rows} rows, ${stats.counts.size} labels` +
        `${o.top ? ` (top ${o.top} of ${d.counts.size})` : ''}; left out: ${describeDropped(dropped)}`,
    );
    if (labelDelimiter && labelDelimiter !== ',')
      log(`labels contain commas: joined with "${labelDelimiter}"; train with --label-delimiter "${labelDelimiter}"`);
    log(`wrote ${o.output}; summary: ${summaryFile}`);
    return { rows: stats.rows, files: out.files, summaryFile, summary };
  } catch (e) {
    out?.abort();
    throw e;
  } finally {
    tmp.remove();
  }
}
