/** `medtune audit`: flags → report/audit-run.ts (audit.json and audit.html of a saved model on labelled data). */
import type { Command } from 'commander';
import { runAudit, type AuditOptions } from '../report/audit-run.js';
import { DEFAULT_MIN_GROUP } from '../report/audit.js';
import { DEFAULT_RESAMPLES } from '../report/bootstrap.js';
import { int } from './args.js';
import {
  auditColumnOption,
  columnOptions,
  dataOption,
  decisionOptions,
  inferenceOptions,
  modelOption,
  outputDirOption,
  readOptions,
  seedOption,
  withOptions,
} from './options.js';

export function registerAudit(program: Command): void {
  const c = program
    .command('audit')
    .description('bias audit of a model on labelled data with demographic columns: audit.json, audit.html');
  withOptions(
    c,
    modelOption(),
    dataOption('CSV/TSV/JSONL/Parquet with the audit columns'),
    auditColumnOption().makeOptionMandatory(),
    outputDirOption('audit.json and audit.html'),
    columnOptions(),
    decisionOptions(),
    inferenceOptions(),
  );
  c.option(
    '--min-group <n>',
    'bias audit: smaller groups are too small to judge',
    int('--min-group', 2),
    DEFAULT_MIN_GROUP,
  );
  c.option('--resamples <n>', 'bootstrap resamples (≥ 1000)', int('--resamples'), DEFAULT_RESAMPLES);
  withOptions(c, seedOption(), readOptions('data file'));
  c.action(async (o: AuditOptions) => {
    await runAudit(o);
  });
}
