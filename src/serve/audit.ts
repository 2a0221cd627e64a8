/**
 * The audit log: one JSON line per request (time, request id, key name, model name and sha256, HMAC-SHA256 of each
 * input text under a server secret, labels, scores, latency, status), appended, never rewritten. It lets a request be
 * traced to a note held elsewhere (recompute the HMAC of the note) without storing any note.
 */
import { createHmac } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, statSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { makeDirs } from '../common/atomic.js';

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

export class AuditLog {
  private out: WriteStream;

  constructor(
    readonly file: string,
    private readonly secret: string,
  ) {
    makeDirs(path.dirname(path.resolve(file)), 'folder of --audit-log');
    if (existsSync(file) && statSync(file).isDirectory())
      throw new MedtuneError(`--audit-log ${file} is a folder; give a file`, 'E_OUTPUT_PATH');
    this.out = createWriteStream(file, { flags: 'a', mode: 0o600 });
  }

  hmac(text: string): string {
    return createHmac('sha256', this.secret).update(text).digest('hex');
  }

  write(e: AuditEntry): void {
    this.out.write(JSON.stringify(e) + '\n');
  }

  close(): Promise<void> {
    return new Promise((res) => this.out.end(() => res()));
  }
}
