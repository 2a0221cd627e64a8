/** Classification metrics, computed from predictions and references (label ids). */
import { MedtuneError } from '../common/errors.js';

/** Metrics a run can select the best model by (--metric-for-best-model), per problem type. */
export const SINGLE_LABEL_METRICS = [
  'accuracy',
  'f1_macro',
  'f1_micro',
  'f1_weighted',
  'precision_macro',
  'recall_macro',
  'precision_weighted',
  'recall_weighted',
  'roc_auc_ovr',
  'loss',
] as const;
export const MULTI_LABEL_METRICS = [
  'f1_micro',
  'f1_macro',
  'precision_micro',
  'recall_micro',
  'subset_accuracy',
  'loss',
] as const;

/** Checks a --metric-for-best-model name before any work starts. */
export function checkMetricName(name: string, multiLabel: boolean): void {
  const allowed: readonly string[] = multiLabel ? MULTI_LABEL_METRICS : SINGLE_LABEL_METRICS;
  if (!allowed.includes(name)) {
    throw new MedtuneError(
      `--metric-for-best-model "${name}" is not a ${multiLabel ? 'multi-label' : 'single-label'} metric; ` +
        `use one of ${allowed.join(', ')}`,
      'E_USAGE',
    );
  }
}

export interface ClassReport {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface SingleLabelMetrics {
  accuracy: number;
  precision_macro: number;
  recall_macro: number;
  f1_macro: number;
  precision_weighted: number;
  recall_weighted: number;
  f1_weighted: number;
  /** micro P = R = F1 = accuracy for single-label */
  f1_micro: number;
  /** macro ROC-AUC, one class vs rest (from probabilities; set by the trainer) */
  roc_auc_ovr?: number | null;
  per_class: ClassReport[];
  /** confusion[true][predicted] */
  confusion: number[][];
  n: number;
}

const div = (a: number, b: number) => (b === 0 ? 0 : a / b);

export function singleLabelMetrics(pred: number[], gold: number[], labels: string[]): SingleLabelMetrics {
  const C = labels.length;
  const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  let correct = 0;
  pred.forEach((p, i) => {
    confusion[gold[i]!]![p]!++;
    if (p === gold[i]) correct++;
  });
  const per_class: ClassReport[] = labels.map((label, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[c]!, 0);
    const precision = div(tp, predicted);
    const recall = div(tp, support);
    return { label, precision, recall, f1: div(2 * precision * recall, precision + recall), support };
  });
  const n = pred.length;
  const mean = (f: (r: ClassReport) => number) => per_class.reduce((a, r) => a + f(r), 0) / Math.max(1, C);
  const wmean = (f: (r: ClassReport) => number) =>
    div(
      per_class.reduce((a, r) => a + f(r) * r.support, 0),
      n,
    );
  return {
    accuracy: div(correct, n),
    precision_macro: mean((r) => r.precision),
    recall_macro: mean((r) => r.recall),
    f1_macro: mean((r) => r.f1),
    precision_weighted: wmean((r) => r.precision),
    recall_weighted: wmean((r) => r.recall),
    f1_weighted: wmean((r) => r.f1),
    f1_micro: div(correct, n),
    per_class,
    confusion,
    n,
  };
}

export interface MultiLabelMetrics {
  f1_micro: number;
  f1_macro: number;
  precision_micro: number;
  recall_micro: number;
  subset_accuracy: number;
  /** ROC-AUC over every (text, label) score (micro) and per label averaged (macro; labels with both classes) */
  roc_auc_micro?: number | null;
  roc_auc_macro?: number | null;
  /** precision at k (CAML/LAAT): the share of each text's k highest-scored labels that are right, averaged */
  precision_at_5?: number;
  precision_at_8?: number;
  precision_at_15?: number;
  /** labels of the references the model does not know (multi-label test data): counted as misses */
  unseen_labels?: number;
  per_label: ClassReport[];
  n: number;
}

/** The k of the precision@k metrics. */
export const PRECISION_AT = [5, 8, 15] as const;

export interface MultiLabelInputs {
  /** per text, the label scores (probabilities) the ranking metrics read */
  probabilities?: number[][];
  /** per text, labels of its reference the model does not know: each a missed label in every metric */
  unseen?: (string[] | undefined)[];
}

