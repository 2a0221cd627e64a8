/**
 * The options of `medtune serve` (flags map one to one), their defaults, the checks that need no model, the one
 * check that a `--no-auth` host is loopback (resolved), and the connection cap under the process's file limit.
 */
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import { MedtuneError, type ErrorCode } from '../common/errors.js';
import { parsePrecision, type Precision } from '../tensor/precision.js';
import { DEFAULT_MAX_DOCUMENT_TOKENS } from '../text/windows.js';

export interface ServeOptions {
  /**
   * served models; the first is the default of /v1/diagnose and /diagnose. `registry`: the name of a registry entry
   * (--registry): its champion is served, and followed when the alias moves
   */
  models: { name: string; dir: string; registry?: boolean }[];
  /** the model registry (registry/registry.ts) that --model NAME entries name */
  registry?: string;
  /** how often the registry's aliases are checked (ms) */
  registryPollMs?: number;
  /** a registry version answering a share of captured cases in shadow: NAME@VERSION (or NAME@challenger) */
  shadow?: string;
  /** the share of captured cases the shadow model answers, in [0, 1] */
  shadowRate?: number;
  /** the capture folder of served cases (serve/capture.ts); needs captureKey */
  capture?: string;
  /** AES-256 key of the capture store (32 bytes; from --capture-key-file or MEDTUNE_CAPTURE_KEY) */
  captureKey?: Buffer;
  /** share of diagnosed texts captured, in [0, 1] */
  captureRate?: number;
  /** captured records older than this many days are deleted */
  captureDays?: number;
  /** share of captured cases drawn for the random review sample */
  captureRandomShare?: number;
  /** the live-performance alert: below the validation accuracy by more than this */
  performanceMargin?: number;
  /** the API keys file (see `medtune serve keys`); required unless auth is off */
  keys?: string;
  /** serve a keys file that group or others may read (refused by default) */
  allowInsecureKeys?: boolean;
  /** failed key checks per minute per client address and per key id before E_AUTH_THROTTLED */
  maxAuthFailures?: number;
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
  /** characters per text (default: what --max-document-tokens holds, CHARS_PER_TOKEN per token) */
  maxChars?: number;
  /** models that read long texts in windows read them up to this many tokens (default: the model's, else 16,384) */
  maxDocumentTokens?: number;
  maxBatchTokens?: number;
  maxWaitMs?: number;
  maxConcurrentRequests?: number;
  queueTimeoutMs?: number;
  /** explanations computed at once, waiting at most, their deadline (wait + work), steps and characters */
  explainConcurrency?: number;
  explainQueue?: number;
  explainTimeoutMs?: number;
  explainMaxSteps?: number;
  explainMaxChars?: number;
  /** a request's headers must have arrived within this (ms) */
  headersTimeoutMs?: number;
  /** a request's headers and body must have arrived within this (ms) */
  bodyTimeoutMs?: number;
  /** a keep-alive connection without a request is closed after this (ms) */
  idleTimeoutMs?: number;
  /** open connections at most (kept below the process's file limit) */
  maxConnections?: number;
  /** open connections at most from one client address (default: half the connection cap) */
  maxConnectionsPerClient?: number;
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
  precision?: Precision;
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

export type ResolvedServeOptions = ServeOptions &
  typeof SERVE_DEFAULTS & {
    /** the soft limit on open files read at start (null where it cannot be read) */
    fileLimit: number | null;
  };

/** Characters per token the default --max-chars allows (clinical English runs 4–5; 6 leaves room). */
export const CHARS_PER_TOKEN = 6;

export const SERVE_DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  bodyLimit: 1 << 20,
  maxTexts: 64,
  maxChars: CHARS_PER_TOKEN * DEFAULT_MAX_DOCUMENT_TOKENS,
  maxBatchTokens: 8192,
  maxWaitMs: 5,
  maxConcurrentRequests: 512,
  queueTimeoutMs: 30000,
  maxAuthFailures: 10,
  explainConcurrency: 1,
  explainQueue: 16,
  explainTimeoutMs: 60000,
  explainMaxSteps: 64,
  explainMaxChars: 10000,
  headersTimeoutMs: 10000,
  bodyTimeoutMs: 30000,
  idleTimeoutMs: 72000,
  maxConnections: 4096,
  workers: 1,
  logLevel: 'info',
  driftWindow: 1000,
  registryPollMs: 1000,
  shadowRate: 1,
  captureRate: 1,
  captureDays: 30,
  captureRandomShare: 0.2,
  performanceMargin: 0.05,
};

