/** The options of `medtune serve` (flags map one to one) and their defaults. */

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
