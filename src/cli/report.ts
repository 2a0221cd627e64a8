/**
 * `medtune report RUN_DIR`: rebuilds report.html (and audit.json) from a run folder. Also what train, evaluate
 * and demo call after their run: the report, the audit lines in the log, and (after training) the model card.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { writeRunReport } from '../report/report.js';
import { writeModelCard } from '../report/card.js';
import type { AuditResult } from '../report/audit.js';
import { MedtuneError } from '../common/errors.js';
import { int } from './args.js';

/** A repeatable option's values (commander: `--audit-column sex --audit-column age_band`). */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** The command line as typed (`medtune train ...`), for run.json. */
export function commandLineOf(cmd: Command): string[] {
  let root: Command = cmd;
  while (root.parent) root = root.parent;
  const raw = (root as unknown as { rawArgs?: string[] }).rawArgs ?? [];
  return ['medtune', ...raw.slice(2)];
}

/** One log line per audit column: what was flagged, or that nothing was; and what was too small to judge. */
export function auditLines(a: AuditResult): string[] {
  const lines = a.columns.map((c) => {
    const f = c.flagged.map(
      (x) =>
        `${x.group} ${x.metric} ${x.gap >= 0 ? '+' : ''}${x.gap.toFixed(3)} ` +
        `[${x.ci[0].toFixed(3)}, ${x.ci[1].toFixed(3)}]`,
    );
    const verdict = f.length ? `FLAGGED ${f.join('; ')}` : 'no gap flagged';
    return `audit ${c.column}: ${c.groups.length} groups, ${c.compared} compared; ${verdict}`;
  });
  return [...lines, ...a.notes.map((n) => `audit: ${n}`)];
}

export interface RunOutputsOptions {
  texts?: boolean;
  minGroup?: number;
  /** also write best_model/README.md */
  card?: boolean;
  log: (l: string) => void;
}

/** After train / evaluate: report.html, audit.json and (after training) the model card. */
export async function writeRunOutputs(dir: string, o: RunOutputsOptions): Promise<string> {
  const r = await writeRunReport(dir, { texts: o.texts, minGroup: o.minGroup });
  if (r.audit) for (const l of auditLines(r.audit)) o.log(l);
  if (o.card && existsSync(path.join(dir, 'best_model', 'config.json'))) {
    o.log(`model card:  ${writeModelCard(path.join(dir, 'best_model'), { runDir: dir }).file}`);
  }
  o.log(`report:      ${r.file}${r.absent.length ? ` (absent: ${r.absent.join('; ')})` : ''}`);
  return r.file;
}

interface ReportCliOptions {
  texts?: boolean;
  auditMinGroup?: number;
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('rebuild report.html (and audit.json) of a train or evaluate output folder')
    .argument('<run-dir>', 'the --output-dir of a medtune train or evaluate run')
    .option('--no-texts', 'leave the texts of misclassified cases out of the report')
    .option(
      '--audit-min-group <n>',
      'bias audit: smaller groups are too small to judge (default: as the run, else 30)',
      int('--audit-min-group', 2),
    )
    .action(async (dir: string, o: ReportCliOptions) => {
      if (!existsSync(dir)) {
        throw new MedtuneError(
          `${dir} does not exist; give the --output-dir of a medtune train or evaluate run`,
          'E_INPUT_NOT_FOUND',
        );
      }
      // --no-texts sets texts to false; without it the run's own choice (run.json) stands
      const texts = o.texts === false ? false : undefined;
      await writeRunOutputs(dir, { texts, minGroup: o.auditMinGroup, log: (l) => console.log(l) });
    });
}
