/**
 * Continual learning (training from a fine-tuned model, e.g. on reviewed corrections with --replay): accuracy of the
 * parent and of the new model on the new rows (what they taught) and on the old test set (forgetting).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readLabeled, type Example } from '../data/dataset.js';
import { Predictor } from '../infer/predictor.js';
import { parseMetadata } from '../models/metadata.js';
import type { ModelFolder } from '../models/auto.js';
import type { Splits, TrainOptions } from './options.js';

/** Accuracy of a model on labelled rows, comparing label names (the parent may lack labels the run added). */
async function accuracyOn(model: string, examples: Example[], labels: string[]): Promise<number> {
  const p = await Predictor.load(model, { log: () => {} });
  const results = p.classify(
    examples.map((e) => e.text),
    { pairs: examples.some((e) => e.pair !== undefined) ? examples.map((e) => e.pair ?? '') : null },
  );
  const name = (l: number | number[]) =>
    Array.isArray(l) ? JSON.stringify(labels.filter((_, c) => l[c])) : labels[l]!;
  const got = (r: { label: unknown }) =>
    Array.isArray(r.label) ? JSON.stringify([...r.label].sort()) : String(r.label);
  const right = examples.filter(
    (e, i) =>
      got(results[i]!) === (Array.isArray(e.label) ? JSON.stringify(JSON.parse(name(e.label)).sort()) : name(e.label)),
  ).length;
  return right / Math.max(1, examples.length);
}

/**
 * Continual learning (training from a fine-tuned model): accuracy of the parent and of the new model on the old
 * test set (forgetting) and on the new rows (what the corrections taught).
 */
export async function continualReport(x: {
  o: TrainOptions;
  s: Splits;
  /** the parent model's folder and config.json */
  parent: ModelFolder;
  bestDir: string;
  log: (l: string) => void;
}): Promise<Record<string, unknown> | null> {
  const { o, s, bestDir, log } = x;
  const parentDir = x.parent.dir;
  if (!s.parentLabels) return null;
  const parentMeta = parseMetadata((x.parent.config as { medtune?: unknown }).medtune);
  const recordedTest = parentMeta.training?.data?.find((d) => d.split === 'test' && existsSync(d.file))?.file;
  const oldTest = o.oldTest ?? recordedTest;
  const labels = s.trainData.labels;
  const readOpts = {
    textColumn: o.textColumn,
    labelColumn: o.labelColumn,
    multiLabel: s.trainData.multiLabel,
    labelDelimiter: o.labelDelimiter,
    labels,
  };
  const out: Record<string, unknown> = {
    parent: parentDir,
    replay: o.replay ? { file: path.resolve(o.replay), rows: s.replayed } : null,
  };
  const newRows = (await readLabeled(o.train, readOpts)).examples;
  out.new_data = {
    file: path.resolve(o.train),
    rows: newRows.length,
    accuracy_before: await accuracyOn(parentDir, newRows, labels),
    accuracy_after: await accuracyOn(bestDir, newRows, labels),
  };
  if (oldTest) {
    const rows = (await readLabeled(oldTest, readOpts)).examples;
    const before = await accuracyOn(parentDir, rows, labels);
    const after = await accuracyOn(bestDir, rows, labels);
    out.old_test = {
      file: path.resolve(oldTest),
      rows: rows.length,
      accuracy_before: before,
      accuracy_after: after,
      forgetting: before - after,
    };
  }
  const nd = out.new_data as { accuracy_before: number; accuracy_after: number };
  const ot = out.old_test as { accuracy_before: number; accuracy_after: number } | undefined;
  log(
    `continual: new rows accuracy ${nd.accuracy_before.toFixed(4)} → ${nd.accuracy_after.toFixed(4)}` +
      (ot
        ? `; old test set ${ot.accuracy_before.toFixed(4)} → ${ot.accuracy_after.toFixed(4)} ` +
          `(forgetting ${(ot.accuracy_before - ot.accuracy_after).toFixed(4)})`
        : '; no old test set (--old-test FILE, or a parent that records its test file)'),
  );
  return out;
}
