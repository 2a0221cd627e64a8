/**
 * The study database: one SQLite file (better-sqlite3, WAL, every change in a transaction) holding studies, their
 * trials (parameters, state, value, heartbeats, attempts) and intermediate values. Exactly one process writes it —
 * the `tune` process; its local trial processes and remote queue workers report to that process, never to the
 * file — so parallel workers never contend for SQLite's lock (the failure optuna #4002 reports).
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { MedtuneError } from '../common/errors.js';
import { makeDirs } from '../common/atomic.js';
import path from 'node:path';
import type { Direction, TrialRecord, TrialState } from './samplers.js';
import type { ParamValue } from './space.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS medtune_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, direction TEXT NOT NULL, metric TEXT NOT NULL,
  space TEXT NOT NULL, signature TEXT NOT NULL, settings TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
  id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES studies(id), number INTEGER NOT NULL,
  state TEXT NOT NULL, params TEXT NOT NULL, value REAL, best_step INTEGER, attempt INTEGER NOT NULL DEFAULT 1,
  retry_of INTEGER, retried INTEGER NOT NULL DEFAULT 0, owner TEXT, worker TEXT, started_at REAL, finished_at REAL,
  heartbeat_at REAL, error TEXT, epochs_planned REAL, epochs_run REAL, seconds REAL,
  UNIQUE (study_id, number));
CREATE TABLE IF NOT EXISTS intermediate (
  trial_id INTEGER NOT NULL REFERENCES trials(id), step INTEGER NOT NULL, value REAL NOT NULL,
  PRIMARY KEY (trial_id, step));
`;

export interface StudyDef {
  name: string;
  direction: Direction;
  metric: string;
  space: unknown;
  signature: string;
  settings: Record<string, unknown>;
}

export interface Study extends StudyDef {
  id: number;
  createdAt: string;
}

export interface Trial extends TrialRecord {
  id: number;
  bestStep: number | null;
  attempt: number;
  retryOf: number | null;
  retried: boolean;
  owner: string | null;
  worker: string | null;
  startedAt: number | null;
  finishedAt: number | null;
  heartbeatAt: number | null;
  error: string | null;
  epochsPlanned: number | null;
  epochsRun: number | null;
  seconds: number | null;
}

interface TrialRow {
  id: number;
  number: number;
  state: TrialState;
  params: string;
  value: number | null;
  best_step: number | null;
  attempt: number;
  retry_of: number | null;
  retried: number;
  owner: string | null;
  worker: string | null;
  started_at: number | null;
  finished_at: number | null;
  heartbeat_at: number | null;
  error: string | null;
  epochs_planned: number | null;
  epochs_run: number | null;
  seconds: number | null;
}

/** This process as an owner: host and pid (a dead owner's running trials are failed on the next start). */
export const OWNER = `${os.hostname()}:${process.pid}`;
const now = () => Date.now() / 1000;

export class StudyStore {
  readonly db: Database.Database;

  constructor(
    readonly file: string,
    o: { readonly?: boolean } = {},
  ) {
    if (!o.readonly) makeDirs(path.dirname(path.resolve(file)), 'folder of --storage');
    if (o.readonly && !existsSync(file)) throw new MedtuneError(`study file ${file} does not exist`, 'E_STUDY_STORAGE');
    try {
      this.db = new Database(file, { readonly: !!o.readonly, fileMustExist: !!o.readonly, timeout: 10_000 });
      if (!o.readonly) {
        this.db.pragma('journal_mode = WAL');
        this.db.pragma('synchronous = NORMAL');
        this.db.exec(SCHEMA);
        this.db.prepare("INSERT OR IGNORE INTO medtune_meta (key, value) VALUES ('schema', '1')").run();
      } else this.db.prepare('SELECT count(*) FROM studies').get();
    } catch (e) {
      const why = (e as Error).message;
      throw new MedtuneError(
        `cannot use ${file} as a study database ` +
          `(${/not a database|file is encrypted/i.test(why) ? 'it is not an SQLite file' : why}); ` +
          'give --storage a new file or a study file written by medtune tune',
        'E_STUDY_STORAGE',
      );
    }
  }

