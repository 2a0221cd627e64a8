/**
 * The model card's YAML front matter (HuggingFace model-card metadata): license, base_model, library and pipeline,
 * tags, datasets, metrics and `model-index` with the evaluation results exactly as metrics.json has them.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { MedtuneMetadata } from '../models/metadata.js';
import type { Json, RunFolder } from './run-folder.js';

const scalar = (x: unknown): string => {
  if (typeof x === 'number') return Number.isFinite(x) ? String(x) : 'null';
  return x === null || x === undefined ? 'null' : JSON.stringify(x);
};
const key = (k: string) => (/^[A-Za-z_][\w-]*$/.test(k) ? k : JSON.stringify(k));
const isBlock = (x: unknown) => !!x && typeof x === 'object' && Object.keys(x).length > 0;
const inline = (x: unknown) => (Array.isArray(x) ? '[]' : x && typeof x === 'object' ? '{}' : scalar(x));

/** YAML from plain data: block style, strings double-quoted as JSON (a subset of YAML 1.2 every parser reads). */
export function toYaml(v: unknown, indent = 0): string {
  const pad = ' '.repeat(indent);
  if (Array.isArray(v)) {
    // a block item starts on the dash line: its first key goes after "- ", the rest keeps the indent
    const item = (x: unknown) => `${pad}- ${isBlock(x) ? toYaml(x, indent + 2).slice(indent + 2) : `${inline(x)}\n`}`;
    return v.map(item).join('');
  }
  return Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .map(([k, x]) => (isBlock(x) ? `${pad}${key(k)}:\n${toYaml(x, indent + 2)}` : `${pad}${key(k)}: ${inline(x)}\n`))
    .join('');
}

type MetricSpec = [key: string, type: string, name: string, args?: Json];

const MULTI: MetricSpec[] = [
  ['f1_micro', 'f1', 'Micro F1', { average: 'micro' }],
  ['f1_macro', 'f1', 'Macro F1', { average: 'macro' }],
  ['precision_micro', 'precision', 'Micro precision', { average: 'micro' }],
  ['recall_micro', 'recall', 'Micro recall', { average: 'micro' }],
  ['subset_accuracy', 'accuracy', 'Subset accuracy'],
];
const SINGLE: MetricSpec[] = [
  ['accuracy', 'accuracy', 'Accuracy'],
  ['f1_macro', 'f1', 'Macro F1', { average: 'macro' }],
  ['f1_weighted', 'f1', 'Weighted F1', { average: 'weighted' }],
  ['precision_macro', 'precision', 'Macro precision', { average: 'macro' }],
  ['recall_macro', 'recall', 'Macro recall', { average: 'macro' }],
  ['roc_auc_ovr', 'roc_auc', 'ROC-AUC (one vs rest, macro)'],
];

/** HF model-index metrics from metrics.json: the same numbers, unrounded. */
export function indexMetrics(m: Json, multi: boolean): { type: string; value: number; name: string; args?: Json }[] {
  return (multi ? MULTI : SINGLE)
    .filter(([k]) => typeof m[k] === 'number')
    .map(([k, type, name, args]) => ({ type, value: m[k] as number, name, ...(args ? { args } : {}) }));
}

const HUB_NAME = /^[\w.-]+\/[\w.-]+$/;

/** The card's name: the run folder's name for a best_model/, else the model folder's. */
export const cardName = (modelDir: string): string =>
  path.basename(path.resolve(modelDir, path.basename(modelDir) === 'best_model' ? '..' : '.'));

export interface FrontMatterInput {
  modelDir: string;
  meta: MedtuneMetadata;
  run: RunFolder | null;
  license: string;
}

export function frontMatter(o: FrontMatterInput): Json {
  const m = o.run?.metrics;
  const base = o.meta.training?.base_model;
  const data = o.meta.training?.data ?? [];
  const split = String(m?.split ?? 'test');
  const evalFile = data.find((d) => d.split === split) ?? data.find((d) => d.split === 'train');
  const metrics = m ? indexMetrics(m, o.run!.multiLabel) : [];
  const result = {
    task: { type: 'text-classification', name: 'Text Classification' },
    dataset: { name: evalFile ? path.basename(evalFile.file) : split, type: 'local', split },
    metrics,
  };
  return {
    license: o.license,
    ...(base && HUB_NAME.test(base) && !existsSync(base) ? { base_model: base } : {}),
    library_name: 'transformers',
    pipeline_tag: 'text-classification',
    tags: ['medtune', 'text-classification', 'clinical', 'medical', 'not-clinically-validated'],
    datasets: [...new Set(data.map((d) => path.basename(d.file)))],
    metrics: [...new Set(metrics.map((x) => x.type))],
    ...(m ? { 'model-index': [{ name: cardName(o.modelDir), results: [result] }] } : {}),
  };
}
