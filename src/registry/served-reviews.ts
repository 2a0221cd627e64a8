/**
 * Reviews of served cases: the review queue drawn from the capture store (prioritised — out of scope, abstained,
 * champion/challenger disagreement, low confidence — beside a random sample flagged as such), the outcome each
 * reviewed case settled on (the label most reviewers chose; ties and "unclear" left out), and their export as a
 * training file (`medtune models export`) for `train --model CHAMPION --train served.csv --replay OLD_TRAIN`.
 */
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { prepareOutputFile, writeFileAtomic } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { formatOf } from '../data/readers.js';
import {
  readCapture,
  type CaptureRecord,
  type CaseRecord,
  type ReviewRecord,
  type ShadowRecord,
} from './capture-store.js';

export type Reason = 'out_of_scope' | 'abstained' | 'disagreement' | 'low_confidence' | 'random_sample';
const RANK: Reason[] = ['out_of_scope', 'abstained', 'disagreement', 'low_confidence', 'random_sample'];

/** What the capture store holds, by case: the cases, the shadow answers, the reviews still standing. */
export interface ServedState {
  cases: Map<number, CaseRecord>;
  shadows: Map<number, ShadowRecord>;
  /** reviews not taken back, in the order they were made */
  reviews: ReviewRecord[];
}

export function servedState(records: CaptureRecord[]): ServedState {
  const cases = new Map<number, CaseRecord>();
  const shadows = new Map<number, ShadowRecord>();
  const reviews = new Map<number, ReviewRecord>();
  for (const r of records) {
    if (r.kind === 'case') cases.set(r.id, r);
    else if (r.kind === 'shadow') shadows.set(r.case_id, r);
    else if (r.kind === 'review') reviews.set(r.id, r);
    else if (r.kind === 'undo' && reviews.get(r.review_id)?.reviewer === r.reviewer) reviews.delete(r.review_id);
  }
  return { cases, shadows, reviews: [...reviews.values()].filter((r) => cases.has(r.case_id)) };
}

const asLabel = (l: string | string[]) => (Array.isArray(l) ? l.join(',') : l);

/** Why a case is worth a reviewer's time (empty: a confident in-scope answer outside the random sample). */
export function reasonsOf(c: CaseRecord, shadow: ShadowRecord | undefined, lowConfidence = 0.6): Reason[] {
  const r: Reason[] = [];
  if (!c.decision.in_scope) r.push('out_of_scope');
  if (c.decision.abstain) r.push('abstained');
  if (shadow && asLabel(shadow.decision.label) !== asLabel(c.decision.label)) r.push('disagreement');
  if (c.decision.score < lowConfidence) r.push('low_confidence');
  if (c.random) r.push('random_sample');
  return r;
}

export interface QueueCase {
  id: number;
  time: string;
  text: string;
  model: CaseRecord['model'];
  predicted: string | string[];
  confidence: number;
  probabilities: Record<string, number>;
  abstain: boolean;
  abstain_reason: string | null;
  in_scope: boolean;
  reasons: Reason[];
  /** random: drawn at random (unbiased); priority: chosen for its reasons */
  stream: 'random' | 'priority';
  shadow: { version: string; label: string | string[]; score: number } | null;
}

/**
 * The review queue: the random sample and the prioritised cases, interleaved one by one (so both streams move),
 * the prioritised ones by their first reason (out of scope, abstained, disagreement, low confidence), then least
 * confident first. `model`: only the cases that model name served.
 */
export function reviewQueue(st: ServedState, o: { model?: string; lowConfidence?: number } = {}): QueueCase[] {
  const all: QueueCase[] = [];
  for (const c of st.cases.values()) {
    if (o.model && c.model.name !== o.model) continue;
    const sh = st.shadows.get(c.id);
    const reasons = reasonsOf(c, sh, o.lowConfidence);
    if (!reasons.length) continue;
    all.push({
      id: c.id,
      time: c.time,
      text: c.text,
      model: c.model,
      predicted: c.decision.label,
      confidence: c.decision.score,
      probabilities: c.decision.probabilities,
      abstain: c.decision.abstain,
      abstain_reason: c.decision.abstain_reason,
      in_scope: c.decision.in_scope,
      reasons,
      stream: c.random ? 'random' : 'priority',
      shadow: sh ? { version: sh.model.version, label: sh.decision.label, score: sh.decision.score } : null,
    });
  }
  const random = all.filter((c) => c.stream === 'random').sort((a, b) => a.id - b.id);
  const rank = (c: QueueCase) => RANK.indexOf(c.reasons[0]!);
  const priority = all
    .filter((c) => c.stream === 'priority')
    .sort((a, b) => rank(a) - rank(b) || a.confidence - b.confidence || a.id - b.id);
  const out: QueueCase[] = [];
  for (let i = 0; i < Math.max(random.length, priority.length); i++) {
    if (random[i]) out.push(random[i]!);
    if (priority[i]) out.push(priority[i]!);
  }
  return out;
}

