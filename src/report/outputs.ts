/**
 * What a finished run writes after its metrics and predictions: report.html, audit.json with one log line per audit
 * column, and (after training) the model card. `medtune report` rebuilds them; train, evaluate and demo run them last.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { MedtuneError } from '../common/errors.js';
import { runTrain, type TrainOptions } from '../train/run.js';
import { isTokenClassifier } from '../infer/token-predict-file.js';
import { runTokenEvaluate } from '../evaluate/token-eval.js';
import { runEvaluate, type EvaluateOptions } from '../evaluate/run.js';
import { runAutoTune } from '../tune/auto.js';
import { writeRunReport } from './report.js';
import { writeModelCard } from './card.js';
import type { AuditResult } from './audit.js';

type Log = (l: string) => void;
const stdout: Log = (l) => console.log(l);

/** One log line per audit column: what was flagged, or that nothing was; and what was too small to judge. */
export function auditLines(a: AuditResult): string[] {
  const lines = a.columns.map((c) => {
    const f = c.flagged.map(
      (x) =>
        `${x.group} ${x.side} ${x.metric} ${x.gap >= 0 ? '+' : ''}${x.gap.toFixed(3)} ` +
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
  log: Log;
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

/** `medtune report RUN_DIR`: report.html (and audit.json) again from the files of a run folder. */
export async function rebuildReport(dir: string, o: { texts?: boolean; minGroup?: number }, log = stdout) {
  if (!existsSync(dir)) {
    throw new MedtuneError(
      `${dir} does not exist; give the --output-dir of a medtune train or evaluate run`,
      'E_INPUT_NOT_FOUND',
    );
  }
  // texts false (--no-texts) wins; otherwise the run's own choice (run.json) stands
  return writeRunOutputs(dir, { texts: o.texts === false ? false : undefined, minGroup: o.minGroup, log });
}

/** `medtune train`: the run (after a small study with `autoTune` trials), then its report and model card. */
export async function trainAndReport(o: TrainOptions & { autoTune?: number }, log = stdout): Promise<string> {
  // token classification writes its own report.html (evaluate/token-eval.ts)
  if (o.task === 'token-classification') return (await runTrain(o, log)).outputDir;
  const { outputDir } = o.autoTune ? await runAutoTune({ ...o, autoTune: o.autoTune }, log) : await runTrain(o, log);
  return writeRunOutputs(outputDir, { texts: o.texts, minGroup: o.auditMinGroup, card: true, log });
}

/** `medtune evaluate`: the evaluation, then its report. */
export async function evaluateAndReport(o: EvaluateOptions, log = stdout): Promise<string> {
  if (await isTokenClassifier(o.model)) return (await runTokenEvaluate({ ...o, log }), o.outputDir);
  await runEvaluate(o, log);
  return writeRunOutputs(o.outputDir, { texts: o.texts, minGroup: o.auditMinGroup, log });
}
