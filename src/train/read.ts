/**
 * Stage 1 of `medtune train`, read: the labelled files into splits. Continuing from a fine-tuned classifier keeps its
 * label map (grown by new labels only with --add-labels) and validates on its validation rows too (retrain.ts); a
 * held-out validation split is stratified; --review-split holds out rows for expert review; --replay adds a share of
 * the old training rows; the audit columns are read beside the texts; the rows of every split are recorded.
 */
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import {
  readLabeled,
  stratifiedSplit,
  unseenNote,
  type Example,
  type LabeledData,
  type ReadOptions,
} from '../data/dataset.js';
import { formatRowSet, type EvaluatedRows } from '../data/leakage.js';
import { labelsOf, type ModelConfig } from '../models/auto.js';
import { fileSha256, type DataRecord, type MedtuneMetadata } from '../models/metadata.js';
import { checkAuditColumns, readAuditValues } from '../evaluate/run-record.js';
import type { Splits, TrainOptions } from './options.js';
import { checkRetrainValidation, heldOutRows, parentValidation, reviewedSources, trainedOn } from './retrain.js';

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

/** The validation split: a file, or held out of the training rows; retraining adds the parent's validation rows. */
async function validationSplit(
  o: TrainOptions,
  train: Example[],
  parent: MedtuneMetadata | null,
  readOpts: ReadOptions,
  log: (l: string) => void,
): Promise<{ train: Example[]; validation: Example[]; sources: EvaluatedRows[]; skipped?: Skipped }> {
  if (o.validation) {
    const v = await readLabeled(o.validation, readOpts);
    const note = unseenNote(v);
    if (note) log(note);
    const sources = [{ name: 'validation', file: o.validation, sha256: fileSha256(o.validation), rows: [] }];
    return { train, validation: v.examples, sources, skipped: v.skipped };
  }
  let validation: Example[] = [];
  if (o.validationSplit > 0) {
    [train, validation] = stratifiedSplit(train, o.validationSplit, o.seed);
    const n = train.length + validation.length;
    const multi = Array.isArray(validation[0]?.label);
    log(
      `no --validation file: holding out ${validation.length} of ${n} rows ` +
        `(${((100 * validation.length) / n).toFixed(1)}%; asked ${(o.validationSplit * 100).toFixed(0)}%, ` +
        `${multi ? 'iterative stratification over the labels' : 'stratified'}, seed ${o.seed})`,
    );
    if (!train.length)
      throw usage(`--validation-split ${o.validationSplit} leaves no training rows; use a smaller fraction`);
  }
  const sources: EvaluatedRows[] = [];
  if (parent) {
    const p = await parentValidation(parent, readOpts, log);
    checkRetrainValidation(validation.length + p.examples.length, p.examples.length);
    validation = [...validation, ...p.examples];
    sources.push(...p.sources);
  }
  return { train, validation, sources };
}

/** --review-split: a share of the training rows held out for expert review (neither trained nor validated on). */
function reviewSplit(o: TrainOptions, train: Example[], log: (l: string) => void): [Example[], Example[]] {
  if (!o.reviewSplit) return [train, []];
  const [rest, review] = stratifiedSplit(train, o.reviewSplit, o.seed + 1);
  if (!rest.length) throw usage(`--review-split ${o.reviewSplit} leaves no training rows; use a smaller fraction`);
  log(
    `--review-split: holding out ${review.length} rows for review (review_predictions.jsonl), ` +
      'neither trained nor validated on',
  );
  return [rest, review];
}

/** --replay: a stratified share of the old training rows (never rows the parent held out), their row numbers kept. */
async function replayRows(
  o: TrainOptions,
  parent: MedtuneMetadata | null,
  readOpts: ReadOptions,
  log: (l: string) => void,
): Promise<{ rows: Example[]; sha256: string }> {
  const sha256 = fileSha256(o.replay!);
  const heldOut = parent ? heldOutRows(parent, sha256) : new Set<number>();
  const old = (await readLabeled(o.replay!, { ...readOpts, groupColumn: undefined, groupRegex: undefined })).examples;
  const pool = old.filter((e) => !heldOut.has(e.row));
  const [, sample] = stratifiedSplit(pool, o.replayFraction ?? 0.3, o.seed);
  log(
    `--replay: ${sample.length} of ${old.length} rows of ${o.replay} ` +
      `(${((o.replayFraction ?? 0.3) * 100).toFixed(0)}%, stratified` +
      `${heldOut.size ? `; the parent's ${heldOut.size} held-out validation/review rows left out` : ''}) ` +
      'added to the training split',
  );
  return { rows: sample.map((e) => ({ ...e, source: 'replay' })), sha256 };
}