  close(): void {
    this.db.close();
  }

  private tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** The study of that name, created if new; an existing one must have the same search space and metric. */
  openStudy(def: StudyDef): { study: Study; created: boolean } {
    return this.tx(() => {
      const row = this.db.prepare('SELECT * FROM studies WHERE name = ?').get(def.name) as
        | {
            id: number;
            name: string;
            direction: Direction;
            metric: string;
            space: string;
            signature: string;
            settings: string;
            created_at: string;
          }
        | undefined;
      if (row) {
        if (row.signature !== def.signature || row.metric !== def.metric || row.direction !== def.direction) {
          throw new MedtuneError(
            `study "${def.name}" in ${this.file} was made with another search space or metric ` +
              `(${row.metric}, space ${row.signature}; now ${def.metric}, space ${def.signature}); ` +
              'use another --study name or --storage file, or the original settings',
            'E_STUDY_MISMATCH',
          );
        }
        return { study: this.studyOf(row), created: false };
      }
      const r = this.db
        .prepare(
          'INSERT INTO studies (name, direction, metric, space, signature, settings, created_at) ' +
            'VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          def.name,
          def.direction,
          def.metric,
          JSON.stringify(def.space),
          def.signature,
          JSON.stringify(def.settings),
          new Date().toISOString(),
        );
      return { study: { ...def, id: Number(r.lastInsertRowid), createdAt: new Date().toISOString() }, created: true };
    });
  }

  private studyOf(row: {
    id: number;
    name: string;
    direction: Direction;
    metric: string;
    space: string;
    signature: string;
    settings: string;
    created_at: string;
  }): Study {
    return {
      id: row.id,
      name: row.name,
      direction: row.direction,
      metric: row.metric,
      space: JSON.parse(row.space),
      signature: row.signature,
      settings: JSON.parse(row.settings),
      createdAt: row.created_at,
    };
  }

  studies(): Study[] {
    return (this.db.prepare('SELECT * FROM studies ORDER BY id').all() as Parameters<StudyStore['studyOf']>[0][]).map(
      (r) => this.studyOf(r),
    );
  }

  trials(studyId: number): Trial[] {
    const rows = this.db.prepare('SELECT * FROM trials WHERE study_id = ? ORDER BY number').all(studyId) as TrialRow[];
    const inter = this.db
      .prepare(
        'SELECT i.trial_id, i.step, i.value FROM intermediate i JOIN trials t ON t.id = i.trial_id ' +
          'WHERE t.study_id = ? ORDER BY i.step',
      )
      .all(studyId) as { trial_id: number; step: number; value: number }[];
    const byTrial = new Map<number, [number, number][]>();
    for (const r of inter) {
      if (!byTrial.has(r.trial_id)) byTrial.set(r.trial_id, []);
      byTrial.get(r.trial_id)!.push([r.step, r.value]);
    }
    return rows.map((r) => ({
      id: r.id,
      number: r.number,
      state: r.state,
      params: JSON.parse(r.params) as Record<string, ParamValue>,
      value: r.value,
      intermediate: byTrial.get(r.id) ?? [],
      bestStep: r.best_step,
      attempt: r.attempt,
      retryOf: r.retry_of,
      retried: !!r.retried,
      owner: r.owner,
      worker: r.worker,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      heartbeatAt: r.heartbeat_at,
      error: r.error,
      epochsPlanned: r.epochs_planned,
      epochsRun: r.epochs_run,
      seconds: r.seconds,
    }));
  }

  trial(studyId: number, number: number): Trial {
    return this.trials(studyId).find((t) => t.number === number)!;
  }

