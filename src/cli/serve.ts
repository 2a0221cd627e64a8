/**
 * `medtune serve`: the diagnosis API (src/serve/), and `medtune serve keys add|list|revoke` for its API keys.
 * SIGTERM/SIGINT stop gracefully (no new connections, in-flight requests finish, exit 0); SIGHUP reloads the models.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { createServer, SERVE_DEFAULTS, type ServeOptions } from '../serve/app.js';
import { addKey, listKeys, revokeKey } from '../serve/keys.js';
import { auditSecret } from '../serve/audit.js';
import { interceptSignals } from '../common/cleanup.js';
import { MedtuneError } from '../common/errors.js';
import { checkInputFile } from '../data/readers.js';
import { choice, int, num } from './args.js';

interface ServeCliOptions {
  model: string[];
  keys?: string;
  auth: boolean;
  host: string;
  port: number;
  publicMetrics?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  rateLimit?: number;
  bodyLimit: number;
  maxTexts: number;
  maxChars: number;
  maxBatchTokens: number;
  maxWaitMs: number;
  maxConcurrentRequests: number;
  queueTimeoutMs: number;
  workers: number;
  threads?: number;
  maxLength?: number;
  auditLog?: string;
  auditSecretFile?: string;
  deid?: boolean;
  corsOrigin?: string[];
  ui: boolean;
  precision?: 'fp32' | 'bf16';
  review?: string;
  reviewDb?: string;
  logLevel: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** --model NAME=DIR or --model DIR (named after the folder). */
export function parseModels(specs: string[]): { name: string; dir: string }[] {
  return specs.map((s) => {
    const i = s.indexOf('=');
    if (i > 0 && !s.slice(0, i).includes('/')) return { name: s.slice(0, i), dir: s.slice(i + 1) };
    return { name: path.basename(path.resolve(s)).replace(/[^A-Za-z0-9_.-]/g, '-') || 'model', dir: s };
  });
}

export function optionsFrom(c: ServeCliOptions): ServeOptions {
  if (c.tlsCert) checkInputFile(c.tlsCert, '--tls-cert');
  if (c.tlsKey) checkInputFile(c.tlsKey, '--tls-key');
  return {
    models: parseModels(c.model),
    keys: c.keys,
    auth: c.auth,
    host: c.host,
    port: c.port,
    publicMetrics: c.publicMetrics,
    tls: c.tlsCert || c.tlsKey ? { cert: c.tlsCert ?? '', key: c.tlsKey ?? '' } : undefined,
    rateLimit: c.rateLimit,
    bodyLimit: c.bodyLimit,
    maxTexts: c.maxTexts,
    maxChars: c.maxChars,
    maxBatchTokens: c.maxBatchTokens,
    maxWaitMs: c.maxWaitMs,
    maxConcurrentRequests: c.maxConcurrentRequests,
    queueTimeoutMs: c.queueTimeoutMs,
    workers: c.workers,
    threads: c.threads,
    maxLength: c.maxLength,
    auditLog: c.auditLog,
    auditSecret: c.auditLog ? auditSecret(c.auditSecretFile) : undefined,
    deid: c.deid,
    corsOrigin: c.corsOrigin,
    logLevel: c.logLevel,
    ui: c.ui,
    review: c.review,
    reviewDb: c.reviewDb,
    precision: c.precision,
  };
}

