/**
 * Stage 1 of `medtune train`, read: the labelled files into splits. Continuing from a fine-tuned classifier keeps its
 * label map (grown by new labels only with --add-labels); a held-out validation split is stratified; --replay adds
 * a share of the old training rows; the audit columns are read beside the texts.
 */
import { MedtuneError } from '../common/errors.js';
import { readLabeled, stratifiedSplit, type Example, type LabeledData } from '../data/dataset.js';
import { labelsOf, type ModelConfig } from '../models/auto.js';
import { checkAuditColumns, readAuditValues } from '../evaluate/run-record.js';
import type { Splits, TrainOptions } from './options.js';

const usage = (msg: string) => new MedtuneError(msg, 'E_USAGE');

/** The labels of a fine-tuned classifier's config (not the LABEL_i transformers makes up), else null. */
export function fineTunedLabels(config: ModelConfig): string[] | null {
  const labels = config.id2label && Object.keys(config.id2label).length ? labelsOf(config) : null;
  const head = (config.architectures ?? []).some((a) => a.endsWith('ForSequenceClassification'));
  return labels && head && !labels.every((l, i) => l === `LABEL_${i}`) ? labels : null;
}

/**
 * The label list of a run: the data's, or — continuing from a fine-tuned classifier — the parent's map as it is,
 * grown by the data's new labels only with --add-labels (appended, so the parent's ids keep their meaning).
 */
function runLabels(o: TrainOptions, data: LabeledData, parent: string[] | null, log: (l: string) => void): string[] {
  if (!parent) return data.labels;
  const present = new Set(
    data.examples.flatMap((e) =>
      Array.isArray(e.label) ? data.labels.filter((_, c) => (e.label as number[])[c]) : [data.labels[e.label]!],
    ),
  );
  const added = [...present]
    .filter((l) => !parent.includes(l))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  if (added.length && !o.addLabels) {
    throw new MedtuneError(
      `${o.train} has labels the model ${o.model} does not have: ` +
        `${added.slice(0, 8).join(', ')}${added.length > 8 ? ', …' : ''}; ` +
        'pass --add-labels to grow its head (the new labels start untrained), or fix the labels',
      'E_MODEL_LABELS',
    );
  }
  log(
    `continuing from a fine-tuned classifier: its ${parent.length} labels are kept in their order` +
      `${added.length ? `; --add-labels: the head grows by ${added.length} (${added.slice(0, 6).join(', ')})` : ''}`,
  );
  return [...parent, ...added];
}

/** Examples with label ids of one list re-expressed in another (by name). */
function relabel(examples: Example[], from: string[], to: string[]): Example[] {
  if (from.length === to.length && from.every((l, i) => l === to[i])) return examples;
  const index = from.map((l) => to.indexOf(l));
  return examples.map((e) => ({
    ...e,
    label: Array.isArray(e.label) ? to.map((l) => (e.label as number[])[from.indexOf(l)] ?? 0) : index[e.label]!,
  }));
}

/**
 * Stage 1, read: the training file (labels: the data's, or a fine-tuned parent's), the validation split (a file, or
 * held out, stratified), the test file, replayed old rows, and the audit columns.
 */
export async function readSplits(
  o: TrainOptions,
  parentLabels: string[] | null,
  log: (l: string) => void,
): Promise<Splits> {
  const readOpts = {
    textColumn: o.textColumn,
    textPairColumn: o.textPairColumn,
    labelColumn: o.labelColumn,
    multiLabel: o.multiLabel,
    labelDelimiter: o.labelDelimiter,
    groupColumn: o.groupColumn,
    groupRegex: o.groupRegex,
    format: o.format as never,
    encoding: o.encoding,
  };
  const read = await readLabeled(o.train, readOpts);
  log(
    `columns: text "${read.textColumn}", label "${read.labelColumn}"` +
      `${read.pairColumn ? `, pair "${read.pairColumn}"` : ''}`,
  );
  if (!read.examples.length)
    throw new MedtuneError(
      `${o.train} has no usable rows (${read.skipped.length} skipped: ${read.skipped
        .slice(0, 3)
        .map((s) => `row ${s.row}: ${s.reason}`)
        .join(', ')})`,
      'E_INPUT_EMPTY',
    );
  const labels = runLabels(o, read, parentLabels, log);
  const trainData: LabeledData = { ...read, labels, examples: relabel(read.examples, read.labels, labels) };
  let train = trainData.examples;
  let validation: Example[] = [];
  const skipped: Record<string, { row: number; reason: string }[]> = {};
  if (o.validation) {
    const v = await readLabeled(o.validation, { ...readOpts, labels });
    validation = v.examples;
    skipped.validation = v.skipped;
  } else if (o.validationSplit > 0) {
    [train, validation] = stratifiedSplit(trainData.examples, o.validationSplit, o.seed);
    log(
      `no --validation file: holding out ${validation.length} rows ` +
        `(${(o.validationSplit * 100).toFixed(0)}%, stratified, seed ${o.seed})`,
    );
    if (!train.length)
      throw usage(`--validation-split ${o.validationSplit} leaves no training rows; use a smaller fraction`);
  }
  const t = o.test ? await readLabeled(o.test, { ...readOpts, labels }) : null;
  if (t) skipped.test = t.skipped;
  const test = t?.examples ?? [];
  let replayed = 0;
  if (o.replay) {
    const old = (await readLabeled(o.replay, { ...readOpts, labels, groupColumn: undefined, groupRegex: undefined }))
      .examples;
    const [, sample] = stratifiedSplit(old, o.replayFraction ?? 0.3, o.seed);
    replayed = sample.length;
    train = [...train, ...sample.map((e, i) => ({ ...e, row: -(i + 1) }))];
    log(
      `--replay: ${sample.length} of ${old.length} rows of ${o.replay} ` +
        `(${((o.replayFraction ?? 0.3) * 100).toFixed(0)}%, stratified) added to the training split`,
    );
  }
  checkClasses({ ...trainData, examples: train });
  if (!validation.length && !test.length)
    throw new MedtuneError(
      'no validation or test data to evaluate on (pass --validation, --test, or keep --validation-split > 0)',
      'E_NO_EVAL_DATA',
    );
  const audit = await readAudit(o);
  return { trainData, train, validation, test, parentLabels, replayed, skipped, audit };
}

/** A classifier needs at least two classes (single-label) or one label that is sometimes set (multi-label). */
function checkClasses(d: LabeledData): void {
  if (d.multiLabel) {
    if (!d.examples.some((e) => (e.label as number[]).some((x) => x)))
      throw new MedtuneError(`${d.file}: no row has any label set; nothing to learn`, 'E_INPUT_LABEL');
    return;
  }
  const present = new Set(d.examples.map((e) => e.label as number));
  if (present.size < 2) {
    throw new MedtuneError(
      `${d.file} has only one class (${d.labels[[...present][0]!]}) in ${d.examples.length} rows; ` +
        'a classifier needs at least two' +
        `${d.labels.length > 1 ? '' : ' (is --label-column the right column?)'}`,
      'E_INPUT_LABEL',
    );
  }
}

async function readAudit(o: TrainOptions): Promise<Splits['audit']> {
  const cols = checkAuditColumns(o.auditColumns);
  if (!cols.length) return { train: null, validation: null, test: null };
  const read = (file: string) => readAuditValues(file, cols, { format: o.format, encoding: o.encoding });
  const train = await read(o.train);
  const validation = o.validation ? await read(o.validation) : train;
  return { train, validation, test: o.test ? await read(o.test) : null };
}
