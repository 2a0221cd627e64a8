/**
 * `medtune pretrain`: continued masked-LM pretraining of a BERT/RoBERTa folder on a corpus (domain texts for
 * DAPT, the task's own training texts for TAPT). Writes the model in HF layout into --output-dir (loadable by
 * `medtune train` and transformers), checkpoint-N/ folders for --resume, metrics.json and metrics.jsonl.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { MedtuneError } from '../common/errors.js';
import { prepareOutputDir, writeFileAtomic } from '../common/atomic.js';
import { DataError } from '../data/readers.js';
import { readCorpus } from '../data/curate.js';
import { setThreads } from '../tensor/backend.js';
import { Tokenizer } from '../text/tokenizer.js';
import { cleanText, parseCleanSteps, type CleanOptions } from '../text/clean.js';
import { loadMaskedLM, saveMaskedLM, type MaskedLM } from '../models/mlm.js';
import { fileSha256 } from '../models/metadata.js';
import { readSafetensors } from '../io/safetensors.js';
import { encodeCorpus, evaluateMlm, Pretrainer, resumePoint, splitHeldOut } from '../train/pretrain.js';
import type { MlmMetrics, PretrainConfig, PretrainHooks } from '../train/pretrain.js';
import type { SchedulerName } from '../train/schedule.js';
import { int, num } from './args.js';

export interface PretrainCliOptions {
  model: string;
  corpus: string[];
  outputDir: string;
  textColumn?: string;
  initMlmHead?: boolean;
  epochs: number;
  maxSteps?: number;
  learningRate: number;
  batchSize: number;
  maxLength: number;
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

/** Checkpoint hooks: save the model folder; load a checkpoint's weights back (every tensor must be there). */
function checkpointHooks(model: MaskedLM, save: (dir: string) => void): PretrainHooks {
  return {
    saveModel: save,
    loadWeights: (dir) => {
      const w = readSafetensors(path.join(dir, 'model.safetensors'));
      for (const [k, p] of model.namedParameters()) {
        const t = w.get(k);
        if (!t) throw new MedtuneError(`${dir} lacks ${k}; is it a checkpoint of this run?`, 'E_CHECKPOINT');
        p.f32.set(t.data as Float32Array);
      }
    },
  };
}

