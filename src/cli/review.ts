/**
 * `medtune review export`: the reviewed cases of a run as a training file (text, label: what most reviewers settled
 * on; ties and "unclear" left out and counted), for `medtune train --model RUN/best_model --train corrections.csv
 * --replay OLD_TRAIN`. Reviews are made in the UI (`medtune serve --review RUN_DIR`).
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { prepareOutputFile, writeFileAtomic } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { formatOf } from '../data/readers.js';
import { corrections, readCases, ReviewStore } from '../serve/reviews.js';

export interface ReviewExportOptions {
  db: string;
  output: string;
  run?: string;
  log?: (l: string) => void;
}

export function runReviewExport(o: ReviewExportOptions): { rows: number; skipped: number } {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  if (!existsSync(o.db))
    throw new MedtuneError(
      `the review database ${o.db} does not exist (reviews are stored by medtune serve --review RUN_DIR)`,
      'E_INPUT_NOT_FOUND',
    );
  const fmt = formatOf(o.output, undefined, null);
  if (fmt === 'parquet') throw new MedtuneError('review export writes CSV, TSV or JSONL', 'E_INPUT_FORMAT');
  prepareOutputFile(o.output, { inputs: [o.db] });
  const store = new ReviewStore(o.db);
  try {
    const run = o.run ?? store.meta('run_dir');
    if (!run) throw new MedtuneError(`${o.db} does not record its run folder; pass --run RUN_DIR`, 'E_USAGE');
    const { rows, skipped } = corrections(readCases(run), store.latest());
    if (!rows.length)
      throw new MedtuneError(`no reviewed case has a settled label yet (${skipped} unclear or tied)`, 'E_INPUT_EMPTY');
    const out =
      fmt === 'jsonl'
        ? rows
            .map((r) => JSON.stringify({ text: r.text, label: r.label, source_row: r.row, reviewers: r.reviewers }))
            .join('\n') + '\n'
        : stringify(
            rows.map((r) => ({ text: r.text, label: r.label, source_row: r.row, reviewers: r.reviewers })),
            { header: true, delimiter: fmt === 'tsv' ? '\t' : ',' },
          );
    writeFileAtomic(o.output, out);
    log(
      `exported ${rows.length} corrected rows to ${o.output}` +
        `${skipped ? ` (${skipped} cases left out: unclear or tied)` : ''}; ` +
        `retrain with: medtune train --model ${run}/best_model --train ${o.output} --replay OLD_TRAIN_FILE`,
    );
    return { rows: rows.length, skipped };
  } finally {
    store.close();
  }
}

export function registerReview(program: Command): void {
  const review = program
    .command('review')
    .description("expert review of a run's cases (made in the UI: medtune serve --review RUN_DIR)");
  review
    .command('export')
    .description('write the reviewed cases as a training file (the label most reviewers settled on)')
    .requiredOption('--db <file>', 'the review database (RUN_DIR/reviews.sqlite by default in serve)')
    .requiredOption('--output <file>', 'CSV, TSV or JSONL: text, label, source_row, reviewers')
    .option('--run <dir>', 'the reviewed run folder (default: the one the database records)')
    .action((o: ReviewExportOptions) => {
      runReviewExport(o);
    });
}
