/**
 * A run folder as the report sees it: metrics.json, predictions.jsonl, metrics.jsonl (training curves), run.json
 * and best_model/config.json, each optional. What is missing or unreadable is listed, never fatal: the report
 * renders the sections it has and names the files the others need.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import type { AuditRow } from './audit.js';

export interface Prediction {
  row: number;
  text?: string;
  label: string | string[];
  predicted: string | string[];
  correct: boolean;
  abstain?: boolean;
  truncated_tokens?: number;
  probabilities: Record<string, number>;
  audit?: Record<string, string>;
}

export interface HistoryRecord {
  type: 'train' | 'eval';
  step: number;
  epoch: number;
  [k: string]: unknown;
}

export type Json = Record<string, unknown>;

export interface RunFolder {
  dir: string;
  metrics: Json | null;
  predictions: Prediction[] | null;
  history: HistoryRecord[] | null;
  run: Json | null;
  modelConfig: Json | null;
  /** label names in model order */
  labels: string[];
  multiLabel: boolean;
  /** file -> why it could not be used ("missing", "not valid JSON at line 3", ...) */
  problems: Record<string, string>;
}

function readJson(file: string, problems: Record<string, string>, key: string): Json | null {
  if (!existsSync(file)) {
    problems[key] = 'missing';
    return null;
  }
  try {
    const v = JSON.parse(readFileSync(file, 'utf8'));
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Json;
    problems[key] = 'not a JSON object';
  } catch {
    problems[key] = 'not valid JSON';
  }
  return null;
}

function readJsonl<T>(
  file: string,
  problems: Record<string, string>,
  key: string,
  ok: (v: Json) => boolean,
): T[] | null {
  if (!existsSync(file)) {
    problems[key] = 'missing';
    return null;
  }
  const out: T[] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.trim()) continue;
    let v: unknown;
    try {
      v = JSON.parse(lines[i]!);
    } catch {
      // never quote the line: it may hold patient text
      problems[key] = `line ${i + 1} is not valid JSON`;
      return null;
    }
    if (!v || typeof v !== 'object' || !ok(v as Json)) {
      problems[key] = `line ${i + 1} is not a record of this file`;
      return null;
    }
    out.push(v as T);
  }
  return out;
}

const isHistory = (v: Json) => typeof v.step === 'number';
const isPrediction = (v: Json) =>
  typeof v.row === 'number' &&
  v.label !== undefined &&
  v.predicted !== undefined &&
  !!v.probabilities &&
  typeof v.probabilities === 'object';

/** Labels in model order: best_model's id2label, else the per-class table of metrics.json, else the predictions. */
function labelsOf(f: Omit<RunFolder, 'labels' | 'multiLabel'>): string[] {
  const id2label = f.modelConfig?.id2label as Record<string, string> | undefined;
  if (id2label && typeof id2label === 'object') {
    return Object.keys(id2label)
      .sort((a, b) => Number(a) - Number(b))
      .map((k) => String(id2label[k]));
  }
  const table = (f.metrics?.per_class ?? f.metrics?.per_label) as { label: string }[] | undefined;
  if (Array.isArray(table)) return table.map((r) => String(r.label));
  return Object.keys(f.predictions?.[0]?.probabilities ?? {});
}

/** Reads what there is of a run folder. A folder that does not exist, or holds none of the run files, is an error. */
export function loadRunFolder(dir: string): RunFolder {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new MedtuneError(
      `${dir} is not a folder; give the --output-dir of a medtune train or evaluate run`,
      'E_INPUT_NOT_FOUND',
    );
  }
  const problems: Record<string, string> = {};
  const f = {
    dir,
    metrics: readJson(path.join(dir, 'metrics.json'), problems, 'metrics.json'),
    predictions: readJsonl<Prediction>(
      path.join(dir, 'predictions.jsonl'),
      problems,
      'predictions.jsonl',
      isPrediction,
    ),
    history: readJsonl<HistoryRecord>(path.join(dir, 'metrics.jsonl'), problems, 'metrics.jsonl', isHistory),
    run: readJson(path.join(dir, 'run.json'), problems, 'run.json'),
    modelConfig: readJson(path.join(dir, 'best_model', 'config.json'), problems, 'best_model/config.json'),
    problems,
  };
  if (!f.metrics && !f.predictions && !f.run) {
    const why = ['metrics.json', 'predictions.jsonl', 'run.json'].map((k) => problems[k]).join(', ');
    throw new MedtuneError(
      `${dir} holds no run files (metrics.json, predictions.jsonl, run.json: ${why}); ` +
        'give the --output-dir of a medtune train or evaluate run',
      'E_INPUT_NOT_FOUND',
    );
  }
  const multiLabel = Array.isArray(f.predictions?.[0]?.label) || !!f.metrics?.per_label;
  return { ...f, labels: labelsOf(f), multiLabel };
}

/** Audit rows from predictions.jsonl (label names -> ids in model order). */
export function auditRows(preds: Prediction[], labels: string[], multiLabel: boolean): AuditRow[] {
  const index = new Map(labels.map((l, i) => [l, i]));
  const id = (l: string) => index.get(l) ?? -1;
  const hot = (ls: string | string[]) => labels.map((l) => ((Array.isArray(ls) ? ls : [ls]).includes(l) ? 1 : 0));
  const rows = preds.map((p) => ({
    gold: multiLabel ? hot(p.label) : id(p.label as string),
    pred: multiLabel ? hot(p.predicted) : id(p.predicted as string),
    probs: labels.map((l) => p.probabilities[l] ?? 0),
    abstain: !!p.abstain,
    groups: p.audit ?? {},
  }));
  // a label the model does not have (a hand-edited file) cannot be counted
  return rows.filter((r) => multiLabel || ((r.gold as number) >= 0 && (r.pred as number) >= 0));
}