/** The latest review of each (case, reviewer). */
export function latestReviews(reviews: ReviewRecord[]): ReviewRecord[] {
  const last = new Map<string, ReviewRecord>();
  for (const r of reviews) last.set(`${r.case_id}\u0000${r.reviewer}`, r);
  return [...last.values()];
}

/** Per reviewed case, the outcome most reviewers settled on (ties and "unclear" majorities left out). */
export function outcomes(st: ServedState): Map<number, { label: string; reviewers: string[] }> {
  const byCase = new Map<number, ReviewRecord[]>();
  for (const r of latestReviews(st.reviews)) byCase.set(r.case_id, [...(byCase.get(r.case_id) ?? []), r]);
  const out = new Map<number, { label: string; reviewers: string[] }>();
  for (const [id, rs] of byCase) {
    const votes = new Map<string, number>();
    for (const r of rs) votes.set(r.label ?? '\u0000unclear', (votes.get(r.label ?? '\u0000unclear') ?? 0) + 1);
    const ranked = [...votes].sort((a, b) => b[1] - a[1]);
    if (ranked[0]![0] === '\u0000unclear' || (ranked[1] && ranked[1][1] === ranked[0]![1])) continue;
    out.set(id, { label: ranked[0]![0], reviewers: rs.map((r) => r.reviewer).sort() });
  }
  return out;
}

export interface ServedExportOptions {
  capture: string;
  output: string;
  key: Buffer;
  model?: string;
  log?: (l: string) => void;
}

/**
 * `medtune models export`: the reviewed served cases (de-identified text, the settled outcome) as a training file,
 * and beside it OUTPUT.served.json (cases, reviewers, capture folder): the registry records it as the reviews a
 * model trained on that file used.
 */
export function exportServedReviews(o: ServedExportOptions): { rows: number; skipped: number; corrupt: number } {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const fmt = formatOf(o.output, undefined, null);
  if (fmt === 'parquet') throw new MedtuneError('models export writes CSV, TSV or JSONL', 'E_INPUT_FORMAT');
  const { records, corrupt } = readCapture(o.capture, o.key);
  prepareOutputFile(o.output, {});
  const st = servedState(records);
  const settled = outcomes(st);
  const rows = [...settled]
    .map(([id, s]) => ({ c: st.cases.get(id)!, s }))
    .filter(({ c }) => !o.model || c.model.name === o.model)
    .sort((a, b) => a.c.id - b.c.id)
    .map(({ c, s }) => ({
      text: c.text,
      label: s.label,
      case_id: c.id,
      reviewers: s.reviewers.length,
      served_version: c.model.version,
    }));
  const reviewedCases = new Set(st.reviews.map((r) => r.case_id)).size;
  if (!rows.length)
    throw new MedtuneError(
      `no reviewed served case has a settled outcome yet (${reviewedCases} reviewed)`,
      'E_INPUT_EMPTY',
    );
  const body =
    fmt === 'jsonl'
      ? rows.map((r) => JSON.stringify(r)).join('\n') + '\n'
      : stringify(rows, { header: true, delimiter: fmt === 'tsv' ? '\t' : ',' });
  writeFileAtomic(o.output, body);
  const reviewers = [...new Set([...settled.values()].flatMap((s) => s.reviewers))].sort();
  writeFileAtomic(
    `${o.output}.served.json`,
    JSON.stringify({ file: path.resolve(o.output), cases: rows.length, reviewers, capture: path.resolve(o.capture) }) +
      '\n',
  );
  const skipped = reviewedCases - settled.size;
  log(
    `exported ${rows.length} reviewed served cases to ${o.output}` +
      `${skipped ? ` (${skipped} left out: unclear or tied)` : ''}` +
      `${corrupt.length ? `; ${corrupt.length} damaged records skipped` : ''}; ` +
      `retrain with: medtune train --model REGISTRY/models/NAME/CHAMPION --train ${o.output} --replay OLD_TRAIN_FILE`,
  );
  return { rows: rows.length, skipped, corrupt: corrupt.length };
}
