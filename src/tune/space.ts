/**
 * Search spaces: which recipe options a study varies and how. Every `train` recipe option may be a constant or a
 * distribution — `loguniform:1e-5:5e-4`, `uniform:0:0.2`, `int:2:10`, `int:8:64:log`, `choice:16,32` — on the
 * command line or in a JSON/YAML `--space` file. Names are `train`'s (`learning-rate`, `learning_rate` or
 * `learningRate`). Everything is checked before a trial starts: unknown parameters, bounds outside what `train`
 * accepts, reversed or empty ranges, a log scale over zero, a parameter given twice with different values.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { MedtuneError } from '../common/errors.js';

export type ParamValue = number | string;
export type Distribution =
  | { type: 'float'; low: number; high: number; log: boolean }
  | { type: 'int'; low: number; high: number; log: boolean }
  | { type: 'categorical'; choices: ParamValue[] };

/** What a study varies (`params`) and what it holds fixed (`fixed`), keyed by `train`'s option names. */
export interface SearchSpace {
  params: Record<string, Distribution>;
  fixed: Record<string, ParamValue>;
}

interface ParamSpec {
  flag: string;
  kind: 'float' | 'int' | 'string';
  min: number;
  /** exclusive upper bound (Infinity: none) */
  below: number;
  /** the lower bound itself is excluded */
  minExclusive?: boolean;
  values?: readonly string[];
}

/** The recipe options a trial may vary (TrainOptions keys). */
export const TUNABLE: Record<string, ParamSpec> = {
  learningRate: { flag: '--learning-rate', kind: 'float', min: 0, below: 1, minExclusive: true },
  batchSize: { flag: '--batch-size', kind: 'int', min: 1, below: 4097 },
  epochs: { flag: '--epochs', kind: 'int', min: 1, below: 1001 },
  warmup: { flag: '--warmup', kind: 'float', min: 0, below: Infinity },
  weightDecay: { flag: '--weight-decay', kind: 'float', min: 0, below: 10 },
  maxLength: { flag: '--max-length', kind: 'int', min: 2, below: 100_000 },
  dropout: { flag: '--dropout', kind: 'float', min: 0, below: 1 },
  labelSmoothing: { flag: '--label-smoothing', kind: 'float', min: 0, below: 1 },
  gradAccum: { flag: '--grad-accum', kind: 'int', min: 1, below: 1025 },
  scheduler: { flag: '--scheduler', kind: 'string', min: 0, below: 0, values: ['linear', 'cosine', 'constant'] },
};

const spaceError = (msg: string) => new MedtuneError(msg, 'E_SEARCH_SPACE');

/** `learning-rate`, `--learning-rate`, `learning_rate`, `learningRate` → `learningRate`; unknown names refused. */
export function paramKey(name: string): string {
  const key = name.replace(/^--/, '').replace(/[-_]([a-z])/g, (_, c: string) => c.toUpperCase());
  if (!(key in TUNABLE)) {
    const known = Object.values(TUNABLE)
      .map((s) => s.flag.slice(2))
      .join(', ');
    throw spaceError(`"${name}" is not a parameter the trainer knows; tunable: ${known}`);
  }
  return key;
}

function checkValue(key: string, v: ParamValue, what: string): void {
  const s = TUNABLE[key]!;
  if (s.kind === 'string') {
    if (!s.values!.includes(String(v)))
      throw spaceError(`${s.flag}: ${what} "${v}" is not one of ${s.values!.join(', ')}`);
    return;
  }
  const n = typeof v === 'number' ? v : Number.NaN;
  const inRange = Number.isFinite(n) && (s.minExclusive ? n > s.min : n >= s.min) && n < s.below;
  if (!inRange) {
    const hi = Number.isFinite(s.below) ? ` and < ${s.below}` : '';
    throw spaceError(
      `${s.flag}: ${what} ${v} is outside what train accepts (${s.minExclusive ? '>' : '≥'} ${s.min}${hi})`,
    );
  }
  if (s.kind === 'int' && !Number.isInteger(n))
    throw spaceError(`${s.flag} takes whole numbers; ${what} ${v} is not one`);
}

