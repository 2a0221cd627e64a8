/**
 * The recipe `medtune train` picks when the user gives none (issue 12): max length from the training texts' token
 * lengths (the 95th percentile, rounded up to a multiple of 16, at most the model's limit), the learning rate and
 * warm-up from the model's size (HF's 5e-5 suits BERT-base; small models need a larger rate: 5e-5·(768/hidden)^1.25,
 * so 2e-4 at hidden 256), and epochs from the dataset's size (about 16,000 examples seen, 3 to 20 epochs). Explicit
 * flags win; `--recipe hf` keeps HF's defaults (lr 5e-5, 3 epochs, max length 128, no warm-up). A run records its
 * recipe in recipe.json, and a resumed run keeps it.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { makeDirs, writeFileAtomic } from '../common/atomic.js';
import { encodeExamples, type Example } from '../data/dataset.js';
import type { Tokenizer } from '../text/tokenizer.js';
import { modelMaxLength, type ModelConfig } from '../models/auto.js';
import type { TrainOptions } from './options.js';

export interface RecipeValues {
  learningRate: number;
  epochs: number;
  maxLength: number;
  warmup: number;
}

export const HF_RECIPE: RecipeValues = { learningRate: 5e-5, epochs: 3, maxLength: 128, warmup: 0 };

export interface RecipeInput {
  /** the model's hidden size and layer count */
  hidden: number;
  layers: number;
  /** the most tokens the model takes */
  modelLimit: number;
  /** full token length of every training text (special tokens included, before truncation) */
  lengths: number[];
  /** multi-label data: its heads learn rare positives late, so it gets at least MULTI_LABEL_MIN_EPOCHS */
  multiLabel?: boolean;
}

/**
 * HoC (10,892 sentences, 10 labels) with mini-biobert: validation micro-F1 0.00 after one epoch, 0.59 after three,
 * 0.66 after five; abstract-level test micro-F1, mean of seeds 1-3, rose from 0.65 (3 epochs) to 0.77 (6 epochs).
 */
export const MULTI_LABEL_MIN_EPOCHS = 6;

export interface Recipe {
  source: 'auto' | 'hf';
  values: RecipeValues;
  /** the options the user gave, which won over the recipe */
  explicit: string[];
  /** one line: the values and why */
  reason: string;
  /** training texts still longer than the max length */
  cut: number;
}

const sig2 = (x: number) => Number(x.toPrecision(2));

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] ?? 0;
}

/** HF's 5e-5 for BERT-base (hidden 768), scaled as (768/hidden)^1.25 for other sizes, two significant digits. */
export function autoLearningRate(hidden: number): number {
  return Math.min(5e-4, Math.max(1e-5, sig2(5e-5 * Math.pow(768 / hidden, 1.25))));
}

/** An explicit rate this far below the automatic one (for the model's size) gets a warning line. */
const FAR_BELOW = 5;

/** One warning line for an explicit learning rate far below what the automatic recipe picks for this model size. */
export function learningRateWarning(given: number | undefined, hidden: number): string | null {
  const auto = autoLearningRate(hidden);
  if (given === undefined || !(given > 0) || given * FAR_BELOW > auto) return null;
  return (
    `warning: --learning-rate ${given} is far below the ${auto} the automatic recipe picks for hidden size ` +
    `${hidden}; a small model trained at BERT-base's rate may learn little (leave --learning-rate out to use ${auto})`
  );
}

/** The automatic recipe's values and why, before explicit options are applied. */
export function autoRecipe(x: RecipeInput): { values: RecipeValues; why: Record<keyof RecipeValues, string> } {
  const p95 = percentile(x.lengths, 0.95);
  const maxLength = Math.min(x.modelLimit, Math.max(32, Math.ceil(p95 / 16) * 16));
  const learningRate = autoLearningRate(x.hidden);
  const warmup = x.hidden >= 768 ? 0.1 : 0.06;
  const n = x.lengths.length;
  const least = x.multiLabel ? MULTI_LABEL_MIN_EPOCHS : 3;
  const epochs = Math.min(20, Math.max(least, Math.ceil(16_000 / Math.max(1, n))));
  return {
    values: { learningRate, epochs, maxLength, warmup },
    why: {
      maxLength:
        `covers 95% of the training texts: p95 ${p95} tokens` +
        (maxLength === x.modelLimit ? `, the model's limit is ${x.modelLimit}` : ''),
      learningRate:
        `hidden size ${x.hidden}` + (x.hidden < 768 ? ": a small model needs a larger rate than BERT-base's 5e-5" : ''),
      warmup: `${x.hidden >= 768 ? 'a large model' : 'a small model'}, ratio of all steps`,
      epochs:
        `${n} training rows: about 16,000 examples seen, ${least} to 20 epochs` +
        (x.multiLabel ? ' (multi-label heads learn rare labels late)' : ''),
    },
  };
}

