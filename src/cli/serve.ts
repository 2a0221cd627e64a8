/**
 * `medtune serve`: the diagnosis API, and `medtune serve keys add|list|revoke` for its API keys. The flags; the
 * workflow is serve/run.ts.
 */
import type { Command } from 'commander';
import { CHARS_PER_TOKEN, SERVE_DEFAULTS } from '../serve/options.js';
import { runKeys, runServe, type ServeFlags } from '../serve/run.js';
import { MedtuneError } from '../common/errors.js';
import { choice, int, num } from './args.js';
import { PRECISION_HELP } from './options.js';
import { PRECISIONS } from '../tensor/precision.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

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
    .option('--no-auth', 'serve without API keys (only on a --host that resolves to loopback addresses only)')
    .option('--allow-insecure-keys', 'serve a keys file that group or others may read (refused by default)')
    .option(
      '--max-auth-failures <n>',
      'failed key checks per minute per client address and per key id; then 429 until the minute ends',
      int('--max-auth-failures'),
      SERVE_DEFAULTS.maxAuthFailures,
    )
    .option('--host <host>', 'address to listen on', SERVE_DEFAULTS.host)
    .option('--port <n>', 'port', int('--port', 0, 65535), SERVE_DEFAULTS.port)
    .option('--public-metrics', '/metrics and /docs without a key')
    .option('--tls-cert <file>', 'TLS certificate (PEM)')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--rate-limit <n>', 'requests per minute per key (default: no limit)', int('--rate-limit'))
    .option('--body-limit <bytes>', 'largest request body', int('--body-limit'), SERVE_DEFAULTS.bodyLimit)
    .option('--max-texts <n>', 'texts per request', int('--max-texts'), SERVE_DEFAULTS.maxTexts)
    .option(
      '--max-chars <n>',
      `characters per text (default: ${SERVE_DEFAULTS.maxChars}, or ${CHARS_PER_TOKEN} × --max-document-tokens)`,
      int('--max-chars'),
    )
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
      '--explain-concurrency <n>',
      'explanations computed at once',
      int('--explain-concurrency'),
      SERVE_DEFAULTS.explainConcurrency,
    )
    .option(
      '--explain-queue <n>',
      'explanations waiting at most; more get 429',
      int('--explain-queue', 0),
      SERVE_DEFAULTS.explainQueue,
    )
    .option(
      '--explain-timeout-ms <ms>',
      'an explanation not done after this (waiting included) is cancelled: 503',
      int('--explain-timeout-ms'),
      SERVE_DEFAULTS.explainTimeoutMs,
    )
    .option(
      '--explain-max-steps <n>',
      'integrated-gradients steps per explanation at most',
      int('--explain-max-steps', 2, 256),
      SERVE_DEFAULTS.explainMaxSteps,
    )
    .option(
      '--explain-max-chars <n>',
      'characters of an explained text at most',
      int('--explain-max-chars'),
      SERVE_DEFAULTS.explainMaxChars,
    )
    .option(
      '--headers-timeout-ms <ms>',
      "a request's headers must arrive within this",
      int('--headers-timeout-ms'),
      SERVE_DEFAULTS.headersTimeoutMs,
    )
    .option(
      '--body-timeout-ms <ms>',
      "a request's headers and body must arrive within this (slow senders get 408)",
      int('--body-timeout-ms'),
      SERVE_DEFAULTS.bodyTimeoutMs,
    )
    .option(
      '--idle-timeout-ms <ms>',
      'a keep-alive connection without a request is closed after this',
      int('--idle-timeout-ms'),
      SERVE_DEFAULTS.idleTimeoutMs,
    )
    .option(
      '--max-connections <n>',
      'open connections at most (lowered to fit the file limit, ulimit -n)',
      int('--max-connections'),
      SERVE_DEFAULTS.maxConnections,
    )
    .option(
      '--max-connections-per-client <n>',
      'open connections at most from one client address (default: half of --max-connections)',
      int('--max-connections-per-client'),
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
    .option(
      '--max-document-tokens <n>',
      "models that read long texts in windows read them up to N tokens (default: the model's, else 16384)",
      int('--max-document-tokens', 1),
    )
    .option('--audit-log <file>', 'append one JSON line per request (HMAC of inputs, never the text)')
    .option('--audit-secret-file <file>', 'HMAC secret for the audit log (or MEDTUNE_AUDIT_SECRET)')
    .option('--deid', 'de-identify texts before the model sees them')
    .option('--deid-model <dir>', 'with --deid: a de-identification model (medtune deid train) beside the rules')
    .addOption(choice('--precision <p>', PRECISION_HELP.inference, [...PRECISIONS]))
    .option('--cors-origin <origin>', 'allow browser calls from this origin (repeatable; default: CORS off)', collect)
    .option('--no-ui', 'do not serve the browser UI at /')
    .option('--review <run-dir>', 'review the misclassified and low-confidence cases of this run folder in the UI')
    .option('--review-db <file>', 'where reviews are stored (default RUN_DIR/reviews.sqlite)')
    .option('--registry <dir>', 'a model registry: --model NAME (no =) serves its champion and follows the alias')
    .option(
      '--registry-poll-ms <ms>',
      'how often the registry aliases are checked',
      int('--registry-poll-ms', 50),
      SERVE_DEFAULTS.registryPollMs,
    )
    .option('--shadow <ref>', 'a registry version answering captured cases in shadow (recorded, never returned)')
    .option('--shadow-rate <r>', 'share of captured cases the shadow answers', num('--shadow-rate', { max: 1 }), 1)
    .option('--capture <dir>', 'store served cases, de-identified and encrypted, for review (opt-in)')
    .option('--capture-key-file <file>', 'the capture key: base64 of 32 bytes (or MEDTUNE_CAPTURE_KEY)')
    .option('--capture-rate <r>', 'share of diagnosed texts captured', num('--capture-rate', { max: 1 }), 1)
    .option('--capture-days <n>', 'delete captured records older than this', int('--capture-days', 1), 30)
    .option(
      '--capture-random-share <r>',
      'share of captured cases drawn for the random (unbiased) review sample',
      num('--capture-random-share', { max: 1 }),
      SERVE_DEFAULTS.captureRandomShare,
    )
    .option(
      '--performance-margin <m>',
      'alert when live accuracy is below the validation accuracy by more than this',
      num('--performance-margin', { max: 1 }),
      SERVE_DEFAULTS.performanceMargin,
    )
    .option('--log-level <level>', 'fatal, error, warn, info, debug', SERVE_DEFAULTS.logLevel)
    .action(async (c: ServeFlags) => {
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
    .action((name: string, o: { admin?: boolean }, cmd: Command) => runKeys('add', keysFile(cmd), name, !!o.admin));
  keys
    .command('list')
    .description('list keys (names, ids, admin, created, revoked)')
    .option('--keys <file>', 'keys file')
    .action((_o: unknown, cmd: Command) => runKeys('list', keysFile(cmd)));
  keys
    .command('revoke <name>')
    .description('revoke a key (running servers notice within a second)')
    .option('--keys <file>', 'keys file')
    .action((name: string, _o: unknown, cmd: Command) => runKeys('revoke', keysFile(cmd), name));
}
