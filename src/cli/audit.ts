/**
 * `medtune audit`: the bias audit of a saved model on a labelled file with demographic columns: audit.json and
 * audit.html in --output-dir (per group metrics, gaps to the rest with bootstrap intervals, flags, the data view).
 */
import path from 'node:path';
import type { Command } from 'commander';
import { checkInputFile, formatOf } from '../data/readers.js';
import { prepareOutputDir, prepareOutputFile, writeFileAtomic } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { checkAuditColumns } from '../evaluate/run-record.js';
import { computeAudit, DEFAULT_MIN_GROUP, type AuditResult } from '../report/audit.js';
import { auditPage } from '../report/audit-html.js';
import { DEFAULT_RESAMPLES } from '../report/bootstrap.js';
import { classifyLabeled } from './evaluate.js';
import { auditLines, collect } from './report.js';
import { abstainOption, encodingOption, formatOption, int, thresholdOption } from './args.js';

export interface AuditCliOptions {
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
function checkAuditOptions(o: AuditCliOptions): string[] {
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
  o: AuditCliOptions,
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

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description('bias audit of a model on labelled data with demographic columns: audit.json, audit.html')
    .requiredOption('--model <dir>', 'model folder (e.g. a best_model/ from medtune train)')
    .requiredOption('--data <file>', 'labelled CSV/TSV/JSONL/Parquet with the audit columns')
    .requiredOption('--audit-column <name>', 'demographic column (repeatable: sex, age band, site, note type)', collect)
    .requiredOption('--output-dir <dir>', 'where audit.json and audit.html go')
    .option('--text-column <name>', 'text column (default: detected)')
    .option('--text-pair-column <name>', 'second text column')
    .option('--label-column <name>', 'label column (default: detected)')
    .option('--label-delimiter <s>', 'separator of multi-label strings', ',')
    .addOption(thresholdOption())
    .addOption(abstainOption())
    .option('--max-length <n>', 'max tokens per text', int('--max-length', 2))
    .option('--batch-size <n>', 'rows per forward pass', int('--batch-size'), 64)
    .option(
      '--min-group <n>',
      'groups with fewer rows are too small to judge',
      int('--min-group', 2),
      DEFAULT_MIN_GROUP,
    )
    .option('--resamples <n>', 'bootstrap resamples (≥ 1000)', int('--resamples'), DEFAULT_RESAMPLES)
    .option('--seed <n>', 'bootstrap seed', int('--seed', 0), 42)
    .addOption(formatOption('data file'))
    .addOption(encodingOption())
    .action(async (o: AuditCliOptions) => {
      await runAudit(o);
    });
}