export async function runPretrain(
  o: PretrainCliOptions,
  log: (l: string) => void = (l) => console.log(l),
): Promise<{ before: MlmMetrics | null; after: MlmMetrics | null }> {
  const t0 = performance.now();
  if (o.threads) setThreads(o.threads);
  if (!(o.maskProbability > 0 && o.maskProbability < 1))
    throw new MedtuneError(`--mask-probability must be in (0, 1), got ${o.maskProbability}`, 'E_USAGE');
  if (!(o.validationSplit >= 0 && o.validationSplit < 1))
    throw new MedtuneError(`--validation-split must be in [0, 1), got ${o.validationSplit}`, 'E_USAGE');
  prepareOutputDir(o.outputDir);
  const clean = parseCleanSteps(o.clean);
  const { texts, words } = await corpusTexts(o.corpus, o.textColumn, clean);
  const loaded = await loadMaskedLM(o.model, { initHead: o.initMlmHead, seed: o.seed, log });
  if (loaded.newHead) log('no masked-LM head in the model folder: initialised a new one (--init-mlm-head)');
  const tok = Tokenizer.fromDir(loaded.dir);
  const maskId = tok.tokenToId('[MASK]') ?? tok.tokenToId('<mask>');
  if (maskId === undefined)
    throw new MedtuneError(`the tokenizer of ${loaded.dir} has no mask token ([MASK] or <mask>)`, 'E_TOKENIZER');
  const maxPos =
    Number(loaded.config.max_position_embeddings ?? 512) -
    (loaded.config.model_type === 'roberta' ? Number(loaded.config.pad_token_id ?? 1) + 1 : 0);
  const maxLength = Math.min(o.maxLength, maxPos);
  const { train, validation: val } = splitHeldOut(encodeCorpus(texts, tok, maxLength), o.validationSplit, o.seed);
  log(
    `corpus: ${texts.length} texts, ${words} words; ${train.length} for training, ` +
      `${val.length} held out (masked-token accuracy, perplexity)`,
  );
  const cfg: PretrainConfig = {
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
  };
  const evalOpts = { maskId, padId: tok.padId, probability: o.maskProbability, batchSize: o.batchSize * 2 };
  const resumeFrom = resumePoint(o.outputDir, o.resume);
  const before = val.length && !resumeFrom ? evaluateMlm(loaded.model, val, evalOpts) : null;
  if (before) {
    const b = before;
    const ppl = b.perplexity.toFixed(2);
    log(`before: masked-token accuracy ${b.accuracy.toFixed(4)}, perplexity ${ppl} (${b.tokens} masked tokens)`);
  }
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
  const hooks = checkpointHooks(loaded.model, save);
  const trainer = new Pretrainer(loaded.model, { maskId, padId: tok.padId }, cfg, hooks, log);
  const after = await trainer.train(train, val, resumeFrom);
  save(o.outputDir, true);
  const metrics = {
    before,
    after,
    corpus: { files: o.corpus, texts: texts.length, train: train.length, validation: val.length },
    seconds: (performance.now() - t0) / 1000,
  };
  writeFileAtomic(path.join(o.outputDir, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
  if (after)
    log(`after: masked-token accuracy ${after.accuracy.toFixed(4)}, perplexity ${after.perplexity.toFixed(2)}`);
  log(
    `model: ${o.outputDir} (use it with medtune train --model ${o.outputDir}); total ${metrics.seconds.toFixed(0)} s`,
  );
  return { before, after };
}

export function registerPretrain(program: Command): void {
  program
    .command('pretrain')
    .description('continue masked-LM pretraining on a corpus (domain- or task-adaptive), whole-word masking')
    .requiredOption(
      '--model <dir-or-name>',
      'BERT or RoBERTa folder with its masked-LM head (cls.predictions.* / lm_head.*)',
    )
    .requiredOption('--corpus <files...>', 'texts: .txt (one per line) or CSV/TSV/JSONL/Parquet with a text column')
    .requiredOption('--output-dir <dir>', 'where the model, checkpoints and metrics go')
    .option('--text-column <name>', 'text column of tabular corpora (default: detected)')
    .option('--init-mlm-head', 'initialise a new masked-LM head when the folder has none (a classifier or base model)')
    .option('--epochs <n>', 'epochs over the corpus', num('--epochs', 0), 3)
    .option('--max-steps <n>', 'stop after N optimizer steps (overrides --epochs)', int('--max-steps'))
    .option('--learning-rate <lr>', 'peak learning rate', num('--learning-rate'), 5e-5)
    .option('--batch-size <n>', 'sequences per step', int('--batch-size'), 32)
    .option('--max-length <n>', 'max tokens per sequence', int('--max-length'), 128)
    .option('--weight-decay <w>', 'AdamW weight decay (not on biases/LayerNorm)', num('--weight-decay'), 0.01)
    .option('--warmup <n>', 'warm-up steps, or a ratio of all steps if < 1', num('--warmup'), 0.06)
    .option('--scheduler <name>', 'linear, cosine or constant', 'linear')
    .option('--max-grad-norm <x>', 'clip the global gradient norm (0: off)', num('--max-grad-norm'), 1)
    .option(
      '--mask-probability <p>',
      'share of tokens predicted, chosen by whole words (80% mask, 10% random, 10% kept)',
      num('--mask-probability'),
      0.15,
    )
    .option(
      '--validation-split <f>',
      'share of texts held out for masked-token accuracy and perplexity',
      num('--validation-split'),
      0.05,
    )
    .option('--seed <n>', 'random seed', int('--seed', 0), 42)
    .option('--save-steps <n>', 'checkpoint every N steps (default: every epoch)', int('--save-steps'))
    .option('--save-total-limit <n>', 'keep the N newest checkpoints (0: all)', int('--save-total-limit', 0), 2)
    .option('--resume [checkpoint]', 'continue from a checkpoint folder (default: the latest in --output-dir)')
    .option(
      '--clean [steps]',
      'clean the corpus first (default steps, or a list: unicode,controls,whitespace,linebreaks,...)',
    )
    .option('--threads <n>', 'threads', int('--threads'))
    .action(async (o: PretrainCliOptions) => {
      if (!['linear', 'cosine', 'constant'].includes(o.scheduler))
        throw new MedtuneError(`--scheduler must be linear, cosine or constant, got "${o.scheduler}"`, 'E_USAGE');
      await runPretrain(o);
    });
}
