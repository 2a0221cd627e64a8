/** Test support: model folders to register (copies of the tiny-bert fixture, as a training run would leave them). */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fixturePath } from '../testing-fixtures.js';

/** A copy of tiny-bert as RUN/best_model with a metrics.json beside it; `temperature` makes another version. */
export function modelRun(root: string, name: string, temperature?: number, accuracy = 0.9): string {
  const run = path.join(root, name);
  const dir = path.join(run, 'best_model');
  cpSync(fixturePath('fixtures', 'hf', 'tiny-bert')!, dir, { recursive: true });
  if (temperature !== undefined) {
    const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    cfg.medtune = { temperature };
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
  }
  writeFileSync(path.join(run, 'run.json'), '{}');
  writeFileSync(path.join(run, 'metrics.json'), JSON.stringify({ split: 'test', accuracy, f1_macro: accuracy - 0.05 }));
  return dir;
}
