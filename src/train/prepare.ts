/**
 * Stage 2 of `medtune train`, prepare: the texts of the splits, in the order training needs them: de-identification
 * (--deid) of every split, the leakage check between the training rows and the evaluation rows (data/leakage.ts; on
 * by default, --fail-on-leakage stops the run; rows the model is trained on, by file and row, are refused), cleaning
 * of every split (recorded as the model's medtune.preprocessing so predict and the server clean the same way), and
 * augmentation of the training split only — after the validation split was taken, so no augmented row or copy of a
 * training row can reach validation or test through it.
 */
import { checkNotTrainedOn, leakageChecks, type LeakageReport } from '../data/leakage.js';
import type { Example } from '../data/dataset.js';
import { deidentify, type Operator } from '../deid/anonymize.js';
import { DeidModel } from '../infer/deid-model.js';
import { Generator } from '../tensor/random.js';
import { cleanText, parseCleanSteps, type PreprocessingOptions } from '../text/clean.js';
import { augmentText, checkAugmentCount, parseAugmentOps, type FillMask } from '../text/augment.js';
import { Tokenizer } from '../text/tokenizer.js';
import { createFillMask } from '../models/fill-mask.js';
import { loadMaskedLM } from '../models/mlm.js';
import type { ModelFolder, ModelSource } from '../models/auto.js';
import type { Splits, TextPrepOptions, TrainOptions } from './options.js';

export type { TextPrepOptions };

export interface PrepareInput {
  train: Example[];
  /** named evaluation splits checked against training: validation, test */
  evaluation: { name: string; examples: Example[] }[];
  labels: string[];
  /** model folder or hub name, or the folder already read (the masked-LM for contextual augmentation) */
  model: ModelSource;
  seed: number;
  o: TextPrepOptions;
  log: (l: string) => void;
}

async function fillMaskFor(model: ModelSource, log: (l: string) => void): Promise<FillMask> {
  const m = await loadMaskedLM(model, {
    log: () => {},
    noHeadHint: 'leave "contextual" out of --augment-ops, or use a folder that has one',
  });
  log(`contextual augmentation with the masked-LM head of ${m.dir}`);
  return createFillMask(m.model, Tokenizer.fromDir(m.dir));
}

/** Augmented copies of training examples (their parents' row numbers), appended after the originals. */
export async function augmentExamples(
  train: Example[],
  labels: string[],
  seed: number,
  o: TextPrepOptions & { model?: ModelSource },
  log: (l: string) => void,
): Promise<Example[]> {
  const n = o.augment!;
  checkAugmentCount(n);
  const ops = parseAugmentOps(o.augmentOps);
  const fillMask = ops.includes('contextual') ? await fillMaskFor(o.model!, log) : undefined;
  const gen = new Generator(seed + 7);
  const out: Example[] = [];
  const counts = new Map<string, number>();
  for (const ex of train) {
    const label = Array.isArray(ex.label)
      ? labels.filter((_, i) => (ex.label as number[])[i]).join(' ')
      : (labels[ex.label] ?? '');
    for (const a of augmentText(ex.text, n, gen, { ops, alpha: o.augmentAlpha, protect: o.protect, label, fillMask })) {
      out.push({ ...ex, text: a.text });
      for (const op of a.ops) counts.set(op.split(':')[0]!, (counts.get(op.split(':')[0]!) ?? 0) + 1);
    }
  }
  log(
    `augmented the training split only (--augment ${n}): ${train.length} -> ${train.length + out.length} rows ` +
      `(${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')})`,
  );
  return [...train, ...out];
}

/** Leakage check, cleaning (all splits, in place), augmentation (training only). */
export async function prepareTexts(
  p: PrepareInput,
): Promise<{ train: Example[]; preprocessing: PreprocessingOptions | null; leakage: LeakageReport[] }> {
  const leakage = leakageChecks(p.train, p.evaluation, p.o, p.log);
  const clean = parseCleanSteps(p.o.clean);
  if (clean) {
    for (const ex of [...p.train, ...p.evaluation.flatMap((s) => s.examples)]) {
      ex.text = cleanText(ex.text, clean);
      if (ex.pair !== undefined) ex.pair = cleanText(ex.pair, clean);
    }
    p.log(
      `cleaned every text (--clean: ${Object.keys(clean)
        .filter((k) => clean[k as keyof typeof clean])
        .join(', ')}); recorded in the model's medtune.preprocessing`,
    );
  }
  const train = p.o.augment
    ? await augmentExamples(p.train, p.labels, p.seed, { ...p.o, model: p.model }, p.log)
    : p.train;
  return { train, preprocessing: clean ? { clean } : null, leakage };
}

async function deidSplits(s: Splits, operator: Operator, deidModel: string | undefined, log: (l: string) => void) {
  let n = 0;
  const secret = process.env.MEDTUNE_DEID_SECRET;
  // --deid-model: rules ∪ model (infer/deid-model.ts), in batches; else the rules alone
  const m = deidModel ? await DeidModel.load(deidModel, { log: () => {} }) : null;
  const examples = [...s.train, ...s.validation, ...s.review, ...s.test];
  for (let i = 0; i < examples.length; i += 32) {
    const part = examples.slice(i, i + 32);
    const found = m?.analyzeBatch(part.map((ex) => ex.text));
    const pairs = m?.analyzeBatch(part.map((ex) => ex.pair ?? ''));
    part.forEach((ex, k) => {
      const r = deidentify(ex.text, { operator, secret, entities: found?.[k] });
      n += r.entities.length;
      ex.text = r.text;
      if (ex.pair !== undefined) {
        const p = deidentify(ex.pair, { operator, secret, entities: pairs?.[k] });
        n += p.entities.length;
        ex.pair = p.text;
      }
    });
  }
  log(
    `de-identified before tokenising (--deid, operator ${operator}${m ? `, rules ∪ model ${deidModel}` : ''}): ` +
      `${n} PHI entities replaced in ${examples.length} texts`,
  );
}

/**
 * The prepare stage: evaluating on rows the model is trained on is refused (reviewed corrections and the parent's
 * training rows included), de-identification, then prepareTexts; the training split grows in place by augmentation.
 */
export async function prepareSplits(o: TrainOptions, s: Splits, model: ModelFolder, log: (l: string) => void) {
  checkNotTrainedOn(s.trainedOn, s.evaluated, o);
  if (o.deid) await deidSplits(s, o.deidOperator ?? 'tag', o.deidModel, log);
  const evaluation = [
    { name: 'validation', examples: s.validation },
    { name: 'test', examples: s.test },
    { name: 'review', examples: s.review },
  ];
  const prep = await prepareTexts({
    train: s.train,
    evaluation,
    labels: s.trainData.labels,
    model,
    seed: o.seed,
    o,
    log,
  });
  s.train = prep.train;
  return prep;
}
