/**
 * API keys: `mt_<id>_<secret>` handed out once; the keys file (JSON, mode 0600) keeps only a salted scrypt hash per
 * key. A request's key is found by its id and checked with a constant-time comparison; a verified key is cached by
 * its SHA-256 so that scrypt (slow on purpose) runs once per key per process, not once per request. The server
 * re-reads the file when it changes, so `keys revoke` takes effect without a restart.
 */
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { MedtuneError } from '../common/errors.js';
import { writeFileAtomic } from '../common/atomic.js';

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

/** The server's view of the keys file: verification with a cache, reloaded when the file changes. */
export class KeyStore {
  private byId = new Map<string, KeyRecord>();
  private verified = new Map<string, Principal>();
  private mtimeMs = -1;
  private checkedAt = 0;

  constructor(readonly file: string) {
    if (!existsSync(file))
      throw new MedtuneError(
        `the keys file ${file} does not exist; create a key with \`medtune serve keys add NAME --keys ${file}\``,
        'E_INPUT_NOT_FOUND',
      );
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

  reload(): void {
    const f = readKeyFile(this.file);
    this.byId = new Map(f.keys.filter((k) => !k.revoked).map((k) => [k.id, k]));
    this.verified.clear();
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

  /** The key's owner, or null for a missing, malformed, wrong or revoked key. */
  verify(token: string | undefined): Principal | null {
    this.refresh();
    if (!token) return null;
    const digest = createHash('sha256').update(token).digest('hex');
    const hit = this.verified.get(digest);
    if (hit) return hit;
    const m = /^mt_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/.exec(token);
    const rec = m ? this.byId.get(m[1]!) : undefined;
    // Unknown ids are refused without scrypt (random ids: knowing one exists gives nothing, and a flood of made-up
    // keys must not burn CPU); the secret of a known id is compared in constant time.
    if (!m || !rec) return null;
    if (!timingSafeEqual(Buffer.from(rec.hash, 'hex'), Buffer.from(hashOf(m[2]!, rec.salt), 'hex'))) return null;
    const p = { name: rec.name, admin: rec.admin };
    this.verified.set(digest, p);
    return p;
  }
}
