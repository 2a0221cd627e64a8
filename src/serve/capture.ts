/**
 * Case capture of `medtune serve --capture DIR` (opt-in): a sample (`--capture-rate`) of the diagnosed texts,
 * de-identified in a worker whatever `--deid` says, with the model version and the decision, the time and the key's
 * name, appended to the encrypted capture store (registry/capture-store.ts); the shadow model's answer to a share of
 * them (`--shadow`, `--shadow-rate`); the reviews of served cases. Capture never holds up or fails an answer: it runs
 * after the answer is built, and when a write fails (disk full) it pauses — cases are counted as dropped,
 * `/health/ready` says "degraded" with why, `medtune_capture_paused` is 1 — and tries again with the next case after
 * a second. Records older than `--capture-days` are deleted at start and every hour. The records are kept in memory
 * too (bounded by the retention) for the review queue and the live performance.
 */
import client from 'prom-client';
import { MedtuneError } from '../common/errors.js';
import type { Classification } from '../infer/predictor.js';
import {
  CaptureWriter,
  readCapture,
  sweepCapture,
  type CaptureRecord,
  type CapturedDecision,
  type CaseRecord,
  type ModelStamp,
  type ReviewRecord,
} from '../registry/capture-store.js';
import { servedState, type ServedState } from '../registry/served-reviews.js';

export interface CaptureOptions {
  dir: string;
  key: Buffer;
  /** share of diagnosed texts captured, in [0, 1] */
  rate: number;
  /** records older than this many days are deleted */
  days: number;
  /** share of captured cases drawn for the random review sample */
  randomShare: number;
  /** share of captured cases the shadow model also answers */
  shadowRate: number;
  retryMs?: number;
  now?: () => number;
}

/** What capture needs of the server: de-identification (in a worker) and the shadow model's answer. */
export interface CaptureHost {
  deid(text: string): Promise<{ text: string; entities: number }>;
  /** the shadow model's stamp and answer for a text; null without a shadow */
  shadow: ((text: string) => Promise<{ model: ModelStamp; decision: CapturedDecision }>) | null;
  log: { error(o: object, msg: string): void; warn(o: object, msg: string): void };
}

const HOUR = 3_600_000;

/** The part of an answer a capture record keeps. */
export function decisionOf(c: Classification): CapturedDecision {
  return {
    label: c.label as string | string[],
    score: c.score,
    probabilities: c.probabilities ?? {},
    abstain: c.abstain,
    abstain_reason: c.abstain_reason,
    in_scope: c.in_scope,
    ood_score: c.ood_score,
  };
}

export class ServedCapture {
  private writer: CaptureWriter;
  private records: CaptureRecord[];
  private lastId = 0;
  private _failure: string | null = null;
  private pausedUntil = 0;
  private sweeper: NodeJS.Timeout;
  private cached: { n: number; st: ServedState } | null = null;
  /** cases being de-identified or written */
  private inFlight = 0;
  readonly corrupt: number;
  private readonly now: () => number;
  readonly paused: client.Gauge;
  readonly written: client.Counter<'kind'>;
  readonly dropped: client.Counter<'reason'>;

  constructor(
    readonly o: CaptureOptions,
    private readonly host: CaptureHost,
    registry: client.Registry,
  ) {
    this.now = o.now ?? Date.now;
    this.writer = new CaptureWriter(o.dir, o.key, this.now); // checks the key first: a wrong key writes nothing
    sweepCapture(o.dir, o.key, o.days, this.now());
    const read = readCapture(o.dir, o.key);
    this.records = read.records;
    this.corrupt = read.corrupt.length;
    if (read.corrupt.length)
      host.log.error(
        { damaged: read.corrupt.slice(0, 20) },
        `the capture store has ${read.corrupt.length} damaged records: skipped, the rest is readable`,
      );
    this.sweeper = setInterval(() => void this.sweep(), HOUR);
    this.sweeper.unref();
    const reg = [registry];
    this.paused = new client.Gauge({
      name: 'medtune_capture_paused',
      help: 'case capture cannot write (1: paused, e.g. disk full; serving continues)',
      registers: reg,
    });
    this.written = new client.Counter({
      name: 'medtune_capture_records_total',
      help: 'records committed (fsynced) to the capture store, by kind (case, shadow, review, undo)',
      labelNames: ['kind'],
      registers: reg,
    });
    this.dropped = new client.Counter({
      name: 'medtune_capture_dropped_total',
      help: 'cases not captured: capture paused, or a write or de-identification failed',
      labelNames: ['reason'],
      registers: reg,
    });
    const corrupt = this.corrupt;
    new client.Gauge({
      name: 'medtune_capture_damaged_records',
      help: 'records of the capture store that could not be read at start (skipped)',
      registers: reg,
      collect() {
        this.set(corrupt);
      },
    });
  }

