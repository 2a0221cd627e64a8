/**
 * The model registry: named models, each with immutable versions and aliases ("champion", "challenger"), in one
 * folder with an SQLite index (better-sqlite3, WAL), after MLflow's registry.
 *
 *   REGISTRY/registry.sqlite            the index: versions, aliases, the alias history, comparisons
 *   REGISTRY/models/NAME/VERSION/       a copy of the model folder, read-only, addressed by the model's version
 *
 * A version is the model's own `version` (models/metadata.ts: the weights and the decision settings), so the same
 * model registered twice is one version, and a recalibrated one is another. Each version records the sha256 of
 * every file of its folder; `verify` recomputes them (promote and serve call it), so a folder changed on disk is
 * refused. Its lineage is what the model and its run folder say: the training run, the data files with their
 * hashes, the parent model (by sha256, named when registered), and the reviewed served cases it was trained on.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { makeDirs, tempPathFor } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { describeModel } from '../infer/model-info.js';
import { fileSha256 } from '../models/metadata.js';

export type Alias = 'champion' | 'challenger';
export const ALIASES: Alias[] = ['champion', 'challenger'];
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface FileHash {
  file: string;
  sha256: string;
  bytes: number;
}

export interface Lineage {
  /** the run folder the model came from (the parent of best_model/), when it has a run.json */
  run: string | null;
  /** the data files the model was trained, validated and tested on, with their sha256 */
  data: { file: string; sha256: string; split?: string; rows?: number }[];
  /** the model it was trained from: its weights' sha256, and its registry version when registered */
  parent: { sha256: string; version: string | null } | null;
  /** exports of reviewed served cases among its training files (`medtune models export` writes them) */
  reviews: { file: string; cases: number; reviewers: string[]; capture: string }[];
  base_model: string | null;
  finished_at: string | null;
}

/** The figures a model was validated with (its run's metrics.json), for the live-performance alert. */
export interface ValidationFigures {
  split: string;
  accuracy: number | null;
  f1_macro: number | null;
  ece: number | null;
}

export interface Version {
  name: string;
  version: string;
  /** the weights' sha256 (models/metadata.ts) */
  sha256: string;
  /** sha256 over every file's path and sha256 */
  folder_sha256: string;
  files: FileHash[];
  labels: string[];
  lineage: Lineage;
  validation: ValidationFigures | null;
  source: string;
  created: string;
  aliases: Alias[];
}

export interface AliasEvent {
  id: number;
  name: string;
  alias: Alias;
  action: 'promote' | 'rollback';
  version: string | null;
  previous: string | null;
  forced: boolean;
  reason: string | null;
  time: string;
}

export interface Comparison {
  name: string;
  a: string;
  b: string;
  /** what it was measured on: reviewed served cases, or a test file (its sha256) */
  on: 'reviewed' | 'test';
  data: string;
  n: number;
  metric: string;
  /** b − a, with its 95 % paired-bootstrap interval */
  diff: number;
  low: number;
  high: number;
  time: string;
}

export const registryError = (msg: string) => new MedtuneError(msg, 'E_REGISTRY');

/** NAME or NAME@VERSION (or NAME@champion / NAME@challenger). */
export function parseRef(ref: string): { name: string; version: string | null } {
  const i = ref.indexOf('@');
  const name = i < 0 ? ref : ref.slice(0, i);
  const version = i < 0 ? null : ref.slice(i + 1);
  if (!NAME_RE.test(name) || (version !== null && !NAME_RE.test(version)))
    throw new MedtuneError(`"${ref}" is not NAME or NAME@VERSION (letters, digits, _.-)`, 'E_USAGE');
  return { name, version };
}

