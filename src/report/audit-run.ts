/**
 * The bias audit of a saved model on a labelled file with demographic columns (what `medtune audit` runs):
 * audit.json and audit.html in the output folder (per group metrics, gaps to the rest with bootstrap intervals,
 * flags, the data view).
 */
import path from 'node:path';
import { checkInputFile, formatOf } from '../data/readers.js';
import { prepareOutputDir, prepareOutputFile, writeFileAtomic } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { checkAuditColumns } from '../evaluate/run-record.js';
import { classifyLabeled } from '../evaluate/run.js';
import { computeAudit, type AuditResult } from './audit.js';
import { auditPage } from './audit-html.js';
import { auditLines } from './outputs.js';

export interface AuditOptions {
  model: string;
  data: string;
  auditColumn?: string[];
  outputDir: string;
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
  labelDelimiter?: string;
  format?: string;
  encoding?: string;
  threshold?: number;
  abstainBelow?: number;
  maxLength?: number;
  batchSize: number;
  minGroup: number;
  resamples: number;
  seed: number;
}

/** Options, the input file and the output files, checked before anything is read. */
function checkAuditOptions(o: AuditOptions): string[] {
  const columns = checkAuditColumns(o.auditColumn);
  if (!columns.length) {
    throw new MedtuneError(
      'give at least one --audit-column (a demographic column of --data, e.g. sex or age_band)',
      'E_USAGE',
    );
  }
  if (o.resamples < 1000) {
    throw new MedtuneError(`--resamples must be at least 1000 for stable intervals, got ${o.resamples}`, 'E_USAGE');
  }
  checkInputFile(o.data, '--data');
  formatOf(o.data, o.format);
  prepareOutputDir(o.outputDir);
  for (const f of ['audit.json', 'audit.html']) {
    prepareOutputFile(path.join(o.outputDir, f), { option: '--output-dir', inputs: [o.data] });
  }
  return columns;
}

export async function runAudit(
  o: AuditOptions,
  log: (l: string) => void = (l) => console.log(l),
): Promise<AuditResult> {
  const columns = checkAuditOptions(o);
  const c = await classifyLabeled({ ...o, auditColumn: columns, file: o.data, option: '--data' }, log);
  const { predictions, probabilities, abstained } = c.result;
  const rows = c.data.examples.map((e, i) => ({
    gold: e.label,
    pred: predictions[i]!,
    probs: probabilities[i]!,
    abstain: !!abstained?.[i],
    groups: c.audit!.get(e.row) ?? {},
  }));
  const { labels, multiLabel, identity } = c.predictor;
  const { minGroup, resamples, seed } = o;
  const audit = computeAudit(rows, { columns, labels, multiLabel, minGroup, resamples, seed });
  const model = { dir: path.resolve(c.predictor.dir), version: identity.version, sha256: identity.sha256 };
  const json = { model, data: path.resolve(o.data), ...audit };
  writeFileAtomic(path.join(o.outputDir, 'audit.json'), JSON.stringify(json, null, 2) + '\n');
  const html = await auditPage(audit, { model: c.predictor.dir, version: identity.version, data: o.data });
  writeFileAtomic(path.join(o.outputDir, 'audit.html'), html);
  for (const l of auditLines(audit)) log(l);
  log(`wrote ${path.join(o.outputDir, 'audit.json')} and ${path.join(o.outputDir, 'audit.html')}`);
  return audit;
}
