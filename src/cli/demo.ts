/**
 * `medtune demo`: the main job on built-in data, offline. Generates a synthetic dataset of patient symptom
 * descriptions -> 21 diagnoses (src/demo/synthetic.ts), builds a WordPiece vocabulary from it, initialises a small
 * BERT from scratch (or takes --model), fine-tunes it with `medtune train`'s pipeline, evaluates on held-out rows
 * and prints the metrics and where the model and reports are.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { syntheticSymptoms, DEMO_DIAGNOSES, type DemoRow } from '../demo/synthetic.js';
import { createScratchModel } from '../demo/scratch.js';
import { runTrain } from '../train/run.js';
import { makeDirs, prepareOutputDir, writeFileAtomic } from '../common/atomic.js';
import { backendName, getThreads } from '../tensor/backend.js';
import { int } from './args.js';

function csv(rows: DemoRow[]): string {
  return stringify(rows, { header: true, columns: ['text', 'label'] });
}

export async function runDemo(o: { outputDir: string; model?: string; seed: number; epochs?: number }, log: (l: string) => void = (l) => console.log(l)): Promise<number> {
  prepareOutputDir(o.outputDir);
  log(`medtune demo: backend ${backendName()}, ${getThreads()} threads; output in ${o.outputDir}`);
  const dataDir = path.join(o.outputDir, 'data');
  makeDirs(dataDir);
  const train = syntheticSymptoms(60, o.seed);
  const test = syntheticSymptoms(15, o.seed + 1000);
  writeFileAtomic(path.join(dataDir, 'train.csv'), csv(train));
  writeFileAtomic(path.join(dataDir, 'test.csv'), csv(test));
  log(`synthetic data: ${train.length} training and ${test.length} test descriptions of ${DEMO_DIAGNOSES.length} diagnoses -> ${dataDir}`);
  log(`  e.g. "${train[7]!.text}" -> ${train[7]!.label}`);
  let model = o.model;
  if (!model) {
    model = path.join(o.outputDir, 'initial_model');
    const vocabSize = createScratchModel(model, train.map((r) => r.text), [...DEMO_DIAGNOSES].sort((a, b) => a.localeCompare(b)), o.seed);
    log(`WordPiece vocabulary of ${vocabSize} tokens built from the training texts; a 2-layer BERT (hidden 128) initialised from scratch`);
  }
  const fromScratch = !o.model;
  let epochs = o.epochs ?? (fromScratch ? 12 : 5);
  if (o.epochs === undefined && backendName() === 'js') {
    epochs = fromScratch ? 4 : 2;
    log(`the native backend is not built, so the demo trains ${epochs} epochs on the slow TypeScript backend (see the warning above to install it)`);
  }
  const { metrics, baseline } = await runTrain({
    model, train: path.join(dataDir, 'train.csv'), test: path.join(dataDir, 'test.csv'), outputDir: o.outputDir,
    epochs, learningRate: fromScratch ? 1e-3 : 1e-4, batchSize: 32, maxLength: 64, weightDecay: 0.01,
    warmup: 0.1, scheduler: 'linear', seed: o.seed, evalEvery: 0, gradAccum: 1, maxGradNorm: 1, labelSmoothing: 0, validationSplit: 0.1,
    // the demo's folder is its own: a second run replaces the first
    overwrite: true,
  }, log);
  const acc = (metrics as { accuracy: number }).accuracy;
  const bacc = baseline ? (baseline.accuracy as number) : null;
  log(`\ndemo test accuracy ${acc.toFixed(3)} on ${test.length} held-out descriptions${bacc !== null ? ` (TF-IDF + logistic regression baseline: ${bacc.toFixed(3)} — always compare)` : ''}. Try it on your own text:`);
  log(`  echo '{"text":"burning when I pee and cloudy urine"}' > note.jsonl && npx medtune predict --model ${path.join(o.outputDir, 'best_model')} --input note.jsonl --output out.jsonl`);
  return acc;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('fine-tune a small BERT on built-in synthetic symptom descriptions -> diagnoses (offline, under a minute)')
    .option('--output-dir <dir>', 'where data, model and reports go', 'medtune-demo')
    .option('--model <dir-or-name>', 'start from a pretrained checkpoint instead of training from scratch')
    .option('--seed <n>', 'random seed', int('--seed', 0), 1)
    .option('--epochs <n>', 'epochs (default 12 from scratch, 5 from a checkpoint)', int('--epochs'))
    .action(async (o: { outputDir: string; model?: string; seed: number; epochs?: number }) => {
      await runDemo(o);
    });
}