/** Every file under `dir` (relative paths, sorted). */
function filesUnder(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const n of readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${n}` : n;
    if (statSync(path.join(dir, r)).isDirectory()) out.push(...filesUnder(dir, r));
    else out.push(r);
  }
  return out;
}

const folderHash = (files: FileHash[]) =>
  createHash('sha256')
    .update(files.map((f) => `${f.file}\t${f.sha256}\n`).join(''))
    .digest('hex');

/** sha256 of a file, streamed (does not block the event loop of a server). */
export function fileSha256Async(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (b) => h.update(b))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

const json = <T>(s: string | null): T => (s === null ? (null as T) : (JSON.parse(s) as T));

function readJson(file: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** The validation figures of a model folder's run (RUN/metrics.json beside RUN/best_model), when there is one. */
export function validationOf(dir: string): ValidationFigures | null {
  const m = readJson(path.join(dir, '..', 'metrics.json'));
  if (!m) return null;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const cal = (m.calibration ?? {}) as Record<string, unknown>;
  return {
    split: typeof m.split === 'string' ? m.split : 'test',
    accuracy: num(m.accuracy),
    f1_macro: num(m.f1_macro),
    ece: num(cal.ece_after) ?? num(cal.ece_before),
  };
}

export class Registry {
  readonly db: Database.Database;

  private constructor(
    readonly dir: string,
    readonly: boolean,
  ) {
    const file = path.join(dir, 'registry.sqlite');
    try {
      this.db = new Database(file, { readonly, fileMustExist: readonly });
      this.db.pragma('busy_timeout = 5000');
      if (!readonly) {
        this.db.pragma('journal_mode = WAL');
        this.db.exec(`
          CREATE TABLE IF NOT EXISTS versions (name TEXT NOT NULL, version TEXT NOT NULL, sha256 TEXT NOT NULL,
            folder_sha256 TEXT NOT NULL, files TEXT NOT NULL, labels TEXT NOT NULL, lineage TEXT NOT NULL,
            validation TEXT, source TEXT NOT NULL, created TEXT NOT NULL, PRIMARY KEY (name, version));
          CREATE TABLE IF NOT EXISTS aliases (name TEXT NOT NULL, alias TEXT NOT NULL, version TEXT NOT NULL,
            updated TEXT NOT NULL, PRIMARY KEY (name, alias));
          CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
            alias TEXT NOT NULL, action TEXT NOT NULL, version TEXT, previous TEXT, forced INTEGER NOT NULL,
            reason TEXT, time TEXT NOT NULL);
          CREATE TABLE IF NOT EXISTS comparisons (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,
            a TEXT NOT NULL, b TEXT NOT NULL, "on" TEXT NOT NULL, data TEXT NOT NULL, n INTEGER NOT NULL,
            metric TEXT NOT NULL, diff REAL NOT NULL, low REAL NOT NULL, high REAL NOT NULL, time TEXT NOT NULL);`);
      }
    } catch (e) {
      throw new MedtuneError(
        `cannot open the registry ${dir}: ${(e as Error).message.split('\n')[0]} (is it a medtune registry?)`,
        'E_REGISTRY',
      );
    }
  }

  /** Opens (creating unless `readonly`) the registry in `dir`. */
  static open(dir: string, o: { readonly?: boolean } = {}): Registry {
    if (o.readonly) {
      if (!existsSync(path.join(dir, 'registry.sqlite')))
        throw registryError(
          `${dir} is not a model registry (no registry.sqlite); create one with medtune models register`,
        );
    } else makeDirs(dir, 'registry folder');
    return new Registry(path.resolve(dir), !!o.readonly);
  }

  close(): void {
    this.db.close();
  }

  folderOf(name: string, version: string): string {
    return path.join(this.dir, 'models', name, version);
  }

  /**
   * Registers a model folder under `name`: copies it into models/NAME/VERSION (read-only), with its file hashes,
   * lineage and validation figures. The same version registered again is returned as it is.
   */
  async register(src: string, name: string): Promise<{ version: Version; created: boolean }> {
    if (!NAME_RE.test(name)) throw new MedtuneError(`--name "${name}" must be 1-64 letters, digits or _.-`, 'E_USAGE');
    const info = await describeModel(src);
    const version = info.identity.version;
    const existing = this.find(name, version);
    if (existing) return { version: existing, created: false };
    const target = this.folderOf(name, version);
    makeDirs(path.dirname(target), 'registry folder');
    const { tmp, release } = tempPathFor(target);
    try {
      mkdirSync(tmp);
      const rel = filesUnder(info.dir).filter((f) => !f.split('/').some((p) => p.startsWith('.')));
      for (const f of rel) {
        mkdirSync(path.dirname(path.join(tmp, f)), { recursive: true });
        copyFileSync(path.join(info.dir, f), path.join(tmp, f));
        chmodSync(path.join(tmp, f), 0o444);
      }
      const files = rel.map((f) => ({
        file: f,
        sha256: fileSha256(path.join(tmp, f)),
        bytes: statSync(path.join(tmp, f)).size,
      }));
      if (existsSync(target)) rmSync(target, { recursive: true, force: true }); // a folder no index row names
      renameSync(tmp, target);
      const v: Omit<Version, 'aliases'> = {
        name,
        version,
        sha256: info.identity.sha256,
        folder_sha256: folderHash(files),
        files,
        labels: info.labels,
        lineage: this.lineageOf(info.dir, info.metadata),
        validation: validationOf(info.dir),
        source: info.dir,
        created: new Date().toISOString(),
      };
      this.db
        .prepare(
          'INSERT INTO versions (name, version, sha256, folder_sha256, files, labels, lineage, validation, source, ' +
            'created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          name,
          version,
          v.sha256,
          v.folder_sha256,
          JSON.stringify(files),
          JSON.stringify(v.labels),
          JSON.stringify(v.lineage),
          v.validation ? JSON.stringify(v.validation) : null,
          v.source,
          v.created,
        );
      return { version: { ...v, aliases: [] }, created: true };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      release();
    }
  }

  private lineageOf(dir: string, meta: Awaited<ReturnType<typeof describeModel>>['metadata']): Lineage {
    const run = existsSync(path.join(dir, '..', 'run.json')) ? path.resolve(dir, '..') : null;
    const data = (meta.training?.data ?? []).map((d) => ({
      file: d.file,
      sha256: d.sha256,
      ...(d.split ? { split: d.split } : {}),
      ...(d.rows !== undefined ? { rows: d.rows } : {}),
    }));
    const reviews = data
      .filter((d) => d.split === 'train')
      .map((d) => readJson(`${d.file}.served.json`))
      .filter((x): x is Record<string, unknown> => !!x && typeof x.cases === 'number')
      .map((x) => x as unknown as Lineage['reviews'][number]);
    const parentSha = meta.parent_sha256 ?? null;
    const parent = parentSha
      ? {
          sha256: parentSha,
          version:
            (
              this.db
                .prepare('SELECT version FROM versions WHERE sha256 = ? ORDER BY created LIMIT 1')
                .get(parentSha) as { version: string } | undefined
            )?.version ?? null,
        }
      : null;
    return {
      run,
      data,
      parent,
      reviews,
      base_model: meta.training?.base_model ?? null,
      finished_at: meta.training?.finished_at ?? null,
    };
  }

  private rowToVersion(r: Record<string, string>): Version {
    const aliases = (
      this.db
        .prepare('SELECT alias FROM aliases WHERE name = ? AND version = ? ORDER BY alias')
        .all(r.name, r.version) as { alias: Alias }[]
    ).map((a) => a.alias);
    return {
      name: r.name!,
      version: r.version!,
      sha256: r.sha256!,
      folder_sha256: r.folder_sha256!,
      files: json(r.files!),
      labels: json(r.labels!),
      lineage: json(r.lineage!),
      validation: json(r.validation ?? null),
      source: r.source!,
      created: r.created!,
      aliases,
    };
  }

  find(name: string, version: string): Version | null {
    const r = this.db.prepare('SELECT * FROM versions WHERE name = ? AND version = ?').get(name, version);
    return r ? this.rowToVersion(r as Record<string, string>) : null;
  }

  /** NAME@VERSION, NAME@ALIAS, or NAME (its champion); E_REGISTRY when there is no such version. */
  get(ref: string): Version {
    const { name, version } = parseRef(ref);
    const names = this.names();
    if (!names.includes(name))
      throw registryError(
        `no model named ${name} in the registry ${this.dir} (it holds: ${names.join(', ') || 'none'})`,
      );
    const v = version ?? 'champion';
    const byAlias = (ALIASES as string[]).includes(v) ? this.alias(name, v as Alias) : null;
    if ((ALIASES as string[]).includes(v) && !byAlias)
      throw registryError(`${name} has no ${v} yet: medtune models promote ${name}@VERSION --alias ${v}`);
    const found = this.find(name, byAlias ?? v);
    if (!found)
      throw registryError(
        `${name} has no version ${v} (versions: ${this.versions(name)
          .map((x) => x.version)
          .join(', ')})`,
      );
    return found;
  }

  names(): string[] {
    return (this.db.prepare('SELECT DISTINCT name FROM versions ORDER BY name').all() as { name: string }[]).map(
      (r) => r.name,
    );
  }

  versions(name?: string): Version[] {
    const rows = name
      ? this.db.prepare('SELECT * FROM versions WHERE name = ? ORDER BY created, version').all(name)
      : this.db.prepare('SELECT * FROM versions ORDER BY name, created, version').all();
    return (rows as Record<string, string>[]).map((r) => this.rowToVersion(r));
  }

  /** The version an alias points to (null: none). */
  alias(name: string, alias: Alias): string | null {
    return (
      (
        this.db.prepare('SELECT version FROM aliases WHERE name = ? AND alias = ?').get(name, alias) as
          { version: string } | undefined
      )?.version ?? null
    );
  }

  history(name: string): AliasEvent[] {
    return (
      this.db.prepare('SELECT * FROM history WHERE name = ? ORDER BY id').all(name) as (Omit<AliasEvent, 'forced'> & {
        forced: number;
      })[]
    ).map((r) => ({ ...r, forced: !!r.forced }));
  }

  /** Recomputes every file's sha256 of a version's folder; E_REGISTRY naming the first file that differs. */
  async verify(v: Version): Promise<void> {
    const dir = this.folderOf(v.name, v.version);
    if (!existsSync(dir)) throw registryError(`${v.name}@${v.version}: its folder ${dir} is missing`);
    const onDisk = filesUnder(dir).filter((f) => !f.split('/').some((p) => p.startsWith('.')));
    const extra = onDisk.filter((f) => !v.files.some((x) => x.file === f));
    if (extra.length)
      throw registryError(`${v.name}@${v.version} fails its sha256 check: ${extra[0]} was added to its folder`);
    for (const f of v.files) {
      const p = path.join(dir, f.file);
      if (!existsSync(p)) throw registryError(`${v.name}@${v.version} fails its sha256 check: ${f.file} is missing`);
      if ((await fileSha256Async(p)) !== f.sha256)
        throw registryError(`${v.name}@${v.version} fails its sha256 check: ${f.file} was changed`);
    }
  }

  /** The comparisons recorded between two versions (latest first). */
  comparisons(name: string, a: string, b: string): Comparison[] {
    return this.db
      .prepare('SELECT * FROM comparisons WHERE name = ? AND a = ? AND b = ? ORDER BY id DESC')
      .all(name, a, b) as Comparison[];
  }

  recordComparison(c: Omit<Comparison, 'time'>): void {
    this.db
      .prepare(
        'INSERT INTO comparisons (name, a, b, "on", data, n, metric, diff, low, high, time) ' +
          'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(c.name, c.a, c.b, c.on, c.data, c.n, c.metric, c.diff, c.low, c.high, new Date().toISOString());
  }

  /**
   * Points an alias at a version (verified first). A new champion must not be worse than the current one on the
   * reviewed served cases (the latest recorded comparison, `medtune models compare`) unless `force`.
   */
  async promote(
    ref: string,
    alias: Alias,
    o: { force?: boolean } = {},
  ): Promise<{ version: Version; previous: string | null; note: string }> {
    if (!ALIASES.includes(alias)) throw new MedtuneError(`--alias must be champion or challenger`, 'E_USAGE');
    const { name, version } = parseRef(ref);
    if (!version) throw new MedtuneError(`promote needs NAME@VERSION, got ${ref}`, 'E_USAGE');
    const v = this.get(ref);
    await this.verify(v);
    const previous = this.alias(name, alias);
    if (previous === v.version) return { version: v, previous, note: `${alias} is already ${v.version}` };
    const note = alias === 'champion' && previous ? this.checkNotWorse(name, previous, v.version, !!o.force) : '';
    this.move(name, alias, v.version, previous, { action: 'promote', forced: !!o.force, reason: note || null });
    return { version: this.find(name, v.version)!, previous, note };
  }

  /** Refuses (unless forced) a champion that the latest comparison on reviewed cases found worse; says why. */
  private checkNotWorse(name: string, champion: string, candidate: string, force: boolean): string {
    const c = this.comparisons(name, champion, candidate).find((x) => x.on === 'reviewed');
    if (!c) return `not compared with ${champion} on reviewed cases (medtune models compare)`;
    const said =
      `${c.metric} ${candidate} − ${champion} = ${c.diff.toFixed(3)} ` +
      `[95 % CI ${c.low.toFixed(3)}, ${c.high.toFixed(3)}] on ${c.n} reviewed cases`;
    if (c.diff >= 0) return said;
    if (!force)
      throw registryError(
        `refused: ${name}@${candidate} is worse than the champion ${champion} on the reviewed cases (${said}); ` +
          'pass --force to promote it anyway',
      );
    return `forced: ${said}`;
  }

  private move(
    name: string,
    alias: Alias,
    version: string | null,
    previous: string | null,
    e: { action: AliasEvent['action']; forced: boolean; reason: string | null },
  ): void {
    const time = new Date().toISOString();
    this.db.transaction(() => {
      if (version === null) this.db.prepare('DELETE FROM aliases WHERE name = ? AND alias = ?').run(name, alias);
      else
        this.db
          .prepare(
            'INSERT INTO aliases (name, alias, version, updated) VALUES (?, ?, ?, ?) ' +
              'ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, updated = excluded.updated',
          )
          .run(name, alias, version, time);
      this.db
        .prepare(
          'INSERT INTO history (name, alias, action, version, previous, forced, reason, time) ' +
            'VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(name, alias, e.action, version, previous, e.forced ? 1 : 0, e.reason, time);
    })();
  }

  /** The champions in the order they were promoted, less those rolled back: the last is the champion. */
  private championStack(name: string): string[] {
    const stack: string[] = [];
    for (const e of this.history(name).filter((x) => x.alias === 'champion')) {
      if (e.action === 'promote' && e.version) stack.push(e.version);
      else if (e.action === 'rollback') stack.pop();
    }
    return stack;
  }

  /** Moves the champion back to the one before it (verified first). */
  async rollback(name: string): Promise<{ from: string; to: string }> {
    parseRef(name);
    if (!this.names().includes(name)) throw registryError(`no model named ${name} in the registry ${this.dir}`);
    const stack = this.championStack(name);
    const from = this.alias(name, 'champion');
    if (!from || stack.length < 2)
      throw registryError(
        `${name} has no earlier champion to roll back to (promotions: ${stack.join(' → ') || 'none'})`,
      );
    const to = stack[stack.length - 2]!;
    await this.verify(this.find(name, to)!);
    this.move(name, 'champion', to, from, { action: 'rollback', forced: false, reason: null });
    return { from, to };
  }
}
