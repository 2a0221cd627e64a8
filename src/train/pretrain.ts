/**
 * Continued masked-LM pretraining of a BERT/RoBERTa folder on a corpus (what `medtune pretrain` runs): domain texts
 * for DAPT, the task's own training texts for TAPT (Gururangan et al. 2020). The corpus is read (and cleaned when
 * asked), tokenised and split into training and a held-out slice; the masked-LM task (mlm-task.ts) runs in the
 * training loop (loop.ts) shared with fine-tuning, so checkpoints, --resume and progress are the Trainer's. Writes
 * the model in HF layout into --output-dir (loadable by `medtune train` and transformers), checkpoint-N/ folders,
 * metrics.json and metrics.jsonl.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MedtuneError } from '../common/errors.js';
import { prepareOutputDir, refuseSameOutputs, writeFileAtomic } from '../common/atomic.js';
import { DataError } from '../data/readers.js';
import { readCorpus } from '../data/curate.js';
import { setThreads } from '../tensor/backend.js';
import { Tokenizer } from '../text/tokenizer.js';
import { cleanText, parseCleanSteps, type CleanOptions } from '../text/clean.js';
import { readModelConfig, resolveMaxLength } from '../models/auto.js';
import { loadMaskedLM, saveMaskedLM } from '../models/mlm.js';
import { fileSha256 } from '../models/metadata.js';
import { SCHEDULERS, type SchedulerName } from './schedule.js';
import { checkpointToResume } from './resume.js';
import { TrainingLoop } from './loop.js';
import {
  encodeCorpus,
  evaluateMlm,
  maskedLmTask,
  pretrainLoopConfig,
  splitHeldOut,
  type MlmMetrics,
  type PretrainConfig,
} from './mlm-task.js';

export interface PretrainOptions {
  model: string;
  corpus: string[];
  outputDir: string;
  textColumn?: string;
  initMlmHead?: boolean;
  epochs: number;
  maxSteps?: number;
  learningRate: number;
  batchSize: number;
  /** default: 128, capped at the model's limit; an explicit value above the limit is refused */
  maxLength?: number;
  weightDecay: number;
  warmup: number;
  scheduler: SchedulerName;
  maxGradNorm: number;
  maskProbability: number;
  validationSplit: number;
  seed: number;
  saveSteps?: number;
  saveTotalLimit: number;
  resume?: string | boolean;
  clean?: string | boolean;
  threads?: number;
}

const usage = (msg: string) => new MedtuneError(msg, 'E_USAGE');

function checkOptions(o: PretrainOptions): void {
  if (!(SCHEDULERS as readonly string[]).includes(o.scheduler))
    throw usage(`--scheduler must be ${SCHEDULERS.join(', ')}, got "${o.scheduler}"`);
  if (!(o.maskProbability > 0 && o.maskProbability < 1))
    throw usage(`--mask-probability must be in (0, 1), got ${o.maskProbability}`);
  if (!(o.validationSplit >= 0 && o.validationSplit < 1))
    throw usage(`--validation-split must be in [0, 1), got ${o.validationSplit}`);
  refuseSameOutputs([
    ['--model', o.model],
    ['--output-dir', o.outputDir],
  ]);
  prepareOutputDir(o.outputDir);
}

/** The corpus files' texts (cleaned when asked); an error when nothing usable is left. */
async function corpusTexts(files: string[], textColumn: string | undefined, clean: CleanOptions | null) {
  let texts: string[] = [];
  for (const f of files) texts.push(...(await readCorpus(f, textColumn)));
  if (clean) texts = texts.map((t) => cleanText(t, clean)).filter((t) => t.trim());
  const words = texts.reduce((s, t) => s + (t.match(/[\p{L}\p{N}]+/gu)?.length ?? 0), 0);
  if (!texts.length || words === 0) {
    const msg = `the corpus (${files.join(', ')}) has no usable text: every row is empty or has no words`;
    throw new DataError(msg, 'E_INPUT_EMPTY');
  }
  return { texts, words };
}