const toNumber = (key: string, x: string): ParamValue => {
  if (TUNABLE[key]!.kind === 'string') return x.trim();
  const n = Number(x);
  if (x.trim() === '' || !Number.isFinite(n)) throw spaceError(`${TUNABLE[key]!.flag}: "${x}" is not a number`);
  return n;
};

/** One option's value: a constant or `kind:args` (see the file comment). */
export function parseParam(name: string, spec: unknown): Distribution | ParamValue {
  const key = paramKey(name);
  const flag = TUNABLE[key]!.flag;
  if (typeof spec === 'number') return (checkValue(key, spec, 'value'), spec);
  if (Array.isArray(spec))
    return categorical(
      key,
      spec.map((x) => (typeof x === 'number' ? x : toNumber(key, String(x)))),
    );
  if (spec && typeof spec === 'object') return fromObject(key, spec as Record<string, unknown>);
  if (typeof spec !== 'string' || !spec.trim()) throw spaceError(`${flag}: empty value`);
  const m = /^(loguniform|uniform|int|choice):(.*)$/.exec(spec.trim());
  if (!m) {
    const v = toNumber(key, spec);
    checkValue(key, v, 'value');
    return v;
  }
  const [, kind, rest] = m as unknown as [string, string, string];
  if (kind === 'choice')
    return categorical(
      key,
      rest
        .split(',')
        .filter((x) => x.trim())
        .map((x) => toNumber(key, x)),
    );
  const parts = rest.split(':');
  const log = kind === 'loguniform' || (kind === 'int' && parts[2] === 'log');
  if (parts.length < 2 || parts.length > (kind === 'int' ? 3 : 2) || (parts.length === 3 && parts[2] !== 'log')) {
    throw spaceError(`${flag} ${spec}: expected ${kind === 'int' ? 'int:LOW:HIGH[:log]' : `${kind}:LOW:HIGH`}`);
  }
  return range(key, kind === 'int' ? 'int' : 'float', Number(parts[0]), Number(parts[1]), log, spec);
}

function fromObject(key: string, o: Record<string, unknown>): Distribution | ParamValue {
  const type = String(o.type ?? o.distribution ?? '');
  if (type === 'choice' || type === 'categorical') {
    const choices = Array.isArray(o.choices) ? o.choices : Array.isArray(o.values) ? o.values : [];
    return categorical(
      key,
      choices.map((x) => (typeof x === 'number' ? x : toNumber(key, String(x)))),
    );
  }
  if (!['uniform', 'loguniform', 'int', 'float'].includes(type)) {
    throw spaceError(`${TUNABLE[key]!.flag}: type "${type}" is not uniform, loguniform, int or choice`);
  }
  const log = type === 'loguniform' || o.log === true;
  return range(key, type === 'int' ? 'int' : 'float', Number(o.low), Number(o.high), log, JSON.stringify(o));
}

function range(
  key: string,
  type: 'int' | 'float',
  low: number,
  high: number,
  log: boolean,
  shown: string,
): Distribution {
  const s = TUNABLE[key]!;
  if (s.kind === 'string') throw spaceError(`${s.flag} takes names: use choice:${s.values!.join(',')}`);
  if (s.kind === 'int' && type === 'float')
    throw spaceError(`${s.flag} takes whole numbers: use int:LOW:HIGH or choice:A,B (not ${shown})`);
  if (!Number.isFinite(low) || !Number.isFinite(high))
    throw spaceError(`${s.flag} ${shown}: the bounds must be numbers`);
  if (!(low < high)) throw spaceError(`${s.flag} ${shown}: the range is empty or reversed (low must be below high)`);
  if (log && !(low > 0)) throw spaceError(`${s.flag} ${shown}: a log scale needs a low bound above 0`);
  checkValue(key, low, 'low bound');
  checkValue(key, high, 'high bound');
  return { type, low, high, log };
}

