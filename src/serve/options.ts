/** The options of `medtune serve` (flags map one to one), their defaults, and the checks that need no model. */
import os from 'node:os';
import { MedtuneError, type ErrorCode } from '../common/errors.js';
import { parsePrecision } from '../tensor/precision.js';

export interface ServeOptions {
  /** served models; the first is the default of /v1/diagnose and /diagnose */
  models: { name: string; dir: string }[];
  /** the API keys file (see `medtune serve keys`); required unless auth is off */
  keys?: string;
  /** false: no API keys (only on a loopback host) */
  auth?: boolean;
  host?: string;
  port?: number;
  /** /metrics and /docs without a key */
  publicMetrics?: boolean;
  tls?: { cert: string; key: string };
  /** requests per minute per key (default: no limit) */
  rateLimit?: number;
  bodyLimit?: number;
  maxTexts?: number;
  maxChars?: number;
  maxBatchTokens?: number;
  maxWaitMs?: number;
  maxConcurrentRequests?: number;
  queueTimeoutMs?: number;
  workers?: number;
  /** engine threads per worker (default: every core with one worker, 1 each with several) */
  threads?: number;
  maxLength?: number;
  auditLog?: string;
  auditSecret?: string;
  /** de-identify texts before the model sees them */
  deid?: boolean;
  /** with deid: a de-identification model (`medtune deid train`) beside the rules, in every worker */
  deidModel?: string;
  /** fp32 (default) or bf16 matrix products in the workers (AVX512-BF16 CPUs) */
  precision?: 'fp32' | 'bf16';
  corsOrigin?: string[];
  /** the browser UI at / (default true) */
  ui?: boolean;
  /** a run folder whose cases the UI's review page shows */
  review?: string;
  /** the review database (default REVIEW/reviews.sqlite) */
  reviewDb?: string;
  logLevel?: string;
  /** where JSON logs go (default stdout) */
  logStream?: NodeJS.WritableStream;
  driftWindow?: number;
}

export type ResolvedServeOptions = ServeOptions & typeof SERVE_DEFAULTS;

export const SERVE_DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  bodyLimit: 1 << 20,
  maxTexts: 64,
  maxChars: 20000,
  maxBatchTokens: 8192,
  maxWaitMs: 5,
  maxConcurrentRequests: 512,
  queueTimeoutMs: 30000,
  workers: 1,
  logLevel: 'info',
  driftWindow: 1000,
};

export const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host);
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const fail = (code: ErrorCode, msg: string) => new MedtuneError(msg, code);

const CORES = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
/** Engine threads per worker: all cores for one worker; one each for several (the native pool is per process). */
export const threadsOf = (o: { threads?: number; workers: number }) => o.threads ?? (o.workers > 1 ? 1 : CORES);

/** Checks the options that need no model: names, auth, limits, threads. */
function checkOptions(o: ResolvedServeOptions): void {
  if (!o.models.length) throw fail('E_USAGE', 'give at least one --model NAME=DIR (or --model DIR)');
  const names = new Set<string>();
  for (const m of o.models) {
    if (!MODEL_NAME.test(m.name))
      throw fail('E_USAGE', `model name "${m.name}" must be 1-64 letters, digits or _.- (--model NAME=DIR)`);
    if (names.has(m.name)) throw fail('E_USAGE', `model name ${m.name} is given twice`);
    names.add(m.name);
  }
  if (o.auth === false && !isLoopback(o.host)) {
    throw fail(
      'E_USAGE',
      `--no-auth is only allowed on a loopback address (127.0.0.1, ::1); ${o.host} is reachable from other machines: ` +
        'create a key with `medtune serve keys add`',
    );
  }
  if (o.auth !== false && !o.keys)
    throw fail(
      'E_USAGE',
      'serving needs API keys: pass --keys FILE (create one with `medtune serve keys add NAME --keys FILE`), ' +
        'or --no-auth on a loopback address',
    );
  const threads = threadsOf(o);
  if (o.workers * threads > CORES)
    throw fail(
      'E_USAGE',
      `--workers ${o.workers} × --threads ${threads} is more than the ${CORES} cores of this machine; ` +
        'lower one of them',
    );
  // The native engine's thread pool is one per process: with several workers, each computes on its own thread.
  if (o.workers > 1 && threads > 1)
    throw fail(
      'E_USAGE',
      `with --workers ${o.workers}, each worker uses one engine thread (--threads 1); ` +
        'for more threads per model, run one worker per process and more processes',
    );
  if (!!o.tls?.cert !== !!o.tls?.key) throw fail('E_USAGE', '--tls-cert and --tls-key go together');
  if (o.precision) parsePrecision(o.precision, '--precision'); // bf16 on a CPU without it: refused at start
}

/** The options with their defaults, checked (names, auth, limits, threads, TLS, precision). */
export function resolveOptions(options: ServeOptions): ResolvedServeOptions {
  const o = {
    ...SERVE_DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as ResolvedServeOptions;
  checkOptions(o);
  return o;
}
