/** Test support: locating ../shared (read-only data beside the checkout; MEDTUNE_SHARED overrides), a tiny model. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createScratchModel } from './demo/scratch.js';
import { DEMO_DIAGNOSES } from './demo/synthetic.js';

export function sharedDir(): string | null {
  const candidates = [
    process.env.MEDTUNE_SHARED,
    path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared'),
    path.resolve(process.cwd(), '..', 'shared'),
  ].filter((x): x is string => !!x);
  return candidates.find((c) => existsSync(path.join(c, 'fixtures'))) ?? null;
}

export function fixturePath(...parts: string[]): string | null {
  const s = sharedDir();
  if (!s) return null;
  const p = path.join(s, ...parts);
  return existsSync(p) ? p : null;
}

/**
 * The small model the command tests train: a 1-layer BERT with hidden size 32, made from scratch (seed 1) for the
 * demo's diagnoses, with a WordPiece vocabulary built from `texts`.
 */
export function tinyDemoModel(dir: string, texts: string[]): void {
  createScratchModel(dir, texts, [...DEMO_DIAGNOSES].sort(), 1, { hidden: 32, layers: 1 });
}