/**
 * Stage 1, read: the training file (labels: the data's, or a fine-tuned parent's), the validation split (a file, or
 * held out, stratified; retraining adds the parent's validation rows), the review split, the test file, replayed old
 * rows, the audit columns, and the rows every split comes from (what the model is trained on, recorded with it).
 */
export async function readSplits(
  o: TrainOptions,
  parentLabels: string[] | null,
  log: (l: string) => void,
  parentMeta: MedtuneMetadata | null = null,
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
  const parent = parentLabels ? parentMeta : null;
  const v = await validationSplit(o, trainData.examples, parent, { ...readOpts, labels }, log);
  const [own, review] = reviewSplit(o, v.train, log);
  const skipped: Record<string, { row: number; reason: string }[]> = v.skipped ? { validation: v.skipped } : {};
  const t = o.test ? await readLabeled(o.test, { ...readOpts, labels }) : null;
  if (t) skipped.test = t.skipped;
  const note = t ? unseenNote(t) : null;
  if (note) log(note);
  const test = t?.examples ?? [];
  const replay = o.replay ? await replayRows(o, parent, { ...readOpts, labels }, log) : null;
  const train = [...own, ...(replay?.rows ?? [])];
  checkClasses({ ...trainData, examples: train });
  if (!v.validation.length && !test.length)
    throw new MedtuneError(
      'no validation or test data to evaluate on (pass --validation, --test, or keep --validation-split > 0)',
      'E_NO_EVAL_DATA',
    );
  const audit = await readAudit(o);
  const lineage = await lineageOf({
    o,
    own,
    validation: v.validation,
    review,
    test,
    replay,
    parent,
    sources: v.sources,
  });
  return {
    trainData,
    train,
    validation: v.validation,
    review,
    test,
    parentLabels,
    replayed: replay?.rows.length ?? 0,
    skipped,
    audit,
    ...lineage,
  };
}

/** The rows of each split by file (recorded with the model), the evaluation splits' rows, and trained_on. */
async function lineageOf(x: {
  o: TrainOptions;
  own: Example[];
  validation: Example[];
  review: Example[];
  test: Example[];
  replay: { rows: Example[]; sha256: string } | null;
  parent: MedtuneMetadata | null;
  sources: EvaluatedRows[];
}): Promise<Pick<Splits, 'data' | 'evaluated' | 'trainedOn'>> {
  const { o } = x;
  const trainSha = fileSha256(o.train);
  const mine = (e: Example) => e.source === undefined;
  const heldOut = [...x.validation.filter(mine), ...x.review].map((e) => e.row);
  const rowsOf = (es: Example[]) => es.map((e) => e.row);
  const entry = (split: string, file: string, sha256: string, rows: number, ids?: number[]): DataRecord => ({
    split,
    file: path.resolve(file),
    sha256,
    rows,
    ...(ids ? { row_ids: formatRowSet(ids) } : {}),
  });
  const reviewed = await reviewedSources(o.train, o);
  const data: DataRecord[] = [entry('train', o.train, trainSha, x.own.length)];
  const evaluated: EvaluatedRows[] = [];
  const heldOutValidation = x.validation.filter(mine);
  if (o.validation) {
    data.push(entry('validation', o.validation, x.sources[0]!.sha256, x.validation.length));
    evaluated.push({ ...x.sources[0]!, rows: rowsOf(x.validation) });
  } else if (heldOutValidation.length) {
    data.push(entry('validation', o.train, trainSha, heldOutValidation.length, rowsOf(heldOutValidation)));
  }
  for (const src of o.validation ? [] : x.sources) {
    data.push(entry('validation', src.file, src.sha256, src.rows.length, src.rows));
    evaluated.push(src);
  }
  if (x.review.length) data.push(entry('review', o.train, trainSha, x.review.length, rowsOf(x.review)));
  if (o.test) {
    const sha = fileSha256(o.test);
    data.push(entry('test', o.test, sha, x.test.length));
    evaluated.push({ name: 'test', file: o.test, sha256: sha, rows: rowsOf(x.test) });
  }
  if (x.replay) data.push(entry('replay', o.replay!, x.replay.sha256, x.replay.rows.length, rowsOf(x.replay.rows)));
  for (const r of reviewed) data.push(entry('reviewed', r.file, r.sha256, r.rows.size, [...r.rows.values()]));
  const trainedOnRows = trainedOn({
    train: { file: path.resolve(o.train), sha256: trainSha, heldOut },
    ...(x.replay
      ? { replay: { file: path.resolve(o.replay!), sha256: x.replay.sha256, rows: rowsOf(x.replay.rows) } }
      : {}),
    reviewed,
    trainedRows: new Set(rowsOf(x.own)),
    parent: x.parent,
  });
  return { data, evaluated, trainedOn: trainedOnRows };
}
type Skipped = { row: number; reason: string }[];

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
