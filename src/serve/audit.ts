/**
 * The audit log: one JSON line per request (time, request id, key name, route pattern, model name and sha256,
 * HMAC-SHA256 of each input text under a server secret, labels, scores, latency, status), appended, never rewritten.
 * It lets a request be traced to a note held elsewhere (recompute the HMAC of the note) without storing any note.
 *
 * It fails closed: an answer is sent only once its entry is written (entries of concurrent requests are written
 * together). When a write fails (disk full, read-only, I/O error), the partial write is cut off, the log reports
 * itself unavailable, the requests that need an entry are refused (E_AUDIT_UNAVAILABLE) and their entries — with the
 * status they got — wait in memory (at most BACKLOG_MAX; more are counted as dropped). Every second it reopens the
 * file and writes them; when that works, it is available again. Nothing here throws outside a request.
 */
import { createHmac } from 'node:crypto';
import { closeSync, existsSync, fstatSync, ftruncate, openSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { appendAll, makeDirs } from '../common/atomic.js';

export interface AuditEntry {
  time: string;
  request_id: string;
  key: string | null;
  route: string;
  status: number;
  latency_ms: number;
  model?: { name: string; sha256: string; version?: string };
  inputs?: string[];
  results?: {
    label: string | string[] | number;
    score: number;
    abstain?: boolean;
    abstain_reason?: string | null;
    in_scope?: boolean;
  }[];
  error?: string;
}

/** The HMAC secret: MEDTUNE_AUDIT_SECRET, or the first line of --audit-secret-file (at least 16 characters). */
export function auditSecret(file?: string): string {
  let s = process.env.MEDTUNE_AUDIT_SECRET;
  if (file) {
    if (!existsSync(file) || statSync(file).isDirectory())
      throw new MedtuneError(`--audit-secret-file ${file} does not exist`, 'E_INPUT_NOT_FOUND');
    s = readFileSync(file, 'utf8').split('\n')[0]!.trim();
  }
  if (!s || s.length < 16) {
    throw new MedtuneError(
      '--audit-log needs a secret of at least 16 characters for the HMAC of inputs: ' +
        'set MEDTUNE_AUDIT_SECRET or pass --audit-secret-file FILE',
      'E_USAGE',
    );
  }
  return s;
}

/** entries of refused requests kept while the log cannot be written */
const BACKLOG_MAX = 10_000;

const unavailable = () =>
  new MedtuneError(
    'the audit log cannot be written, so requests are refused until it can (GET /health/ready says why); ' +
      'retry later',
    'E_AUDIT_UNAVAILABLE',
  );

export class AuditLog {
  private fd: number;
  /** bytes in the file after the last complete write (a failed write is cut back to it) */
  private size: number;
  private pending: { entry: AuditEntry; resolve: () => void; reject: (e: Error) => void }[] = [];
  private writing = false;
  private _failure: string | null = null;
  private backlog: AuditEntry[] = [];
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  /** entries of refused requests that did not fit in the backlog */
  dropped = 0;
  private listeners: ((failure: string | null) => void)[] = [];

  constructor(
    readonly file: string,
    private readonly secret: string,
    private readonly retryMs = 1000,
  ) {
    makeDirs(path.dirname(path.resolve(file)), 'folder of --audit-log');
    if (existsSync(file) && statSync(file).isDirectory())
      throw new MedtuneError(`--audit-log ${file} is a folder; give a file`, 'E_OUTPUT_PATH');
    try {
      this.fd = openSync(file, 'a', 0o600);
    } catch (e) {
      throw new MedtuneError(
        `--audit-log ${file} cannot be opened for writing (${(e as NodeJS.ErrnoException).code})`,
        'E_OUTPUT_PATH',
      );
    }
    this.size = fstatSync(this.fd).size;
  }

  /** `f` is called when the log becomes unavailable (with why) and available again (null). */
  onChange(f: (failure: string | null) => void): void {
    this.listeners.push(f);
  }

  private changed(): void {
    for (const f of this.listeners) f(this._failure);
  }

  hmac(text: string): string {
    return createHmac('sha256', this.secret).update(text).digest('hex');
  }

  /** Why the log cannot be written now (null: it can). */
  get failure(): string | null {
    return this._failure;
  }

  /** Appends the entry: resolves once it is written; rejects with E_AUDIT_UNAVAILABLE when it cannot be. */
  write(entry: AuditEntry): Promise<void> {
    if (this._failure !== null || this.closed) {
      this.keep(entry);
      return Promise.reject(unavailable());
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ entry, resolve, reject });
      if (!this.writing) void this.flush();
    });
  }

  /** Writes what is pending in one write, again while more arrived meanwhile. */
  private async flush(): Promise<void> {
    this.writing = true;
    while (this.pending.length && this._failure === null) {
      const batch = this.pending.splice(0);
      const buf = Buffer.from(batch.map((p) => JSON.stringify(p.entry) + '\n').join(''));
      try {
        await appendAll(this.fd, buf);
        this.size += buf.length;
        for (const p of batch) p.resolve();
      } catch (e) {
        this.fail(e as NodeJS.ErrnoException);
        for (const p of [...batch, ...this.pending.splice(0)]) {
          this.keep(p.entry);
          p.reject(unavailable());
        }
      }
    }
    this.writing = false;
  }

  /** The entry of a refused request, kept to be written when the log works again. */
  private keep(e: AuditEntry): void {
    const { results: _results, ...rest } = e; // the answer was a refusal: no results were sent
    if (this.backlog.length >= BACKLOG_MAX) this.dropped++;
    else this.backlog.push({ ...rest, status: 503, error: 'E_AUDIT_UNAVAILABLE' });
  }

  private fail(e: NodeJS.ErrnoException): void {
    ftruncate(this.fd, this.size, () => {}); // drop a partial line (a device such as /dev/full cannot: ignored)
    if (this._failure === null) {
      this._failure = `${e.code ?? 'EIO'}: ${e.code === 'ENOSPC' ? 'no space left on the device' : 'write failed'}`;
      this.changed();
    }
    this.retry ??= setInterval(() => void this.recover(), this.retryMs);
    this.retry.unref();
  }

  /** Reopens the file and writes the backlog; available again when that works. */
  private async recover(): Promise<void> {
    if (this.writing || this.closed) return;
    this.writing = true;
    try {
      const fd = openSync(this.file, 'a', 0o600);
      closeSync(this.fd);
      this.fd = fd;
      this.size = fstatSync(fd).size;
      while (this.backlog.length) {
        const kept = this.backlog.splice(0);
        const buf = Buffer.from(kept.map((e) => JSON.stringify(e) + '\n').join(''));
        try {
          await appendAll(fd, buf);
        } catch (e) {
          this.backlog.unshift(...kept);
          throw e;
        }
        this.size += buf.length;
      }
      clearInterval(this.retry!);
      this.retry = null;
      this._failure = null;
      this.changed();
    } catch {
      ftruncate(this.fd, this.size, () => {});
    } finally {
      this.writing = false;
    }
    if (this.pending.length) void this.flush();
  }

  /** Waits for the writes in progress, then closes the file (entries still in the backlog are lost). */
  async close(): Promise<void> {
    while (this.writing || this.pending.length) await new Promise((r) => setTimeout(r, 5));
    this.closed = true;
    if (this.retry) clearInterval(this.retry);
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}