/**
 * The decisions, references and scores with the unseen labels as extra columns: set in the reference, never
 * predicted, scored 0 — so every metric counts them as misses.
 */
function withUnseen(
  pred: number[][],
  gold: number[][],
  labels: string[],
  o: MultiLabelInputs,
): { pred: number[][]; gold: number[][]; labels: string[]; probs?: number[][] } {
  const extra = [...new Set(o.unseen?.flatMap((u) => u ?? []) ?? [])].sort();
  if (!extra.length) return { pred, gold, labels, probs: o.probabilities };
  const zeros = extra.map(() => 0);
  const mark = (i: number) => extra.map((l) => (o.unseen?.[i]?.includes(l) ? 1 : 0));
  return {
    pred: pred.map((p) => [...p, ...zeros]),
    gold: gold.map((g, i) => [...g, ...mark(i)]),
    labels: [...labels, ...extra],
    probs: o.probabilities?.map((p) => [...p, ...zeros]),
  };
}

/** ROC-AUC of scores against binary references (rank statistic, ties averaged); null without both classes. */
export function binaryAuc(scores: ArrayLike<number>, positive: ArrayLike<number>): number | null {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++)
      if (positive[order[k]!]! > 0.5) {
        rankSum += avg;
        pos++;
      }
    i = j + 1;
  }
  const neg = n - pos;
  return pos && neg ? (rankSum - (pos * (pos + 1)) / 2) / (pos * neg) : null;
}

/** Micro and macro ROC-AUC and precision@k of label scores against multi-hot references. */
export function rankingMetrics(
  probs: number[][],
  gold: number[][],
): Pick<
  MultiLabelMetrics,
  'roc_auc_micro' | 'roc_auc_macro' | 'precision_at_5' | 'precision_at_8' | 'precision_at_15'
> {
  const N = probs.length;
  const C = probs[0]?.length ?? 0;
  const flatS = new Float64Array(N * C);
  const flatG = new Uint8Array(N * C);
  probs.forEach((p, i) =>
    p.forEach((v, c) => ((flatS[i * C + c] = v), (flatG[i * C + c] = gold[i]![c]! > 0.5 ? 1 : 0))),
  );
  const aucs: number[] = [];
  const col = new Float64Array(N);
  const colG = new Uint8Array(N);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < N; i++) [col[i], colG[i]] = [flatS[i * C + c]!, flatG[i * C + c]!];
    const a = binaryAuc(col, colG);
    if (a !== null) aucs.push(a);
  }
  const atK = (k: number) => {
    let sum = 0;
    probs.forEach((p, i) => {
      const top = p
        .map((v, c) => [v, c] as const)
        .sort((a, b) => b[0] - a[0])
        .slice(0, k);
      sum += top.filter(([, c]) => gold[i]![c]! > 0.5).length / k;
    });
    return div(sum, N);
  };
  return {
    roc_auc_micro: binaryAuc(flatS, flatG),
    roc_auc_macro: aucs.length ? aucs.reduce((a, b) => a + b, 0) / aucs.length : null,
    precision_at_5: atK(5),
    precision_at_8: atK(8),
    precision_at_15: atK(15),
  };
}

/** pred/gold: one 0/1 vector per example. */
export function multiLabelMetrics(
  predIn: number[][],
  goldIn: number[][],
  labelsIn: string[],
  o: MultiLabelInputs = {},
): MultiLabelMetrics {
  const { pred, gold, labels, probs } = withUnseen(predIn, goldIn, labelsIn, o);
  const C = labels.length;
  const tp = new Array<number>(C).fill(0);
  const fp = new Array<number>(C).fill(0);
  const fn = new Array<number>(C).fill(0);
  let exact = 0;
  pred.forEach((p, i) => {
    let same = true;
    for (let c = 0; c < C; c++) {
      const y = gold[i]![c]! > 0.5;
      const yh = p[c]! > 0.5;
      if (y && yh) tp[c]!++;
      else if (!y && yh) fp[c]!++;
      else if (y && !yh) fn[c]!++;
      if (y !== yh) same = false;
    }
    if (same) exact++;
  });
  const per_label = labels.map((label, c) => {
    const precision = div(tp[c]!, tp[c]! + fp[c]!);
    const recall = div(tp[c]!, tp[c]! + fn[c]!);
    return { label, precision, recall, f1: div(2 * tp[c]!, 2 * tp[c]! + fp[c]! + fn[c]!), support: tp[c]! + fn[c]! };
  });
  const TP = tp.reduce((a, b) => a + b, 0);
  const FP = fp.reduce((a, b) => a + b, 0);
  const FN = fn.reduce((a, b) => a + b, 0);
  return {
    f1_micro: div(2 * TP, 2 * TP + FP + FN),
    f1_macro: per_label.reduce((a, r) => a + r.f1, 0) / Math.max(1, C),
    precision_micro: div(TP, TP + FP),
    recall_micro: div(TP, TP + FN),
    subset_accuracy: div(exact, pred.length),
    ...(probs && pred.length ? rankingMetrics(probs, gold) : {}),
    ...(labels.length > labelsIn.length ? { unseen_labels: labels.length - labelsIn.length } : {}),
    per_label,
    n: pred.length,
  };
}