const pretrainConfig = (o: PretrainOptions): PretrainConfig => ({
  outputDir: o.outputDir,
  epochs: o.epochs,
  maxSteps: o.maxSteps ?? 0,
  learningRate: o.learningRate,
  batchSize: o.batchSize,
  weightDecay: o.weightDecay,
  warmup: o.warmup,
  scheduler: o.scheduler,
  maxGradNorm: o.maxGradNorm,
  seed: o.seed,
  maskProbability: o.maskProbability,
  saveSteps: o.saveSteps ?? 0,
  saveTotalLimit: o.saveTotalLimit,
});

const describe = (when: string, m: MlmMetrics, tokens = false) =>
  `${when}: masked-token accuracy ${m.accuracy.toFixed(4)}, perplexity ${m.perplexity.toFixed(2)}` +
  (tokens ? ` (${m.tokens} masked tokens)` : '');

export async function runPretrain(
  o: PretrainOptions,
  log: (l: string) => void = (l) => console.log(l),
): Promise<{ before: MlmMetrics | null; after: MlmMetrics | null }> {
  const t0 = performance.now();
  if (o.threads) setThreads(o.threads);
  checkOptions(o);
  const folder = await readModelConfig(o.model);
  const maxLength = resolveMaxLength(o.maxLength, folder.config, 128);
  const clean = parseCleanSteps(o.clean);
  const { texts, words } = await corpusTexts(o.corpus, o.textColumn, clean);
  const loaded = await loadMaskedLM(folder, { initHead: o.initMlmHead, seed: o.seed, log });
  if (loaded.newHead) log('no masked-LM head in the model folder: initialised a new one (--init-mlm-head)');
  const tok = Tokenizer.fromDir(loaded.dir);
  const maskId = tok.tokenToId('[MASK]') ?? tok.tokenToId('<mask>');
  if (maskId === undefined)
    throw new MedtuneError(`the tokenizer of ${loaded.dir} has no mask token ([MASK] or <mask>)`, 'E_TOKENIZER');
  const { train, validation } = splitHeldOut(encodeCorpus(texts, tok, maxLength), o.validationSplit, o.seed);
  log(
    `corpus: ${texts.length} texts, ${words} words; ${train.length} for training, ` +
      `${validation.length} held out (masked-token accuracy, perplexity)`,
  );
  const cfg = pretrainConfig(o);
  const resumeFrom = o.resume ? checkpointToResume(o.outputDir, o.resume) : undefined;
  const evalOpts = { maskId, padId: tok.padId, probability: o.maskProbability, batchSize: o.batchSize * 2 };
  const before = validation.length && !resumeFrom ? evaluateMlm(loaded.model, validation, evalOpts) : null;
  if (before) log(describe('before', before, true));
  const medtune = {
    training: {
      kind: 'masked-lm',
      base_model: o.model,
      seed: o.seed,
      data: o.corpus.map((f) => ({ file: path.resolve(f), sha256: fileSha256(f), split: 'pretrain' })),
      recipe: { ...cfg, outputDir: undefined, maxLength, ...(clean ? { clean } : {}) },
    },
  };
  const save = (dir: string, inPlace = false) =>
    saveMaskedLM(dir, loaded.model, loaded.config, { tokenizerFrom: loaded.dir, medtune, inPlace });
  const task = maskedLmTask({
    model: loaded.model,
    data: train,
    validation,
    tok: { maskId, padId: tok.padId },
    cfg,
    saveModel: save,
  });
  await new TrainingLoop(task, pretrainLoopConfig(cfg), log).run(resumeFrom);
  const after = task.last();
  save(o.outputDir, true);
  const metrics = {
    before,
    after,
    corpus: { files: o.corpus, texts: texts.length, train: train.length, validation: validation.length },
    seconds: (performance.now() - t0) / 1000,
  };
  writeFileAtomic(path.join(o.outputDir, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
  if (after) log(describe('after', after));
  log(
    `model: ${o.outputDir} (use it with medtune train --model ${o.outputDir}); total ${metrics.seconds.toFixed(0)} s`,
  );
  return { before, after };
}
