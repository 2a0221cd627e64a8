/** Option parsers shared by the commands: a bad number is an error that names the option. */
import { MedtuneError } from '../common/errors.js';

/** A finite number ≥ min. */
export const num = (name: string, min = 0) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min) throw new MedtuneError(`${name} must be a number ≥ ${min}, got "${v}"`, 'E_USAGE');
  return n;
};

/** An integer ≥ min (default: a positive integer). */
export const int = (name: string, min = 1) => (v: string): number => {
  const n = num(name, min)(v);
  if (!Number.isInteger(n)) throw new MedtuneError(`${name} must be an integer, got "${v}"`, 'E_USAGE');
  return n;
};
