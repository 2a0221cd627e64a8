/**
 * Option parsers and checks shared by the commands: a bad value is a usage error (exit 2) that names the option
 * and the range it takes, raised while the command line is parsed — before any model or data is loaded.
 */
import { Option, type Command } from 'commander';
import { MedtuneError } from '../common/errors.js';

const usage = (msg: string) => new MedtuneError(msg, 'E_USAGE');

interface Range {
  min?: number;
  max?: number;
  /** the upper bound itself is not allowed */
  below?: number;
  /** the lower bound itself is not allowed */
  above?: number;
}

function rangeText(r: Range): string {
  const lo = r.above !== undefined ? `> ${r.above}` : r.min !== undefined ? `≥ ${r.min}` : '';
  const hi = r.below !== undefined ? `< ${r.below}` : r.max !== undefined ? `≤ ${r.max}` : '';
  return [lo, hi].filter(Boolean).join(' and ');
}

/** A finite number in a range (default: ≥ 0). */
export const num =
  (name: string, min: number | Range = 0) =>
  (v: string): number => {
    const r: Range = typeof min === 'number' ? { min } : min;
    const n = Number(v);
    const ok =
      v.trim() !== '' &&
      Number.isFinite(n) &&
      (r.min === undefined || n >= r.min) &&
      (r.above === undefined || n > r.above) &&
      (r.max === undefined || n <= r.max) &&
      (r.below === undefined || n < r.below);
    if (!ok) throw usage(`${name} must be a number ${rangeText(r)}, got "${v}"`);
    return n;
  };

/** An integer ≥ min (default: a positive integer). */
export const int =
  (name: string, min = 1, max?: number) =>
  (v: string): number => {
    const n = num(name, { min, ...(max !== undefined ? { max } : {}) })(v);
    if (!Number.isInteger(n)) throw usage(`${name} must be an integer, got "${v}"`);
    return n;
  };

/** A probability in [0, 1]. */
export const prob = (name: string) => num(name, { min: 0, max: 1 });

/** An option whose value is one of a fixed list (commander's message names the choices). */
export function choice(flags: string, description: string, choices: readonly string[], dflt?: string): Option {
  const o = new Option(flags, description).choices(choices);
  return dflt === undefined ? o : o.default(dflt);
}

/** A value the user typed on the command line (as opposed to a default). */
export function fromCli(cmd: { getOptionValueSource(key: string): string | undefined }, key: string): boolean {
  return cmd.getOptionValueSource(key) === 'cli';
}

/** A repeatable option's values (commander: `--audit-column sex --audit-column age_band`). */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** The command line as typed (`medtune train ...`), for run.json. */
export function commandLineOf(cmd: Command): string[] {
  let root: Command = cmd;
  while (root.parent) root = root.parent;
  const raw = (root as unknown as { rawArgs?: string[] }).rawArgs ?? [];
  return ['medtune', ...raw.slice(2)];
}