/**
 * Aggregates row predictions to groups (e.g. sentences -> abstracts). Multi-label: the union of the rows' labels, gold
 * and predicted; the predicted labels are the rows' own decisions when `predictions` is given (so per-label
 * thresholds and abstentions count exactly as they did for the rows), else the probabilities at `threshold`.
 * Single-label: the argmax of the mean probability (gold: the most frequent row label).
 */
export function groupPredictions(
  groups: string[],
  gold: (number | number[])[],
  probs: number[][],
  o: { multi: boolean; threshold?: number; predictions?: (number | number[])[] },
): { keys: string[]; gold: (number | number[])[]; pred: (number | number[])[] } {
  const multi = o.multi;
  const threshold = o.threshold ?? 0.5;
  const rowLabels = (i: number) =>
    (o.predictions?.[i] as number[] | undefined) ?? probs[i]!.map((v) => (v >= threshold ? 1 : 0));
  const order: string[] = [];
  const acc = new Map<string, { gold: (number | number[])[]; probs: number[][]; rows: number[] }>();
  groups.forEach((g, i) => {
    if (!acc.has(g)) {
      acc.set(g, { gold: [], probs: [], rows: [] });
      order.push(g);
    }
    acc.get(g)!.gold.push(gold[i]!);
    acc.get(g)!.probs.push(probs[i]!);
    acc.get(g)!.rows.push(i);
  });
  const outGold: (number | number[])[] = [];
  const outPred: (number | number[])[] = [];
  for (const k of order) {
    const a = acc.get(k)!;
    const C = a.probs[0]!.length;
    if (multi) {
      outGold.push(Array.from({ length: C }, (_, c) => (a.gold.some((gv) => (gv as number[])[c]! > 0.5) ? 1 : 0)));
      const rows = a.rows.map(rowLabels);
      outPred.push(Array.from({ length: C }, (_, c) => (rows.some((r) => r[c]! > 0.5) ? 1 : 0)));
    } else {
      const mean = Array.from({ length: C }, (_, c) => a.probs.reduce((s, p) => s + p[c]!, 0) / a.probs.length);
      outPred.push(mean.indexOf(Math.max(...mean)));
      const counts = new Map<number, number>();
      for (const gv of a.gold) counts.set(gv as number, (counts.get(gv as number) ?? 0) + 1);
      outGold.push([...counts].sort((x, y) => y[1] - x[1] || x[0] - y[0])[0]![0]);
    }
  }
  return { keys: order, gold: outGold, pred: outPred };
}

/** ROC-AUC one-vs-rest, macro-averaged over classes present in the data (rank statistic, ties averaged). */
export function rocAucOvr(probs: number[][], gold: number[], C: number): number | null {
  const aucs: number[] = [];
  for (let c = 0; c < C; c++) {
    const pos = gold.filter((g) => g === c).length;
    const neg = gold.length - pos;
    if (pos === 0 || neg === 0) continue;
    const order = probs.map((p, i) => [p[c]!, i] as const).sort((a, b) => a[0] - b[0]);
    let rankSum = 0;
    for (let i = 0; i < order.length;) {
      let j = i;
      while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
      const avg = (i + j) / 2 + 1;
      for (let k = i; k <= j; k++) if (gold[order[k]![1]] === c) rankSum += avg;
      i = j + 1;
    }
    aucs.push((rankSum - (pos * (pos + 1)) / 2) / (pos * neg));
  }
  return aucs.length ? aucs.reduce((a, b) => a + b, 0) / aucs.length : null;
}
