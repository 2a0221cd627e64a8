/**
 * API keys: `mt_<id>_<secret>` handed out once; the keys file (JSON, mode 0600, refused when group or others may
 * read it) keeps only a salted scrypt hash per key. Checking a key costs an attacker's target nothing: scrypt (slow
 * on purpose) runs off the event loop (libuv's pool, one at a time), only after the failures of the client address
 * and of the key id are under --max-auth-failures per minute, and for an unknown id exactly as for a known one
 * (against a decoy hash), so that neither the time nor the answer tells them apart. A verified key is cached (by id,
 * bounded) as an HMAC of the whole key under a per-process secret, compared in constant time, so that a client pays
 * scrypt once. The server re-reads the file when it changes, so `keys revoke` takes effect without a restart.
 */
import { createHmac, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { MedtuneError } from '../common/errors.js';
import { writeFileAtomic } from '../common/atomic.js';
import { FailureLimiter, Lane } from './limits.js';

export interface KeyRecord {
  name: string;
  id: string;
  admin: boolean;
  salt: string;
  /** scrypt(secret, salt) in hex */
  hash: string;
  created: string;
  revoked?: string;
}

interface KeyFile {
  version: 1;
  keys: KeyRecord[];
}

const SCRYPT = { N: 16384, r: 8, p: 1 };
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

const hashOf = (secret: string, salt: string) =>
  scryptSync(secret, Buffer.from(salt, 'hex'), 32, SCRYPT).toString('hex');

export function readKeyFile(file: string): KeyFile {
  if (!existsSync(file)) return { version: 1, keys: [] };
  if (statSync(file).isDirectory())
    throw new MedtuneError(
      `the keys file ${file} is a folder; give the keys file (e.g. keys.json)`,
      'E_INPUT_NOT_FOUND',
    );
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new MedtuneError(
      `the keys file ${file} is not valid JSON; restore it or create a new one with \`medtune serve keys add\``,
      'E_INPUT_PARSE',
    );
  }
  const f = raw as KeyFile;
  if (!f || f.version !== 1 || !Array.isArray(f.keys))
    throw new MedtuneError(`${file} is not a medtune keys file`, 'E_INPUT_PARSE');
  return f;
}

function writeKeyFile(file: string, f: KeyFile): void {
  writeFileAtomic(file, JSON.stringify(f, null, 2) + '\n');
  chmodSync(file, 0o600);
}

/** Adds a key; returns the key itself (shown once, never stored). */
export function addKey(file: string, name: string, admin = false): string {
  if (!NAME.test(name))
    throw new MedtuneError(
      `key name "${name}" must be 1-64 letters, digits or _.@- (e.g. the client's name)`,
      'E_USAGE',
    );
  const f = readKeyFile(file);
  if (f.keys.some((k) => k.name === name && !k.revoked))
    throw new MedtuneError(`a key named ${name} exists; revoke it first or choose another name`, 'E_USAGE');
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  const salt = randomBytes(16).toString('hex');
  f.keys.push({ name, id, admin, salt, hash: hashOf(secret, salt), created: new Date().toISOString() });
  writeKeyFile(file, f);
  return `mt_${id}_${secret}`;
}

export function revokeKey(file: string, name: string): number {
  const f = readKeyFile(file);
  const live = f.keys.filter((k) => k.name === name && !k.revoked);
  if (!live.length) throw new MedtuneError(`no active key named ${name} in ${file}`, 'E_USAGE');
  for (const k of live) k.revoked = new Date().toISOString();
  writeKeyFile(file, f);
  return live.length;
}

export function listKeys(file: string): Omit<KeyRecord, 'salt' | 'hash'>[] {
  if (!existsSync(file))
    throw new MedtuneError(
      `the keys file ${file} does not exist; create it with \`medtune serve keys add --keys ${file}\``,
      'E_INPUT_NOT_FOUND',
    );
  return readKeyFile(file).keys.map(({ name, id, admin, created, revoked }) => ({
    name,
    id,
    admin,
    created,
    ...(revoked ? { revoked } : {}),
  }));
}

export interface Principal {
  name: string;
  admin: boolean;
}

/** The outcome of a key check: its owner, or why not (the same `invalid` for every wrong, unknown or revoked key). */
export type KeyCheck =
  { principal: Principal } | { refused: 'invalid' } | { refused: 'throttled'; retryAfterS: number };

const TOKEN = /^mt_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/;
/** verified keys kept (an entry per key id of the file: the bound only matters for huge files) */
const CACHE_MAX = 1024;

const hashAsync = (secret: string, salt: string) =>
  new Promise<Buffer>((res, rej) =>
    scrypt(secret, Buffer.from(salt, 'hex'), 32, SCRYPT, (e, k) => (e ? rej(e) : res(k))),
  );

/** Refuses a keys file that group or others may read or write (POSIX modes only). */
export function checkKeyFileMode(file: string, allowInsecure = false): void {
  if (allowInsecure || process.platform === 'win32') return;
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077)
    throw new MedtuneError(
      `the keys file ${file} can be read by group or others (mode ${mode.toString(8)}): run \`chmod 600 ${file}\` ` +
        "(in Docker, give the file to the container's user; see docs/serving.md), or pass --allow-insecure-keys",
      'E_KEYS_PERMISSIONS',
    );
}