  /** A new trial, running (owned by this process) or waiting (a retry to be picked up); returns its number. */
  addTrial(
    studyId: number,
    params: Record<string, ParamValue>,
    o: { state: 'running' | 'waiting'; retryOf?: number; attempt?: number; epochsPlanned?: number },
  ): number {
    return this.tx(() => {
      const next = (
        this.db.prepare('SELECT COALESCE(MAX(number), -1) + 1 AS n FROM trials WHERE study_id = ?').get(studyId) as {
          n: number;
        }
      ).n;
      const t = now();
      this.db
        .prepare(
          'INSERT INTO trials (study_id, number, state, params, attempt, retry_of, owner, started_at, heartbeat_at, ' +
            'epochs_planned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          studyId,
          next,
          o.state,
          JSON.stringify(params),
          o.attempt ?? 1,
          o.retryOf ?? null,
          o.state === 'running' ? OWNER : null,
          o.state === 'running' ? t : null,
          o.state === 'running' ? t : null,
          o.epochsPlanned ?? null,
        );
      return next;
    });
  }

  /** Marks a waiting trial running under this process (true when it was still waiting). */
  claim(studyId: number, number: number): boolean {
    const t = now();
    return (
      this.db
        .prepare(
          "UPDATE trials SET state = 'running', owner = ?, started_at = ?, heartbeat_at = ? " +
            "WHERE study_id = ? AND number = ? AND state = 'waiting'",
        )
        .run(OWNER, t, t, studyId, number).changes === 1
    );
  }

  heartbeat(studyId: number, number: number, worker?: string): void {
    this.db
      .prepare(
        'UPDATE trials SET heartbeat_at = ?, worker = COALESCE(?, worker) ' +
          "WHERE study_id = ? AND number = ? AND state = 'running'",
      )
      .run(now(), worker ?? null, studyId, number);
  }

  /** Records an intermediate value (a repeated step — a retried job — overwrites). */
  report(studyId: number, number: number, step: number, value: number): void {
    this.tx(() => {
      const id = (
        this.db.prepare('SELECT id FROM trials WHERE study_id = ? AND number = ?').get(studyId, number) as {
          id: number;
        }
      ).id;
      this.db
        .prepare('INSERT OR REPLACE INTO intermediate (trial_id, step, value) VALUES (?, ?, ?)')
        .run(id, step, Number.isFinite(value) ? value : Number.NaN);
      this.db.prepare('UPDATE trials SET heartbeat_at = ? WHERE id = ?').run(now(), id);
    });
  }

  /** Forgets intermediate values of a trial (a job picked up again after its worker died starts over). */
  resetIntermediate(studyId: number, number: number): void {
    this.db
      .prepare('DELETE FROM intermediate WHERE trial_id = (SELECT id FROM trials WHERE study_id = ? AND number = ?)')
      .run(studyId, number);
  }

  /** Ends a running trial; false when it was not running any more (it ends once). */
  finish(
    studyId: number,
    number: number,
    r: {
      state: 'complete' | 'pruned' | 'failed';
      value?: number | null;
      bestStep?: number | null;
      error?: string;
      epochsRun?: number;
      seconds?: number;
    },
  ): boolean {
    return (
      this.db
        .prepare(
          'UPDATE trials SET state = ?, value = ?, best_step = ?, error = ?, epochs_run = ?, seconds = ?, ' +
            "finished_at = ? WHERE study_id = ? AND number = ? AND state IN ('running', 'waiting')",
        )
        .run(
          r.state,
          r.value ?? null,
          r.bestStep ?? null,
          r.error ?? null,
          r.epochsRun ?? null,
          r.seconds ?? null,
          now(),
          studyId,
          number,
        ).changes === 1
    );
  }

  markRetried(studyId: number, number: number): void {
    this.db.prepare('UPDATE trials SET retried = 1 WHERE study_id = ? AND number = ?').run(studyId, number);
  }
}

/** Is the owner `host:pid` a process of this host that is gone? (Other hosts' owners are judged by heartbeat.) */
export function ownerDead(owner: string | null): boolean {
  if (!owner) return true;
  const i = owner.lastIndexOf(':');
  if (owner.slice(0, i) !== os.hostname()) return false;
  const pid = Number(owner.slice(i + 1));
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'EPERM';
  }
}
