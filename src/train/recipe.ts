/**
 * The recipe `medtune train` picks when the user gives none (issue 12): max length from the training texts' token
 * lengths (the 95th percentile, rounded up to a multiple of 16, at most the model's limit), the learning rate and
 * warm-up from the model's size (HF's 5e-5 suits BERT-base; small models need a larger rate: 5e-5·(768/hidden)^1.25,
 * so 2e-4 at hidden 256), and epochs from the dataset's size (about 16,000 examples seen, 3 to 20 epochs). Explicit
 * flags win; `--recipe hf` keeps HF's defaults (lr 5e-5, 3 epochs, max length 128, no warm-up). Texts longer than the
 * model's window turn windows on (each text read in windows of the model's length, pooled; chooseDocument). A run
 * records its recipe in recipe.json, and a resumed run keeps it.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { makeDirs, writeFileAtomic } from '../common/atomic.js';
import { encodeExamples, type Example } from '../data/dataset.js';
import type { Tokenizer } from '../text/tokenizer.js';
import { DEFAULT_MAX_DOCUMENT_TOKENS, windowSpec } from '../text/windows.js';
import { modelMaxLength, type ModelConfig } from '../models/auto.js';
import { documentSettingsOf, type DocumentSettings, type Pooling } from '../models/pooling.js';
import { MedtuneError } from '../common/errors.js';
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
  /** training texts still longer than the max length (documents: than --max-document-tokens) */
  cut: number;
  /** long texts read in windows (null: cut at the max length) */
  document: DocumentSettings | null;
  /** one line: why windows are on (null: they are off) */
  documentReason: string | null;
}

/** The options that choose how long texts are read. */
export type DocumentOptions = Pick<TrainOptions, 'pooling' | 'stride' | 'head' | 'maxDocumentTokens' | 'maxLength'>;

/** The pooling the recipe picks: attention (a learned weighting of the windows, a few hundred parameters). */
export const AUTO_POOLING: Pooling = 'attention';

/**
 * Whether texts are read in windows, and how: asked for (--pooling, --stride, --head, --max-document-tokens), the
 * parent model's reading, or — recipe auto — when training texts are longer than the model's window. `--pooling
 * none` cuts them. Windows have the model's length (or --max-length); short texts read exactly as before.
 */
