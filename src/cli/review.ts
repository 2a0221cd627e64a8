/**
 * `medtune review export`: the reviewed cases of a run as a training file (evaluate/reviews.ts). Reviews are made in
 * the UI (`medtune serve --review RUN_DIR`).
 */
import type { Command } from 'commander';
import { runReviewExport, type ReviewExportOptions } from '../evaluate/reviews.js';

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
