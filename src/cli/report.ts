/** `medtune report RUN_DIR`: flags → report/outputs.ts (report.html and audit.json rebuilt from a run folder). */
import type { Command } from 'commander';
import { rebuildReport } from '../report/outputs.js';
import { auditMinGroupOption, noTextsOption, withOptions } from './options.js';

export function registerReport(program: Command): void {
  const c = program
    .command('report')
    .description('rebuild report.html (and audit.json) of a train or evaluate output folder')
    .argument('<run-dir>', 'the --output-dir of a medtune train or evaluate run');
  withOptions(c, noTextsOption(), auditMinGroupOption());
  c.action(async (dir: string, o: { texts?: boolean; auditMinGroup?: number }) => {
    await rebuildReport(dir, { texts: o.texts, minGroup: o.auditMinGroup });
  });
}
