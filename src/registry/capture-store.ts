/**
 * The capture store of served cases (`medtune serve --capture DIR`): an append-only, encrypted folder of records —
 * the served cases (de-identified text, model version, decision), the shadow model's answers, and the reviews of
 * the cases — read back by the review routes, the live-performance route, `medtune models export` and `compare`.
 *
 *   DIR/key-check           a known token under the key: a wrong key is refused before anything is written
 *   DIR/YYYY-MM-DD.mtcap    the records of one UTC day, one line each: base64(iv ‖ tag ‖ AES-256-GCM ciphertext)
 *
 * Every record is encrypted on its own (a fresh 12-byte IV, the GCM tag authenticates it), so a damaged line is
 * reported and skipped while the rest stays readable. Writes are grouped: the lines pending are written at the end
 * of the day's file and fsynced before their promises resolve, so a record that was acknowledged survives a kill -9;
 * a failed write (disk full) is cut back to the last committed byte. Files are 0600, the folder 0700. The key is
 * base64 of 32 bytes, from a file or MEDTUNE_CAPTURE_KEY — never a command-line value, never logged.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  fstatSync,
  fsync,
  ftruncate,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { appendAll, makeDirs, writeFileAtomic } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';

export const CAPTURE_KEY_ENV = 'MEDTUNE_CAPTURE_KEY';
const KEY_CHECK = 'key-check';
const KEY_TOKEN = 'medtune capture key check v1';
const AAD = Buffer.from('medtune-capture-v1');
const FILE_RE = /^(\d{4}-\d{2}-\d{2})\.mtcap$/;
const DAY_MS = 86_400_000;

export interface CapturedDecision {
  label: string | string[];
  score: number;
  probabilities: Record<string, number>;
  abstain: boolean;
  abstain_reason: string | null;
  in_scope: boolean;
  ood_score: number | null;
}

export interface ModelStamp {
  name: string;
  version: string;
  sha256: string;
}

/** A served case: the de-identified text and the answer it got. */
export interface CaseRecord {
  kind: 'case';
  id: number;
  time: string;
  model: ModelStamp;
  /** the API key's name (null without keys) */
  key: string | null;
  /** de-identified (PHI replaced by tags), whatever the server's --deid */
  text: string;
  deid_entities: number;
  decision: CapturedDecision;
  /** drawn for the random review sample (its reviews estimate live performance without bias) */
  random: boolean;
}

/** The answer of the shadow model to a captured case (recorded, never returned). */
export interface ShadowRecord {
  kind: 'shadow';
  case_id: number;
  time: string;
  model: ModelStamp;
  decision: CapturedDecision;
}

export type ServedVerdict = 'model' | 'other' | 'unclear';
export const SERVED_VERDICTS: ServedVerdict[] = ['model', 'other', 'unclear'];

/** A reviewer's outcome for a served case. */
export interface ReviewRecord {
  kind: 'review';
  id: number;
  case_id: number;
  reviewer: string;
  verdict: ServedVerdict;
  /** the true outcome: the model's label (verdict model), the one chosen (other), null (unclear) */
  label: string | null;
  comment: string | null;
  time: string;
}

/** A review taken back by its reviewer. */
export interface UndoRecord {
  kind: 'undo';
  review_id: number;
  reviewer: string;
  time: string;
}

export type CaptureRecord = CaseRecord | ShadowRecord | ReviewRecord | UndoRecord;

export interface CorruptRecord {
  file: string;
  line: number;
}

const captureError = (msg: string) => new MedtuneError(msg, 'E_CAPTURE');

/**
 * The capture key: the first line of `file`, else MEDTUNE_CAPTURE_KEY; base64 of exactly 32 bytes. The message
 * never repeats the value.
 */