/** The recipe with the user's explicit options applied, and its one-line description. */
export function chooseRecipe(x: RecipeInput & { source: 'auto' | 'hf'; given: Partial<RecipeValues> }): Recipe {
  const auto =
    x.source === 'auto'
      ? autoRecipe(x)
      : { values: { ...HF_RECIPE, maxLength: Math.min(128, x.modelLimit) }, why: null };
  const explicit = (Object.keys(x.given) as (keyof RecipeValues)[]).filter((k) => x.given[k] !== undefined);
  const values: RecipeValues = { ...auto.values };
  for (const k of explicit) values[k] = x.given[k]!;
  const cut = x.lengths.filter((l) => l > values.maxLength).length;
  const flag: Record<keyof RecipeValues, string> = {
    learningRate: 'learning rate',
    epochs: 'epochs',
    maxLength: 'max length',
    warmup: 'warm-up',
  };
  const parts = (Object.keys(flag) as (keyof RecipeValues)[]).map((k) => {
    const why = explicit.includes(k) ? 'given' : auto.why ? auto.why[k] : "HF's default";
    return `${flag[k]} ${Number(values[k].toPrecision(3))} (${why})`;
  });
  const head =
    x.source === 'hf'
      ? 'recipe hf (--recipe hf: HF Trainer defaults)'
      : `recipe auto (${explicit.length ? 'automatic where not given' : 'no recipe flags'}; ` +
        '--recipe hf for HF defaults)';
  const cutNote = cut
    ? `; ${cut} of ${x.lengths.length} training texts are still cut at ${values.maxLength} tokens`
    : '';
  return { source: x.source, values, explicit, reason: `${head}: ${parts.join(', ')}${cutNote}`, cut };
}

/**
 * The recipe for the options the user left out (train/recipe.ts), written to recipe.json. A resumed run continues
 * with the recorded recipe (and says so when the data would now give another one).
 */
export function resolveRecipe(
  o: TrainOptions,
  x: { train: Example[]; tok: Tokenizer; config: ModelConfig; resuming: boolean },
  log: (l: string) => void,
): Recipe {
  const { train, tok, config, resuming } = x;
  const limit = modelMaxLength(config);
  const enc = encodeExamples(train, tok, limit);
  const lengths = enc.ids.map((ids, i) => ids.length + (enc.cut[i] ?? 0));
  const c = config as { hidden_size?: number; dim?: number; num_hidden_layers?: number; n_layers?: number };
  const given: Partial<RecipeValues> = {
    learningRate: o.learningRate,
    epochs: o.epochs,
    maxLength: o.maxLength,
    warmup: o.warmup,
  };
  const input = {
    hidden: c.hidden_size ?? c.dim ?? 768,
    layers: c.num_hidden_layers ?? c.n_layers ?? 12,
    modelLimit: limit,
    lengths,
    multiLabel: !!o.multiLabel,
    source: o.recipe ?? 'auto',
  };
  let recipe = chooseRecipe({ ...input, given });
  const file = path.join(o.outputDir, 'recipe.json');
  if (resuming && existsSync(file)) {
    const old = JSON.parse(readFileSync(file, 'utf8')) as Recipe;
    const recorded = Object.fromEntries(
      Object.entries(old.values).filter(([k]) => given[k as keyof RecipeValues] === undefined),
    );
    const differs = Object.entries(recorded).filter(([k, v]) => recipe.values[k as keyof RecipeValues] !== v);
    if (differs.length)
      log(
        `resume: continuing with the recipe in ${file} (${differs.map(([k, v]) => `${k} ${v}`).join(', ')}); ` +
          'the data would now give ' +
          differs.map(([k]) => `${k} ${recipe.values[k as keyof RecipeValues]}`).join(', '),
      );
    recipe = chooseRecipe({
      ...input,
      source: old.source,
      given: { ...recorded, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) },
    });
  }
  log(recipe.reason);
  const warning = learningRateWarning(o.learningRate, input.hidden);
  if (warning) log(warning);
  makeDirs(o.outputDir);
  writeFileAtomic(file, JSON.stringify(recipe, null, 2) + '\n');
  return recipe;
}