/** A literal IP address of the loopback interface (127.0.0.0/8, ::1, or IPv4-mapped 127.x). */
export const isLoopbackAddress = (a: string) =>
  (isIP(a) === 4 && a.startsWith('127.')) || a === '::1' || (isIP(a) === 6 && /^::ffff:127\./i.test(a));

/**
 * Whether `host` (a name or an address) resolves to loopback addresses only: the one check behind `--no-auth` and
 * the plain-HTTP warning. A name that does not resolve is a usage error.
 */
export async function isLoopbackHost(host: string): Promise<boolean> {
  if (isIP(host)) return isLoopbackAddress(host);
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host, { all: true });
  } catch {
    throw fail('E_USAGE', `--host ${host} does not resolve to an address of this machine; give an IP address`);
  }
  return addresses.length > 0 && addresses.every((a) => isLoopbackAddress(a.address));
}

/** Refuses `--no-auth` unless the host resolves to loopback addresses only. */
export async function checkBinding(o: ResolvedServeOptions): Promise<void> {
  if (o.auth === false && !(await isLoopbackHost(o.host)))
    throw fail(
      'E_USAGE',
      `--no-auth is only allowed on a loopback address (127.0.0.1, ::1); ${o.host} is reachable from other machines: ` +
        'create a key with `medtune serve keys add`',
    );
}

/** The soft limit on open files of this process (Linux: /proc/self/limits), or null. */
export function fileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : null;
  } catch {
    return null; // not Linux: no cap from the file limit
  }
}

/** The connection cap: --max-connections, kept below the file limit (an eighth, at least 64, stays for files). */
export function connectionCap(o: { maxConnections: number; fileLimit: number | null }): number {
  if (o.fileLimit === null) return o.maxConnections;
  const reserve = Math.max(64, Math.ceil(o.fileLimit / 8));
  return Math.max(1, Math.min(o.maxConnections, o.fileLimit - reserve));
}
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
  if (o.headersTimeoutMs > o.bodyTimeoutMs)
    throw fail('E_USAGE', '--headers-timeout-ms may not be longer than --body-timeout-ms (which includes the headers)');
  if (o.explainMaxSteps < 2) throw fail('E_USAGE', '--explain-max-steps must be at least 2');
  checkLoopOptions(o);
}

/** Registry, capture and shadow: what goes with what, and the shares in [0, 1]. */
function checkLoopOptions(o: ResolvedServeOptions): void {
  if (o.models.some((m) => m.registry) && !o.registry)
    throw fail('E_USAGE', 'a --model without NAME=DIR names a registry entry: pass --registry DIR');
  if (o.shadow && (!o.registry || !o.capture))
    throw fail('E_USAGE', '--shadow needs --registry (where the version is) and --capture (where its answers go)');
  if (o.capture && !o.captureKey)
    throw fail('E_CAPTURE', '--capture needs a key: MEDTUNE_CAPTURE_KEY or --capture-key-file');
  for (const [flag, v] of [
    ['--capture-rate', o.captureRate],
    ['--shadow-rate', o.shadowRate],
    ['--capture-random-share', o.captureRandomShare],
  ] as const)
    if (!(v >= 0 && v <= 1)) throw fail('E_USAGE', `${flag} must be between 0 and 1`);
  if (!(o.captureDays >= 1)) throw fail('E_USAGE', '--capture-days must be at least 1');
}

/** The options with their defaults, checked (names, auth, limits, threads, TLS, precision). */
export function resolveOptions(options: ServeOptions): ResolvedServeOptions {
  const o = {
    ...SERVE_DEFAULTS,
    ...(options.maxDocumentTokens ? { maxChars: CHARS_PER_TOKEN * options.maxDocumentTokens } : {}),
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    fileLimit: fileLimit(),
  } as ResolvedServeOptions;
  checkOptions(o);
  return o;
}
