/** Learning-rate schedules as in transformers' get_scheduler: a multiplier of the base rate for each step. */
import { MedtuneError } from '../common/errors.js';

export const SCHEDULERS = ['linear', 'cosine', 'constant'] as const;
export type SchedulerName = (typeof SCHEDULERS)[number];

export interface ScheduleOptions {
  name: SchedulerName;
  totalSteps: number;
  /** warm-up steps (an integer ≥ 1), or a ratio of totalSteps when 0 < warmup < 1 */
  warmup?: number;
}

export function warmupSteps(warmup: number | undefined, totalSteps: number): number {
  if (!warmup) return 0;
  if (warmup < 0) throw new MedtuneError(`--warmup must be ≥ 0, got ${warmup}`, 'E_USAGE');
  return warmup < 1 ? Math.ceil(warmup * totalSteps) : Math.round(warmup);
}

/** lr multiplier at optimizer step `step` (0-based), exactly as HF's schedules compute it. */
export function lrLambda(o: ScheduleOptions): (step: number) => number {
  const W = warmupSteps(o.warmup, o.totalSteps);
  const T = o.totalSteps;
  switch (o.name) {
    case 'constant':
      return (s) => (s < W ? s / Math.max(1, W) : 1);
    case 'linear':
      return (s) => (s < W ? s / Math.max(1, W) : Math.max(0, (T - s) / Math.max(1, T - W)));
    case 'cosine':
      return (s) => {
        if (s < W) return s / Math.max(1, W);
        const progress = (s - W) / Math.max(1, T - W);
        return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
      };
    default:
      throw new MedtuneError(`unknown scheduler "${String(o.name)}" (linear, cosine, constant)`, 'E_USAGE');
  }
}