export function captureKey(file?: string): Buffer {
  let raw = process.env[CAPTURE_KEY_ENV];
  let from = CAPTURE_KEY_ENV;
  if (file) {
    if (!existsSync(file) || statSync(file).isDirectory())
      throw captureError(`--capture-key-file ${file} does not exist`);
    raw = readFileSync(file, 'utf8').split('\n')[0]!.trim();
    from = `--capture-key-file ${file}`;
  }
  if (!raw)
    throw captureError(
      `capture needs a key: set ${CAPTURE_KEY_ENV} or pass --capture-key-file FILE ` +
        '(base64 of 32 random bytes: openssl rand -base64 32)',
    );
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(raw.trim()) ? Buffer.from(raw.trim(), 'base64') : Buffer.alloc(0);
  if (key.length !== 32)
    throw captureError(`the capture key in ${from} must be base64 of 32 bytes (openssl rand -base64 32)`);
  return key;
}

export function seal(key: Buffer, plain: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(AAD);
  const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64');
}

/** The plaintext of a sealed line; null when it is damaged or sealed under another key. */
export function open(key: Buffer, line: string): string | null {
  try {
    const buf = Buffer.from(line, 'base64');
    if (buf.length < 29) return null;
    const d = createDecipheriv('aes-256-gcm', key, buf.subarray(0, 12));
    d.setAAD(AAD);
    d.setAuthTag(buf.subarray(12, 28));
    return Buffer.concat([d.update(buf.subarray(28)), d.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/** Checks the key against the folder's key-check (written on first use); E_CAPTURE for another key. */
export function checkKey(dir: string, key: Buffer, o: { create: boolean }): void {
  const file = path.join(dir, KEY_CHECK);
  if (!existsSync(file)) {
    if (!o.create) {
      if (!existsSync(dir)) throw captureError(`the capture folder ${dir} does not exist`);
      throw captureError(`${dir} is not a capture folder (no key-check file)`);
    }
    makeDirs(dir, '--capture folder');
    chmodSync(dir, 0o700);
    writeFileAtomic(file, seal(key, KEY_TOKEN) + '\n');
    chmodSync(file, 0o600);
    return;
  }
  if (open(key, readFileSync(file, 'utf8').trim()) !== KEY_TOKEN)
    throw captureError(
      `the capture key does not open ${dir}: it was written under another key ` +
        `(check ${CAPTURE_KEY_ENV} or --capture-key-file); nothing was read or written`,
    );
}

const dayOf = (t: number) => new Date(t).toISOString().slice(0, 10);

/** The day files of a capture folder, oldest first. */
function dayFiles(dir: string): { file: string; day: string }[] {
  return readdirSync(dir)
    .map((n) => ({ n, m: FILE_RE.exec(n) }))
    .filter((x) => x.m)
    .map((x) => ({ file: path.join(dir, x.n), day: x.m![1]! }))
    .sort((a, b) => a.day.localeCompare(b.day));
}

/** Decrypts one day file: its records and the lines that could not be read. */
function readDay(key: Buffer, file: string): { records: CaptureRecord[]; corrupt: CorruptRecord[]; lines: string[] } {
  const lines = readFileSync(file, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const records: CaptureRecord[] = [];
  const corrupt: CorruptRecord[] = [];
  lines.forEach((l, i) => {
    const plain = open(key, l.trim());
    let rec: CaptureRecord | null = null;
    try {
      rec = plain === null ? null : (JSON.parse(plain) as CaptureRecord);
    } catch {
      rec = null;
    }
    if (rec && typeof rec === 'object' && typeof rec.kind === 'string') records.push(rec);
    else corrupt.push({ file: path.basename(file), line: i + 1 });
  });
  return { records, corrupt, lines };
}

/** Every record of a capture folder (key checked first), with the damaged lines reported, not thrown. */
export function readCapture(dir: string, key: Buffer): { records: CaptureRecord[]; corrupt: CorruptRecord[] } {
  checkKey(dir, key, { create: false });
  const records: CaptureRecord[] = [];
  const corrupt: CorruptRecord[] = [];
  for (const { file } of dayFiles(dir)) {
    const r = readDay(key, file);
    records.push(...r.records);
    corrupt.push(...r.corrupt);
  }
  return { records, corrupt };
}

const timeOf = (r: CaptureRecord) => Date.parse(r.time);

/**
 * Deletes every record older than `days` days: whole day files before the cut-off's day, and the older records of
 * that day's file (rewritten atomically; damaged lines kept). Returns how many records were deleted.
 */
export function sweepCapture(dir: string, key: Buffer, days: number, now = Date.now()): number {
  const cutoff = now - days * DAY_MS;
  const cutDay = dayOf(cutoff);
  let removed = 0;
  for (const { file, day } of dayFiles(dir)) {
    if (day > cutDay) continue;
    const r = readDay(key, file);
    if (day < cutDay) {
      removed += r.records.length;
      rmSync(file, { force: true });
      continue;
    }
    const keep = r.lines.filter((l) => {
      const plain = open(key, l.trim());
      if (plain === null) return true;
      try {
        return timeOf(JSON.parse(plain) as CaptureRecord) >= cutoff;
      } catch {
        return true;
      }
    });
    removed += r.lines.length - keep.length;
    if (keep.length === r.lines.length) continue;
    if (!keep.length) rmSync(file, { force: true });
    else {
      writeFileAtomic(file, keep.join('\n') + '\n');
      chmodSync(file, 0o600);
    }
  }
  return removed;
}

/** Whether the open file is still the one at `file` (not removed or replaced). */
function sameFile(fd: number, file: string): boolean {
  try {
    return statSync(file).ino === fstatSync(fd).ino;
  } catch {
    return false;
  }
}

/**
 * Appends sealed records to the day's file: grouped, fsynced, acknowledged only once on disk. After a failed write
 * the file is cut back to its last committed byte and the promise rejects; the next append tries again.
 */
export class CaptureWriter {
  private fd: number | null = null;
  private day = '';
  private size = 0;
  private pending: { line: string; resolve: () => void; reject: (e: Error) => void }[] = [];
  private writing = false;
  private closed = false;

  constructor(
    readonly dir: string,
    private readonly key: Buffer,
    private readonly now: () => number = Date.now,
  ) {
    checkKey(dir, key, { create: true });
  }

  append(rec: CaptureRecord): Promise<void> {
    if (this.closed) return Promise.reject(captureError('the capture store is closed'));
    const line = seal(this.key, JSON.stringify(rec));
    return new Promise((resolve, reject) => {
      this.pending.push({ line, resolve, reject });
      if (!this.writing) void this.flush();
    });
  }

  /** The day's file, reopened when the day changed or the file was replaced or removed under us. */
  private fileFor(day: string): number {
    const file = path.join(this.dir, `${day}.mtcap`);
    if (this.fd !== null && this.day === day && sameFile(this.fd, file)) return this.fd;
    this.release();
    this.fd = openSync(file, 'a', 0o600);
    this.day = day;
    this.size = fstatSync(this.fd).size;
    return this.fd;
  }

  private release(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = null;
  }

  private async flush(): Promise<void> {
    this.writing = true;
    while (this.pending.length) {
      const batch = this.pending.splice(0);
      const buf = Buffer.from(batch.map((p) => p.line + '\n').join(''));
      let fd: number | null = null;
      try {
        fd = this.fileFor(dayOf(this.now()));
        await appendAll(fd, buf);
        await new Promise<void>((res, rej) => fsync(fd!, (e) => (e ? rej(e) : res())));
        this.size += buf.length;
        for (const p of batch) p.resolve();
      } catch (e) {
        if (fd !== null) ftruncate(fd, this.size, () => {}); // no partial record stays behind
        this.release(); // reopened by the next write
        for (const p of batch) p.reject(e as Error);
      }
    }
    this.writing = false;
  }

  /** Waits for the writes in progress; with `fn`, runs it while no write is in progress (the sweep). */
  async idle<T>(fn?: () => T): Promise<T | undefined> {
    while (this.writing || this.pending.length) await new Promise((r) => setTimeout(r, 2));
    if (!fn) return undefined;
    this.release(); // a rewritten day file is reopened
    return fn();
  }

  async close(): Promise<void> {
    await this.idle();
    this.closed = true;
    this.release();
  }
}

/** Writes a key file (0600) with a new random key: for tests and first set-up. */
export function newKeyFile(file: string): Buffer {
  const key = randomBytes(32);
  writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600 });
  return key;
}
