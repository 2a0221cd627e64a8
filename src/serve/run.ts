/**
 * The `medtune serve` workflow behind the command line (cli/serve.ts only declares the flags): flags → options, start
 * the server, serve until a signal — SIGTERM/SIGINT stop gracefully (no new connections, in-flight requests finish,
 * exit 0); SIGHUP reloads the models — and the `serve keys add|list|revoke` commands.
 */
import path from 'node:path';
import v8 from 'node:v8';
import { interceptSignals } from '../common/cleanup.js';
import { MedtuneError } from '../common/errors.js';
import { checkInputFile } from '../data/readers.js';
import { createServer, type MedtuneServer } from './app.js';
import { auditSecret } from './audit.js';
import { addKey, listKeys, revokeKey } from './keys.js';
import { isLoopbackHost, type ServeOptions } from './options.js';

/** The flags of `medtune serve`, as commander hands them over. */
export interface ServeFlags extends Omit<ServeOptions, 'models' | 'tls' | 'auditSecret' | 'logStream' | 'driftWindow'> {
  model: string[];
  tlsCert?: string;
  tlsKey?: string;
  auditSecretFile?: string;
}

/** --model NAME=DIR or --model DIR (named after the folder). */
export function parseModels(specs: string[]): { name: string; dir: string }[] {
  return specs.map((s) => {
    const i = s.indexOf('=');
    if (i > 0 && !s.slice(0, i).includes('/')) return { name: s.slice(0, i), dir: s.slice(i + 1) };
    return { name: path.basename(path.resolve(s)).replace(/[^A-Za-z0-9_.-]/g, '-') || 'model', dir: s };
  });
}

/** The server's options from the flags (the TLS files checked, the audit secret read). */
export function optionsFrom(c: ServeFlags): ServeOptions {
  const { model, tlsCert, tlsKey, auditSecretFile, ...rest } = c;
  if (tlsCert) checkInputFile(tlsCert, '--tls-cert');
  if (tlsKey) checkInputFile(tlsKey, '--tls-key');
  return {
    ...rest,
    models: parseModels(model),
    tls: tlsCert || tlsKey ? { cert: tlsCert ?? '', key: tlsKey ?? '' } : undefined,
    auditSecret: c.auditLog ? auditSecret(auditSecretFile) : undefined,
  };
}

/** SIGHUP reloads; the first SIGTERM/SIGINT closes the server and exits (0, or 1 when closing failed). */
function onSignals(server: MedtuneServer): void {
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
}

/**
 * Keeps the heap of a long-running server flat: under steady load, the objects of requests that wait in the queue
 * for a second or two outlive the young generation, and V8's default old-generation growth (up to 4× the live heap
 * between full collections) let the server's memory climb for minutes (measured: 367 → 488 MB in 2 minutes at 200
 * clients). Growing at most 1.5× keeps it level (full collections of a ~20 MB live heap, about every 10 s). A
 * `--heap-growing-percent` of the operator (NODE_OPTIONS) wins.
 */
function levelHeap(): void {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('heap-growing-percent'));
  if (!given) v8.setFlagsFromString('--heap-growing-percent=50');
}

/** `medtune serve`: starts the server and serves until a signal (never returns otherwise). */
export async function runServe(c: ServeFlags): Promise<void> {
  if (!c.model.length) throw new MedtuneError('give at least one --model NAME=DIR (or --model DIR)', 'E_USAGE');
  levelHeap();
  const o = optionsFrom(c);
  const server = await createServer(o);
  const scheme = o.tls ? 'https' : 'http';
  if (!o.tls && !(await isLoopbackHost(o.host!))) {
    process.stderr.write(
      `medtune: WARNING: serving plain HTTP on ${o.host}: API keys and notes cross the network unencrypted. ` +
        'Use --tls-cert/--tls-key, or a TLS-terminating reverse proxy on the same host.\n',
    );
  }
  onSignals(server);
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

/** `medtune serve keys add|list|revoke` (the key is printed once, on stdout; the rest goes to stderr). */
export function runKeys(action: 'add' | 'list' | 'revoke', file: string, name = '', admin = false): void {
  if (action === 'add') {
    const key = addKey(file, name, admin);
    process.stderr.write(
      `medtune: key "${name}"${admin ? ' (admin)' : ''} added to ${file}; it is shown once, store it now:\n`,
    );
    console.log(key);
  } else if (action === 'list') {
    for (const k of listKeys(file))
      console.log(
        `${k.name}\t${k.id}\t${k.admin ? 'admin' : 'user'}\t${k.created}${k.revoked ? `\trevoked ${k.revoked}` : ''}`,
      );
  } else {
    const n = revokeKey(file, name);
    process.stderr.write(`medtune: revoked ${n} key${n > 1 ? 's' : ''} named ${name}\n`);
  }
}