  /** Why capture cannot write now (null: it can). */
  get failure(): string | null {
    return this._failure;
  }

  /** The cases, shadow answers and standing reviews (recomputed when records were added). */
  state(): ServedState {
    if (this.cached?.n !== this.records.length) this.cached = { n: this.records.length, st: servedState(this.records) };
    return this.cached.st;
  }

  /** A unique, increasing id from the time (ms × 1000 + a counter): ids stay unique across restarts. */
  private nextId(): number {
    this.lastId = Math.max(this.lastId + 1, this.now() * 1000);
    return this.lastId;
  }

  /** Appends a record; on failure pauses capture (and rethrows). */
  private async commit(rec: CaptureRecord): Promise<void> {
    try {
      await this.writer.append(rec);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = `${err.code ?? 'EIO'}: ${err.code === 'ENOSPC' ? 'no space left on the device' : 'write failed'}`;
      if (this._failure === null)
        this.host.log.error({ reason: why }, 'case capture paused: the store cannot be written');
      this._failure = why;
      this.pausedUntil = this.now() + (this.o.retryMs ?? 1000);
      this.paused.set(1);
      throw e;
    }
    if (this._failure !== null) {
      this._failure = null;
      this.paused.set(0);
      this.host.log.warn({}, 'case capture resumed: the store can be written again');
    }
    this.records.push(rec);
    this.written.inc({ kind: rec.kind });
  }

  /**
   * Offers the texts of an answered request: each is captured with probability --capture-rate (never the raw
   * text), and answered by the shadow model with probability --shadow-rate. Never throws.
   */
  offer(r: { model: ModelStamp; key: string | null; texts: string[]; results: Classification[] }): void {
    r.texts.forEach((text, i) => {
      if (Math.random() >= this.o.rate) return;
      if (this._failure !== null && this.now() < this.pausedUntil) {
        this.dropped.inc({ reason: 'paused' });
        return;
      }
      this.inFlight++;
      void this.captureOne(text, r, r.results[i]!)
        .catch(() => {})
        .finally(() => this.inFlight--);
    });
  }

  private async captureOne(
    raw: string,
    r: { model: ModelStamp; key: string | null },
    result: Classification,
  ): Promise<void> {
    let deid: { text: string; entities: number };
    try {
      deid = await this.host.deid(raw);
    } catch {
      this.dropped.inc({ reason: 'deid' });
      return;
    }
    const rec: CaseRecord = {
      kind: 'case',
      id: this.nextId(),
      time: new Date(this.now()).toISOString(),
      model: r.model,
      key: r.key,
      text: deid.text,
      deid_entities: deid.entities,
      decision: decisionOf(result),
      random: Math.random() < this.o.randomShare,
    };
    try {
      await this.commit(rec);
    } catch {
      this.dropped.inc({ reason: 'write' });
      return;
    }
    if (this.host.shadow && Math.random() < this.o.shadowRate) {
      const answer = await this.host.shadow(deid.text).catch(() => null);
      if (answer)
        await this.commit({ kind: 'shadow', case_id: rec.id, time: new Date(this.now()).toISOString(), ...answer });
    }
  }

  /** Stores a review of a served case (E_CAPTURE when the store cannot be written). */
  async review(r: Omit<ReviewRecord, 'kind' | 'id' | 'time'>): Promise<ReviewRecord> {
    const rec: ReviewRecord = { kind: 'review', id: this.nextId(), time: new Date(this.now()).toISOString(), ...r };
    await this.commit(rec).catch(() => {
      throw new MedtuneError(
        `the capture store cannot be written (${this._failure}); the review was not saved`,
        'E_CAPTURE',
      );
    });
    return rec;
  }

  /** Takes back one of the reviewer's reviews; null when there is no such review of theirs. */
  async undo(id: number, reviewer: string): Promise<ReviewRecord | null> {
    const r = this.state().reviews.find((x) => x.id === id && x.reviewer === reviewer);
    if (!r) return null;
    await this.commit({ kind: 'undo', review_id: id, reviewer, time: new Date(this.now()).toISOString() }).catch(() => {
      throw new MedtuneError(`the capture store cannot be written (${this._failure}); nothing was undone`, 'E_CAPTURE');
    });
    return r;
  }

  /** Deletes the records older than --capture-days (on disk and in memory). */
  async sweep(): Promise<number> {
    const removed = (await this.writer.idle(() => sweepCapture(this.o.dir, this.o.key, this.o.days, this.now()))) ?? 0;
    if (removed) this.records = readCapture(this.o.dir, this.o.key).records;
    return removed;
  }

  /** Waits for the records being written (for tests and shutdown). */
  async flush(): Promise<void> {
    while (this.inFlight) await new Promise((r) => setTimeout(r, 5));
    await this.writer.idle();
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.flush();
    await this.writer.close();
  }
}
