/**
 * Live performance of a served model version against the outcomes reviewers recorded for its served cases
 * (`GET /v1/models/NAME/performance`, the Models page, the `medtune_live_*` gauges): accuracy, macro-F1 and
 * calibration error with bootstrap intervals and the number of reviewed cases, over time windows, for two streams
 * kept apart — the random sample (an unbiased estimate of the served traffic) and the prioritised cases (chosen
 * because they were doubtful: their figures are lower by design and say nothing about the traffic as a whole). An
 * alert is raised when the random stream's accuracy falls below the validation figure by more than the margin.
 */
import type { ValidationFigures } from './registry.js';
import { outcomes, type ServedState } from './served-reviews.js';
import { figures, type Figures, type Scored } from './stats.js';

export const WINDOWS = [
  { window: '24h', ms: 86_400_000 },
  { window: '7d', ms: 7 * 86_400_000 },
  { window: 'all', ms: Infinity },
] as const;

export interface PerformanceReport {
  model: string;
  version: string;
  captured: number;
  reviewed: number;
  windows: { window: string; random: Figures; prioritised: Figures }[];
  validation: ValidationFigures | null;
  margin: number;
  alert: { active: boolean; message: string };
}

export interface PerformanceOptions {
  model: string;
  version: string;
  validation: ValidationFigures | null;
  /** alert when the live accuracy is below validation − margin */
  margin: number;
  /** random-sample reviewed cases needed before an alert can be raised */
  minCases?: number;
  now?: number;
}

const pct = (x: number) => x.toFixed(3);

export function performanceOf(st: ServedState, o: PerformanceOptions): PerformanceReport {
  const now = o.now ?? Date.now();
  const settled = outcomes(st);
  const mine = [...st.cases.values()].filter((c) => c.model.name === o.model && c.model.version === o.version);
  const reviewed = mine
    .filter((c) => settled.has(c.id) && !Array.isArray(c.decision.label))
    .map((c) => ({
      c,
      s: {
        predicted: c.decision.label as string,
        outcome: settled.get(c.id)!.label,
        probabilities: c.decision.probabilities,
      } satisfies Scored,
    }));
  const windows = WINDOWS.map((w) => {
    const inside = reviewed.filter(({ c }) => now - Date.parse(c.time) <= w.ms);
    return {
      window: w.window,
      random: figures(inside.filter(({ c }) => c.random).map((x) => x.s)),
      prioritised: figures(inside.filter(({ c }) => !c.random).map((x) => x.s)),
    };
  });
  const live = windows[windows.length - 1]!.random;
  const min = o.minCases ?? 20;
  const base = o.validation?.accuracy ?? null;
  let alert = { active: false, message: '' };
  if (base === null) alert.message = 'no validation accuracy recorded for this version: no alert threshold';
  else if (!live.accuracy || live.n < min)
    alert.message = `${live.n} of the ${min} randomly sampled reviewed cases needed for an alert`;
  else {
    const floor = base - o.margin;
    const said =
      `live accuracy ${pct(live.accuracy.value)} [95 % CI ${pct(live.accuracy.low)}, ${pct(live.accuracy.high)}] ` +
      `on ${live.n} randomly sampled reviewed cases; validation ${pct(base)}, alert below ${pct(floor)} ` +
      `(margin ${o.margin})`;
    alert =
      live.accuracy.value < floor
        ? { active: true, message: `Performance alert: ${said}. Re-validate or roll back the model.` }
        : { active: false, message: `No alert: ${said}.` };
  }
  return {
    model: o.model,
    version: o.version,
    captured: mine.length,
    reviewed: reviewed.length,
    windows,
    validation: o.validation,
    margin: o.margin,
    alert,
  };
}
