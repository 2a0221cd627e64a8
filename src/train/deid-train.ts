/**
 * `medtune deid train`: a de-identification model medtune trains itself. A synthetic PHI-annotated corpus of
 * clinical notes (deid/synthetic-corpus.ts) is written under the output folder — training and validation notes from
 * one seed, a held-out test set from another — and a token classifier is fine-tuned on it from a local checkpoint
 * (train --task token-classification), with its PHI threshold chosen on validation for entity-word recall ≥ the
 * recall target (0.98). `medtune deid --model OUTPUT/best_model` then runs rules ∪ model (infer/deid-model.ts).
 */
import path from 'node:path';
import { makeDirs, prepareOutputDir, writeFileAtomic } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { syntheticCorpus, type SyntheticNote } from '../deid/synthetic-corpus.js';
import { runTokenTrain, type TokenTrainResult } from './token-run.js';

export interface DeidTrainOptions {
  /** the checkpoint to fine-tune (a local folder such as mini-biobert) */
  model: string;
  outputDir: string;
  /** training notes (default 3000); validation and test: a tenth each, at least 100 */
  notes?: number;
  seed?: number;
  epochs?: number;
  /** tokens per window (default 128) */
  maxLength?: number;
  batchSize?: number;
  learningRate?: number;
  /** share of PHI words the threshold must find on validation (default 0.98) */
  recallTarget?: number;
  threads?: number;
  overwrite?: boolean;
  log?: (l: string) => void;
}

const jsonl = (notes: SyntheticNote[]) =>
  notes.map((n) => JSON.stringify({ text: n.text, entities: n.entities })).join('\n') + '\n';

/** Seed of the held-out test notes: far from the training seed's stream. */
export const heldoutSeed = (seed: number) => seed + 7919;

export async function runDeidTrain(o: DeidTrainOptions): Promise<TokenTrainResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const n = o.notes ?? 3000;
  if (!(Number.isInteger(n) && n >= 20))
    throw new MedtuneError(`--notes must be a whole number ≥ 20, got ${n}`, 'E_USAGE');
  const seed = o.seed ?? 42;
  prepareOutputDir(o.outputDir);
  const dataDir = path.join(o.outputDir, 'data');
  makeDirs(dataDir);
  const held = Math.max(100, Math.round(n / 10));
  const corpus = syntheticCorpus(n + held, seed);
  const files = {
    train: path.join(dataDir, 'train.jsonl'),
    validation: path.join(dataDir, 'validation.jsonl'),
    test: path.join(dataDir, 'test.jsonl'),
  };
  writeFileAtomic(files.train, jsonl(corpus.slice(0, n)));
  writeFileAtomic(files.validation, jsonl(corpus.slice(n)));
  writeFileAtomic(files.test, jsonl(syntheticCorpus(held, heldoutSeed(seed))));
  log(
    `synthetic notes: ${n} training, ${held} validation (seed ${seed}), ` +
      `${held} held-out test (seed ${heldoutSeed(seed)})`,
  );
  return runTokenTrain(
    {
      task: 'token-classification',
      model: o.model,
      ...files,
      outputDir: o.outputDir,
      epochs: o.epochs ?? 2,
      maxLength: o.maxLength ?? 128,
      learningRate: o.learningRate,
      batchSize: o.batchSize ?? 32,
      weightDecay: 0.01,
      scheduler: 'linear',
      seed,
      evalEvery: 0,
      gradAccum: 1,
      maxGradNorm: 1,
      labelSmoothing: 0,
      validationSplit: 0,
      recallTarget: o.recallTarget ?? 0.98,
      metricForBestModel: 'entity_recall',
      threads: o.threads,
      overwrite: o.overwrite,
      saveTotalLimit: 1,
    },
    log,
  );
}
