/**
 * Pruners: whether a running trial should stop after an evaluation, from its learning curve and the other trials'.
 * Steps are evaluation numbers (1, 2, … — epochs by default). As in Optuna:
 * - median: after `startupTrials` complete trials and `warmupSteps` evaluations, stop a trial whose best value so far
 *   is worse than the median of the complete trials' values at the same step;
 * - asha (asynchronous successive halving): rungs at steps r·η^k; a trial reaching a rung goes on only if its value
 *   is in the best 1/η of all values recorded at that rung so far (with fewer than η, only the best goes on).
 */
import type { Direction, TrialRecord } from './samplers.js';

export interface PruneInput {
  trial: TrialRecord;
  /** the evaluation just reported */
  step: number;
  /** every trial of the study (the current one included or not) */
  trials: TrialRecord[];
  direction: Direction;
}

export interface Pruner {
  readonly name: string;
  shouldPrune(x: PruneInput): boolean;
}

const valueAt = (t: TrialRecord, step: number) => t.intermediate.find(([s]) => s === step)?.[1];

export class NopPruner implements Pruner {
  readonly name = 'none';
  shouldPrune(): boolean {
    return false;
  }
}

export interface MedianOptions {
  startupTrials?: number;
  warmupSteps?: number;
  /** trials that must have reported this step before anything is pruned at it */
  minTrials?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export class MedianPruner implements Pruner {
  readonly name = 'median';
  constructor(private o: MedianOptions = {}) {}
  shouldPrune(x: PruneInput): boolean {
    const complete = x.trials.filter((t) => t.state === 'complete' && t.number !== x.trial.number);
    if (!complete.length || complete.length < (this.o.startupTrials ?? 5)) return false;
    if (x.step <= (this.o.warmupSteps ?? 0)) return false;
    const mine = x.trial.intermediate.filter(([s]) => s <= x.step).map(([, v]) => v);
    if (!mine.length) return false;
    if (mine.some((v) => Number.isNaN(v))) return true;
    const best = x.direction === 'maximize' ? Math.max(...mine) : Math.min(...mine);
    const others = complete
      .map((t) => valueAt(t, x.step))
      .filter((v): v is number => v !== undefined && !Number.isNaN(v));
    if (others.length < (this.o.minTrials ?? 1)) return false;
    const m = median(others);
    return x.direction === 'maximize' ? best < m : best > m;
  }
}

export interface AshaOptions {
  /** the first rung's step (r) */
  minResource?: number;
  /** η */
  reductionFactor?: number;
  /** s: the first rung is at r·η^s */
  minEarlyStoppingRate?: number;
}

export class AshaPruner implements Pruner {
  readonly name = 'asha';
  private r: number;
  private eta: number;
  private s: number;
  constructor(o: AshaOptions = {}) {
    this.r = o.minResource ?? 1;
    this.eta = o.reductionFactor ?? 3;
    this.s = o.minEarlyStoppingRate ?? 0;
  }

  /** The steps at which rungs are, up to `maxStep`. */
  rungs(maxStep: number): number[] {
    const out: number[] = [];
    for (let k = 0; ; k++) {
      const step = this.r * Math.pow(this.eta, this.s + k);
      if (step > maxStep) return out;
      out.push(step);
    }
  }

  shouldPrune(x: PruneInput): boolean {
    const value = valueAt(x.trial, x.step);
    if (value === undefined) return false;
    if (!this.rungs(x.step).includes(x.step)) return false;
    if (Number.isNaN(value)) return true;
    const competing = x.trials
      .filter((t) => t.number !== x.trial.number)
      .map((t) => valueAt(t, x.step))
      .filter((v): v is number => v !== undefined && !Number.isNaN(v));
    competing.push(value);
    competing.sort((a, b) => (x.direction === 'maximize' ? b - a : a - b));
    const keep = Math.max(1, Math.floor(competing.length / this.eta));
    const threshold = competing[keep - 1]!;
    return x.direction === 'maximize' ? value < threshold : value > threshold;
  }
}

export function makePruner(name: string, o: MedianOptions & AshaOptions = {}): Pruner {
  if (name === 'median') return new MedianPruner(o);
  if (name === 'asha') return new AshaPruner(o);
  return new NopPruner();
}