async function runServe(c: ServeCliOptions): Promise<void> {
  const o = optionsFrom(c);
  const server = await createServer(o);
  const scheme = o.tls ? 'https' : 'http';
  const isLoop = o.host === 'localhost' || o.host === '::1' || /^127\./.test(o.host!);
  if (!o.tls && !isLoop) {
    process.stderr.write(
      `medtune: WARNING: serving plain HTTP on ${o.host}: API keys and notes cross the network unencrypted. ` +
        'Use --tls-cert/--tls-key, or a TLS-terminating reverse proxy on the same host.\n',
    );
  }
  let stopping = false;
  interceptSignals((signal) => {
    if (signal === 'SIGHUP') {
      server.reload().then(
        (infos) => server.app.log.info({ models: infos.map((i) => i.identity.version) }, 'models reloaded (SIGHUP)'),
        (e: Error) => server.app.log.error({ err: e }, 'reload failed; still serving the previous models'),
      );
      return;
    }
    if (stopping) return;
    stopping = true;
    server.app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  const address = await server.listen();
  process.stderr.write(
    `medtune: serving ${o.models.map((m) => m.name).join(', ')} on ${address.replace(/^http/, scheme)} ` +
      `(${o.ui !== false ? `UI: ${address}/ , ` : ''}docs: ${address}/docs); loading models…\n`,
  );
  try {
    await server.ready;
  } catch (e) {
    await server.close().catch(() => {});
    throw e;
  }
  process.stderr.write(`medtune: ready (GET /health/ready)\n`);
  await new Promise(() => {}); // serve until a signal
}

export function registerServe(program: Command): void {
  const serve = program
    .command('serve')
    .description('serve model folders behind a secured diagnosis API (POST /v1/diagnose, /docs, /metrics)')
    .option(
      '--model <name=dir>',
      'a model folder to serve, NAME=DIR or DIR (repeatable; the first is the default)',
      collect,
      [],
    )
    .option('--keys <file>', 'API keys file (create with `medtune serve keys add NAME --keys FILE`)')
    .option('--no-auth', 'serve without API keys (only on a loopback --host)')
    .option('--host <host>', 'address to listen on', SERVE_DEFAULTS.host)
    .option('--port <n>', 'port', int('--port', 0, 65535), SERVE_DEFAULTS.port)
    .option('--public-metrics', '/metrics and /docs without a key')
    .option('--tls-cert <file>', 'TLS certificate (PEM)')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--rate-limit <n>', 'requests per minute per key (default: no limit)', int('--rate-limit'))
    .option('--body-limit <bytes>', 'largest request body', int('--body-limit'), SERVE_DEFAULTS.bodyLimit)
    .option('--max-texts <n>', 'texts per request', int('--max-texts'), SERVE_DEFAULTS.maxTexts)
    .option('--max-chars <n>', 'characters per text', int('--max-chars'), SERVE_DEFAULTS.maxChars)
    .option(
      '--max-batch-tokens <n>',
      'token budget of a batch (texts × longest text)',
      int('--max-batch-tokens', 16),
      SERVE_DEFAULTS.maxBatchTokens,
    )
    .option('--max-wait-ms <ms>', 'longest wait for a batch to fill', num('--max-wait-ms'), SERVE_DEFAULTS.maxWaitMs)
    .option(
      '--max-concurrent-requests <n>',
      'requests handled at once; more get 429',
      int('--max-concurrent-requests'),
      SERVE_DEFAULTS.maxConcurrentRequests,
    )
    .option(
      '--queue-timeout-ms <ms>',
      'a request still queued after this gets 503',
      int('--queue-timeout-ms'),
      SERVE_DEFAULTS.queueTimeoutMs,
    )
    .option(
      '--workers <n>',
      'inference worker threads (each loads every model)',
      int('--workers'),
      SERVE_DEFAULTS.workers,
    )
    .option(
      '--threads <n>',
      'engine threads per worker (default: every core with one worker, 1 each with several)',
      int('--threads'),
    )
    .option('--max-length <n>', 'tokens per text (default: 512 or the model maximum)', int('--max-length', 2))
    .option('--audit-log <file>', 'append one JSON line per request (HMAC of inputs, never the text)')
    .option('--audit-secret-file <file>', 'HMAC secret for the audit log (or MEDTUNE_AUDIT_SECRET)')
    .option('--deid', 'de-identify texts before the model sees them')
    .addOption(choice('--precision <p>', 'fp32, or bf16 matrix products (AVX512-BF16 CPUs)', ['fp32', 'bf16']))
    .option('--cors-origin <origin>', 'allow browser calls from this origin (repeatable; default: CORS off)', collect)
    .option('--no-ui', 'do not serve the browser UI at /')
    .option('--review <run-dir>', 'review the misclassified and low-confidence cases of this run folder in the UI')
    .option('--review-db <file>', 'where reviews are stored (default RUN_DIR/reviews.sqlite)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug', SERVE_DEFAULTS.logLevel)
    .action(async (c: ServeCliOptions) => {
      if (!c.model.length) throw new MedtuneError('give at least one --model NAME=DIR (or --model DIR)', 'E_USAGE');
      await runServe(c);
    });
  // `--keys` is also an option of `serve` itself, which takes it wherever it appears: read it from there too
  const keysFile = (cmd: Command): string => {
    const f = (cmd.optsWithGlobals() as { keys?: string }).keys;
    if (!f) throw new MedtuneError('pass --keys FILE (the keys file to change or read)', 'E_USAGE');
    return f;
  };
  const keys = serve.command('keys').description('manage API keys (stored as salted scrypt hashes in a 0600 file)');
  keys
    .command('add <name>')
    .description('create a key; it is printed once')
    .option('--keys <file>', 'keys file')
    .option('--admin', 'may call admin routes (reload)')
    .action((name: string, o: { admin?: boolean }, cmd: Command) => {
      const file = keysFile(cmd);
      const key = addKey(file, name, !!o.admin);
      process.stderr.write(
        `medtune: key "${name}"${o.admin ? ' (admin)' : ''} added to ${file}; it is shown once, store it now:\n`,
      );
      console.log(key);
    });
  keys
    .command('list')
    .description('list keys (names, ids, admin, created, revoked)')
    .option('--keys <file>', 'keys file')
    .action((_o: unknown, cmd: Command) => {
      for (const k of listKeys(keysFile(cmd)))
        console.log(
          `${k.name}\t${k.id}\t${k.admin ? 'admin' : 'user'}\t${k.created}${k.revoked ? `\trevoked ${k.revoked}` : ''}`,
        );
    });
  keys
    .command('revoke <name>')
    .description('revoke a key (running servers notice within a second)')
    .option('--keys <file>', 'keys file')
    .action((name: string, _o: unknown, cmd: Command) => {
      const n = revokeKey(keysFile(cmd), name);
      process.stderr.write(`medtune: revoked ${n} key${n > 1 ? 's' : ''} named ${name}\n`);
    });
}
