/** Results of running a classifier over a labelled split (shared by evaluation and the Trainer). */
import type { Encoded, Example } from '../data/dataset.js';
import type { MultiLabelMetrics, SingleLabelMetrics } from './metrics.js';
import type { AbstainReason } from '../infer/decision.js';

export interface SplitData {
  examples: Example[];
  enc: Encoded;
}

export type Metrics = (SingleLabelMetrics | MultiLabelMetrics) & { loss: number };

export interface EvalResult {
  metrics: Metrics;
  /** predicted class id or multi-hot vector per example */
  predictions: (number | number[])[];
  probabilities: number[][];
  /** per example: the model abstained ("refer to a clinician") */
  abstained?: boolean[];
  /** per example: why it abstained (null: it answered) */
  abstainReasons?: (AbstainReason | null)[];
  /** per example: the out-of-scope score (null: the model has no detector) */
  oodScores?: (number | null)[];
  /** per example: tokens cut by truncation */
  cut?: number[];
}