function categorical(key: string, choices: ParamValue[]): Distribution | ParamValue {
  const flag = TUNABLE[key]!.flag;
  if (!choices.length) throw spaceError(`${flag}: choice: needs at least one value`);
  if (new Set(choices.map(String)).size !== choices.length) throw spaceError(`${flag}: choice: lists a value twice`);
  for (const c of choices) checkValue(key, c, 'choice');
  return choices.length === 1 ? choices[0]! : { type: 'categorical', choices };
}

const isDist = (x: Distribution | ParamValue): x is Distribution => typeof x === 'object';

/** Reads a JSON or YAML `--space` file: `{ "learning-rate": "loguniform:1e-5:5e-4", "batch-size": [16, 32] }`. */
export function readSpaceFile(file: string): Record<string, unknown> {
  if (!existsSync(file)) throw new MedtuneError(`--space ${file} does not exist`, 'E_INPUT_NOT_FOUND');
  let raw: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    raw = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch {
    throw spaceError(`--space ${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw spaceError(`--space ${file}: expected an object of parameter: distribution`);
  return raw as Record<string, unknown>;
}

/**
 * The study's space from command-line values (option key → string or number) and a space file. A parameter given
 * in both must be the same; at least one parameter must vary.
 */
export function buildSpace(cli: Record<string, unknown>, file: Record<string, unknown> = {}): SearchSpace {
  const space: SearchSpace = { params: {}, fixed: {} };
  const seen = new Map<string, string>();
  for (const [src, entries] of [
    ['command line', cli],
    ['--space file', file],
  ] as const) {
    for (const [name, spec] of Object.entries(entries)) {
      if (spec === undefined) continue;
      const key = paramKey(name);
      const parsed = parseParam(name, spec);
      const canon = JSON.stringify(parsed);
      const before = seen.get(key);
      if (before !== undefined && before !== canon) {
        throw spaceError(
          `${TUNABLE[key]!.flag} is given on the command line and in the --space file with different values; keep one`,
        );
      }
      seen.set(key, canon);
      if (isDist(parsed)) space.params[key] = parsed;
      else space.fixed[key] = parsed;
      void src;
    }
  }
  if (!Object.keys(space.params).length) {
    throw spaceError(
      'the search space is empty: give at least one option a distribution, e.g. --learning-rate loguniform:1e-5:5e-4',
    );
  }
  return space;
}

/** A stable fingerprint of what varies and how (a study file holds one space). */
export function spaceSignature(space: SearchSpace, extra: Record<string, unknown> = {}): string {
  const sorted = (o: Record<string, unknown>) =>
    Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, o[k]]),
    );
  return createHash('sha256')
    .update(JSON.stringify({ params: sorted(space.params), ...sorted(extra) }))
    .digest('hex')
    .slice(0, 16);
}

/** A short description for logs: `learning-rate loguniform(1e-05, 0.0005), batch-size {16, 32}`. */
export function describeSpace(params: Record<string, Distribution>): string {
  return Object.entries(params)
    .map(([k, d]) => {
      const flag = TUNABLE[k]?.flag.slice(2) ?? k;
      if (d.type === 'categorical') return `${flag} {${d.choices.join(', ')}}`;
      return (
        `${flag} ${d.type === 'int' ? 'int' : d.log ? 'loguniform' : 'uniform'}(${d.low}, ${d.high})` +
        `${d.type === 'int' && d.log ? ' log' : ''}`
      );
    })
    .join(', ');
}

/** Number of distinct points of a distribution, Infinity for continuous ones. */
export function cardinality(d: Distribution): number {
  if (d.type === 'categorical') return d.choices.length;
  if (d.type === 'int') return d.high - d.low + 1;
  return Infinity;
}