export function chooseDocument(x: {
  lengths: number[];
  modelLimit: number;
  source: 'auto' | 'hf';
  o: DocumentOptions;
  parent: DocumentSettings | null;
  specials: { head: number; tail: number };
}): { document: DocumentSettings | null; reason: string | null } {
  const { o, parent } = x;
  if (o.pooling === 'none') return { document: null, reason: null };
  const window = o.maxLength ?? x.modelLimit;
  // texts longer than the model can read turn windows on; an explicit --max-length below that only cuts, as before
  const long = x.lengths.filter((l) => l > x.modelLimit).length;
  const asked = o.pooling !== undefined || o.head === 'label-attention' || o.stride !== undefined;
  const askedDoc = asked || o.maxDocumentTokens !== undefined;
  if (!askedDoc && !parent && !(x.source === 'auto' && long > 0)) return { document: null, reason: null };
  const head = o.head === 'pooled' ? undefined : (o.head ?? parent?.head);
  const stride = windowSpec({ length: window, stride: o.stride ?? parent?.stride, ...x.specials }).stride;
  const document: DocumentSettings = {
    window,
    stride,
    pooling: o.pooling ?? parent?.pooling ?? AUTO_POOLING,
    max_document_tokens: o.maxDocumentTokens ?? parent?.max_document_tokens ?? DEFAULT_MAX_DOCUMENT_TOKENS,
    ...(head ? { head } : {}),
  };
  const why = askedDoc
    ? 'as asked'
    : parent && !long
      ? 'as the model it continues from reads them'
      : `${long} of ${x.lengths.length} training texts are longer than the model's window of ${x.modelLimit} tokens ` +
        `(tokens p50 ${percentile(x.lengths, 0.5)}, p95 ${percentile(x.lengths, 0.95)})`;
  const how = head ? 'label-wise attention over the tokens of every window' : `${document.pooling} pooling`;
  return {
    document,
    reason:
      `long texts in windows, ${why}: windows of ${window} tokens sharing ${stride}, ${how}, documents read up ` +
      `to ${document.max_document_tokens} tokens${askedDoc ? '' : ' (--pooling none cuts them at the window instead)'}`,
  };
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
export function chooseRecipe(
  x: RecipeInput & {
    source: 'auto' | 'hf';
    given: Partial<RecipeValues>;
    document?: { document: DocumentSettings | null; reason: string | null };
  },
): Recipe {
  const auto =
    x.source === 'auto'
      ? autoRecipe(x)
      : { values: { ...HF_RECIPE, maxLength: Math.min(128, x.modelLimit) }, why: null };
  const explicit = (Object.keys(x.given) as (keyof RecipeValues)[]).filter((k) => x.given[k] !== undefined);
  const values: RecipeValues = { ...auto.values };
  const document = x.document?.document ?? null;
  if (document) values.maxLength = document.window;
  for (const k of explicit) values[k] = x.given[k]!;
  const limit = document ? document.max_document_tokens + 2 : values.maxLength;
  const cut = x.lengths.filter((l) => l > limit).length;
  const flag: Record<keyof RecipeValues, string> = {
    learningRate: 'learning rate',
    epochs: 'epochs',
    maxLength: 'max length',
    warmup: 'warm-up',
  };
  const parts = (Object.keys(flag) as (keyof RecipeValues)[]).map((k) => {
    const why = explicit.includes(k)
      ? 'given'
      : k === 'maxLength' && document
        ? 'the window: long texts are read in windows'
        : auto.why
          ? auto.why[k]
          : "HF's default";
    return `${flag[k]} ${Number(values[k].toPrecision(3))} (${why})`;
  });
  const head =
    x.source === 'hf'
      ? 'recipe hf (--recipe hf: HF Trainer defaults)'
      : `recipe auto (${explicit.length ? 'automatic where not given' : 'no recipe flags'}; ` +
        '--recipe hf for HF defaults)';
  const cutNote = cut
    ? `; ${cut} of ${x.lengths.length} training texts are still cut at ${document ? limit - 2 : values.maxLength} ` +
      'tokens'
    : '';
  return {
    source: x.source,
    values,
    explicit,
    reason: `${head}: ${parts.join(', ')}${cutNote}`,
    cut,
    document,
    documentReason: x.document?.reason ?? null,
  };
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
  const specials = tok.singleSpecials();
  const empty = lengths.findIndex((l) => l <= specials.head + specials.tail);
  if (empty >= 0 && !train.some((e) => e.pair !== undefined))
    throw new MedtuneError(
      `${o.train} row ${train[empty]!.row} has no tokens after cleaning (nothing the tokenizer keeps); ` +
        'remove the row or fix its text',
      'E_INPUT_DATA',
    );
  const c = config as { hidden_size?: number; dim?: number; num_hidden_layers?: number; n_layers?: number };
  const given: Partial<RecipeValues> = {
    learningRate: o.learningRate,
    epochs: o.epochs,
    maxLength: o.maxLength,
    warmup: o.warmup,
  };
  const source = o.recipe ?? 'auto';
  const pairs = train.some((e) => e.pair !== undefined);
  const docInput = { lengths, modelLimit: limit, source, o, parent: documentSettingsOf(config), specials };
  const input = {
    hidden: c.hidden_size ?? c.dim ?? 768,
    layers: c.num_hidden_layers ?? c.n_layers ?? 12,
    modelLimit: limit,
    lengths,
    multiLabel: !!o.multiLabel,
    source,
    document: pairs ? { document: null, reason: null } : chooseDocument(docInput),
  };
  let recipe = chooseRecipe({ ...input, given });
  const file = path.join(o.outputDir, 'recipe.json');
  if (resuming && existsSync(file)) {
    const old = JSON.parse(readFileSync(file, 'utf8')) as Recipe;
    if (old.document !== undefined && !docOptionsGiven(o))
      input.document = { document: old.document, reason: old.documentReason ?? null };
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
  if (recipe.documentReason) log(recipe.documentReason);
  const warning = learningRateWarning(o.learningRate, input.hidden);
  if (warning) log(warning);
  makeDirs(o.outputDir);
  writeFileAtomic(file, JSON.stringify(recipe, null, 2) + '\n');
  return recipe;
}

/** The user gave an option about how long texts are read. */
function docOptionsGiven(o: DocumentOptions): boolean {
  return o.pooling !== undefined || o.stride !== undefined || o.head !== undefined || o.maxDocumentTokens !== undefined;
}
