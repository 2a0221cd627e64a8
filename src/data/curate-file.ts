/**
 * Curating labelled files (what `medtune curate` runs): merge (each file with its own column mapping), filter,
 * de-duplicate (exact and MinHash/LSH near-duplicates; drop or flag), report conflicting labels, and write a JSON
 * summary of everything done beside the output (OUTPUT.curate.json).
 */
import { readFileSync } from 'node:fs';
import { MedtuneError } from '../common/errors.js';
import { prepareOutputFile, writeFileAtomic } from '../common/atomic.js';
import { curate, parseInputSpec, type CuratedRow, type FilterOptions } from './curate.js';
import { openRowWriter } from './rowwriter.js';
import { describeVariants } from './labels.js';

export interface CurateFileOptions {
  input: string[];
  output: string;
  sourceColumn: string;
  minChars: number;
  minWords: number;
  maxChars: number;
  requireLabel?: boolean;
  labels?: string;
  nonText: boolean;
  duplicates: string;
  threshold: number;
  shingleSize: number;
  numPerm: number;
  /** merge labels that differ only by case, spaces or punctuation (--normalize-labels) */
  normalizeLabels?: boolean;
  log?: (l: string) => void;
}

/** `--labels a,b,c` or a file with one label per line. */
function allowList(spec: string | undefined): string[] | undefined {
  if (!spec) return undefined;
  if (!spec.includes(',')) {
    try {
      return readFileSync(spec, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
    } catch {
      // not a file: a single label
    }
  }
  return spec
    .split(',')
    .map((l) => l.trim())
    .filter(Boolean);
}

export async function runCurate(o: CurateFileOptions): Promise<{ rows: number; summaryFile: string }> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  if (!['drop', 'flag', 'off'].includes(o.duplicates))
    throw new MedtuneError(`--duplicates must be drop, flag or off, got "${o.duplicates}"`, 'E_USAGE');
  if (!(o.threshold > 0 && o.threshold <= 1))
    throw new MedtuneError(`--threshold must be in (0, 1], got ${o.threshold}`, 'E_USAGE');
  const specs = o.input.map(parseInputSpec);
  const summaryFile = `${o.output}.curate.json`;
  prepareOutputFile(o.output, { inputs: specs.map((s) => s.file) });
  prepareOutputFile(summaryFile, { option: '--output (its .curate.json summary)', inputs: specs.map((s) => s.file) });
  const filters: FilterOptions = {
    minChars: o.minChars,
    minWords: o.minWords,
    maxChars: o.maxChars,
    requireLabel: o.requireLabel,
    allowLabels: allowList(o.labels),
    nonText: o.nonText,
  };
  const { rows, summary } = await curate({
    inputs: specs,
    filters,
    normalizeLabels: o.normalizeLabels ?? false,
    dedup: {
      mode: o.duplicates as 'drop' | 'flag' | 'off',
      threshold: o.threshold,
      shingleSize: o.shingleSize,
      numPerm: o.numPerm,
    },
  });
  const flagCols = o.duplicates === 'flag' ? ['duplicate_of', 'duplicate_kind', 'similarity'] : [];
  const columns = ['text', 'label', o.sourceColumn, 'source_row', ...flagCols];
  const out = openRowWriter(o.output, columns);
  try {
    for (const r of rows as CuratedRow[]) {
      await out.write({
        text: r.text,
        label: r.label,
        [o.sourceColumn]: r.source,
        source_row: r.row,
        ...Object.fromEntries(flagCols.map((c) => [c, r[c as keyof CuratedRow] ?? null])),
      });
    }
    await out.commit();
  } catch (e) {
    out.abort();
    throw e;
  }
  writeFileAtomic(summaryFile, JSON.stringify({ output: o.output, ...summary }, null, 2) + '\n');
  const removed =
    Object.entries(summary.removed)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'none';
  const d = summary.duplicates;
  const perInput = summary.inputs.map((i) => `${i.source} ${i.rows}`).join(', ');
  log(`read ${summary.rows_in} rows from ${summary.inputs.length} files (${perInput})`);
  log(`filtered: ${removed}`);
  if (summary.label_variants) log(describeVariants(summary.label_variants, o.normalizeLabels ?? false));
  log(
    `duplicates (${d.mode}): ${d.exact} exact, ${d.near} near (Jaccard ≥ ${d.threshold} on ${d.shingle_size}-word ` +
      `shingles) in ${d.clusters} clusters; ${summary.conflicting_labels.groups} clusters with conflicting labels`,
  );
  log(`wrote ${rows.length} rows to ${o.output}; summary: ${summaryFile}`);
  return { rows: rows.length, summaryFile };
}