/** The server's view of the keys file: verification with a cache, reloaded when the file changes. */
export class KeyStore {
  private byId = new Map<string, KeyRecord>();
  /** verified keys by id: HMAC of the whole key under `cacheSecret`, and its owner (least recently used first) */
  private verified = new Map<string, { mac: Buffer; principal: Principal }>();
  private readonly cacheSecret = randomBytes(32);
  /** what an unknown id is checked against, so that it costs what a known id costs */
  private readonly decoy: KeyRecord;
  private readonly failures: FailureLimiter;
  /** scrypt runs one at a time: a core stays free for the event loop (libuv's pool also serves files) */
  private readonly hashing = new Lane('key check', { concurrency: 1, queue: 64, timeoutMs: 10_000 });
  /** key checks in progress, by the key's HMAC: concurrent requests with one key share its scrypt */
  private checking = new Map<string, Promise<KeyCheck>>();
  private mtimeMs = -1;
  private checkedAt = 0;

  constructor(
    readonly file: string,
    o: { allowInsecure?: boolean; maxFailures?: number } = {},
  ) {
    if (!existsSync(file))
      throw new MedtuneError(
        `the keys file ${file} does not exist; create a key with \`medtune serve keys add NAME --keys ${file}\``,
        'E_INPUT_NOT_FOUND',
      );
    checkKeyFileMode(file, o.allowInsecure);
    this.failures = new FailureLimiter(o.maxFailures ?? 10, 60_000);
    const salt = randomBytes(16).toString('hex');
    this.decoy = { name: '', id: '', admin: false, salt, hash: randomBytes(32).toString('hex'), created: '' };
    this.reload();
    if (![...this.byId.values()].length)
      throw new MedtuneError(
        `${file} has no active key; add one with \`medtune serve keys add NAME --keys ${file}\``,
        'E_USAGE',
      );
  }

  get active(): number {
    return this.byId.size;
  }

  /** Reads the file again; verified keys stay verified while their record is unchanged (revoked ones do not). */
  reload(): void {
    const f = readKeyFile(this.file);
    const before = this.byId;
    this.byId = new Map(f.keys.filter((k) => !k.revoked).map((k) => [k.id, k]));
    const same = (a?: KeyRecord, b?: KeyRecord) =>
      !!a && !!b && a.hash === b.hash && a.admin === b.admin && a.name === b.name;
    for (const id of this.verified.keys()) if (!same(before.get(id), this.byId.get(id))) this.verified.delete(id);
    this.mtimeMs = statSync(this.file).mtimeMs;
  }

  /** Re-reads the file at most once a second, when it changed (revocations take effect without a restart). */
  private refresh(): void {
    const now = Date.now();
    if (now - this.checkedAt < 1000) return;
    this.checkedAt = now;
    try {
      if (statSync(this.file).mtimeMs !== this.mtimeMs) this.reload();
    } catch {
      this.byId.clear(); // the file is gone: no key is valid
      this.verified.clear();
    }
  }

  private cached(id: string, mac: Buffer): Principal | null {
    const hit = this.verified.get(id);
    if (!hit || !timingSafeEqual(hit.mac, mac)) return null;
    this.verified.delete(id); // most recently used last
    this.verified.set(id, hit);
    return hit.principal;
  }

  private remember(id: string, mac: Buffer, principal: Principal): void {
    this.verified.set(id, { mac, principal });
    if (this.verified.size > CACHE_MAX) this.verified.delete(this.verified.keys().next().value!);
  }

  /**
   * Checks a key sent by `client` (its address): its owner; `invalid` for a missing, malformed, wrong, unknown or
   * revoked key; `throttled` while the client or the key id is over its failures (nothing is hashed then).
   */
  async verify(token: string | undefined, client: string): Promise<KeyCheck> {
    this.refresh();
    const m = token ? TOKEN.exec(token) : null;
    if (!m) return { refused: 'invalid' }; // the format is public: refusing it at once tells nothing
    const id = m[1]!;
    const mac = createHmac('sha256', this.cacheSecret).update(token!).digest();
    const known = this.cached(id, mac);
    if (known) return { principal: known };
    const running = this.checking.get(mac.toString('hex'));
    if (running) return running;
    const check = this.check(id, m[2]!, mac, client);
    this.checking.set(mac.toString('hex'), check);
    return check.finally(() => this.checking.delete(mac.toString('hex')));
  }

  /** The slow part of a key check: the failure limits, then scrypt against the key's hash (or the decoy's). */
  private async check(id: string, secret: string, mac: Buffer, client: string): Promise<KeyCheck> {
    const wait = Math.max(this.failures.retryAfterS(`a:${client}`), this.failures.retryAfterS(`i:${id}`));
    if (wait > 0) return { refused: 'throttled', retryAfterS: wait };
    // every attempt counts as a failure until it has succeeded: attempts in flight are limited too
    const keys = [`a:${client}`, `i:${id}`];
    for (const k of keys) this.failures.fail(k);
    const rec = this.byId.get(id) ?? this.decoy;
    let hash: Buffer;
    try {
      const release = await this.hashing.acquire();
      hash = await hashAsync(secret, rec.salt).finally(release);
    } catch {
      return { refused: 'throttled', retryAfterS: 1 }; // more key checks waiting than the server takes
    }
    const ok = timingSafeEqual(Buffer.from(rec.hash, 'hex'), hash) && rec !== this.decoy;
    if (ok && this.byId.get(id) === rec) {
      for (const k of keys) this.failures.forgive(k);
      const principal = { name: rec.name, admin: rec.admin };
      this.remember(id, mac, principal);
      return { principal };
    }
    return { refused: 'invalid' };
  }
}
