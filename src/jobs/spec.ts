/**
 * A batch job on the Redis queue (predict, deid, evaluate): what the coordinator writes to job.json in the job
 * folder and what every worker reads there. It names files by path and checks them by sha256 (the input, by chunk;
 * the model folder; list files) and never holds text: not a note, not a secret (de-id workers take the key from
 * MEDTUNE_DEID_SECRET; the job holds an HMAC to check it). The key is a hash of everything that decides the output,
 * so that the same command finds its unfinished job again, and a changed command starts another.
 */
import { createHash, createHmac } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../common/atomic.js';
import type { RowFormat, RowSlice } from '../data/readers.js';
import { readModelConfig } from '../models/auto.js';
import { fileSha256 } from '../models/metadata.js';

/** The BullMQ queue of every batch job; `medtune worker` takes its chunks. */
export const BATCH_QUEUE = 'medtune-batch';

export type JobKind = 'predict' | 'deid' | 'evaluate';

export interface ChunkSpec {
  index: number;
  /** rows [start, end) of the input, 0-based */
  start: number;
  end: number;
  slice: RowSlice;
  /** sha256 of the slice's bytes (when it is read from byte offsets) */
  sha256?: string;
  /** evaluate: the 1-based rows of the slice that are not examples (skipped by the reader), and how many are */
  skip?: number[];
  examples?: number;
}

export interface InputCheck {
  path: string;
  format: RowFormat;
  size: number;
  mtimeMs: number;
  sha256: string;
  rows: number;
}

/** A file a chunk reads besides the input (--allow, --deny lists), or a model folder (sha256 of its files). */
export interface FileCheck {
  option: string;
  path: string;
  sha256: string;
}

export interface JobSpec {
  version: 1;
  kind: JobKind;
  key: string;
  input: InputCheck;
  model?: FileCheck;
  files: FileCheck[];
  /** deid: an HMAC that tells whether a worker's MEDTUNE_DEID_SECRET is the coordinator's key */
  secretCheck?: string;
  /** the command's options for every chunk: settings and paths, never text or a secret */
  options: Record<string, unknown>;
  chunkRows: number;
  /** the extension of chunk results (deid writes the output's format) */
  chunkExt: string;
  chunks: ChunkSpec[];
}

/** The parts of a spec that decide the output (what the key is a hash of: not the input's mtime). */
export function keyOf(s: Omit<JobSpec, 'key'>): string {
  const { input, ...rest } = s;
  const { mtimeMs: _mtime, ...content } = input;
  return createHash('sha256')
    .update(JSON.stringify({ ...rest, input: content }))
    .digest('hex')
    .slice(0, 16);
}

/** The job folder: beside the output file (hidden), or in the evaluation's output folder; on storage workers share. */
export function jobFolder(kind: JobKind, output: string): string {
  const abs = path.resolve(output);
  if (kind === 'evaluate') return path.join(abs, '.medtune-job');
  return path.join(path.dirname(abs), `.${path.basename(abs)}.medtune-job`);
}

export const chunkName = (i: number) => `chunk-${String(i + 1).padStart(6, '0')}`;

export function chunkPaths(dir: string, i: number, ext: string): { out: string; done: string; failed: string } {
  const base = path.join(dir, chunkName(i));
  return { out: `${base}.part${ext}`, done: `${base}.done.json`, failed: `${base}.failed.json` };
}

export const specFile = (dir: string) => path.join(dir, 'job.json');
export const jobIdOf = (key: string, index: number) => `${key}-${index + 1}`;
/** "rows 1–64 of FILE" (1-based, inclusive) */
export const rowsText = (c: { start: number; end: number }, file: string) => `rows ${c.start + 1}–${c.end} of ${file}`;

export function writeSpec(dir: string, spec: JobSpec): void {
  writeFileAtomic(specFile(dir), JSON.stringify(spec) + '\n');
}

/** The spec in a job folder (null when there is none, or it cannot be read). */
export function readSpec(dir: string): JobSpec | null {
  try {
    const s = JSON.parse(readFileSync(specFile(dir), 'utf8')) as JobSpec;
    return s.version === 1 && typeof s.key === 'string' ? s : null;
  } catch {
    return null;
  }
}

/** What a worker records beside a chunk's result (the result's size and sha256 are checked when it is assembled). */
export interface ChunkDone {
  index: number;
  rows: number;
  size: number;
  sha256: string;
  worker: string;
  seconds: number;
  stats: Record<string, unknown>;
}

/** A chunk no worker can do (its data is wrong, or changed): the job stops. */
export interface ChunkFailed {
  index: number;
  code: string;
  message: string;
  worker: string;
}

export const readJson = <T>(file: string): T | null => {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
};

/** sha256 over the files of a model folder (its weights, config and tokenizer; not its model card). */
export function folderSha256(dir: string): string {
  const h = createHash('sha256');
  const names = readdirSync(dir)
    .filter((n) => !n.endsWith('.md') && statSync(path.join(dir, n)).isFile())
    .sort();
  for (const n of names) h.update(`${n}\0${fileSha256(path.join(dir, n))}\n`);
  return h.digest('hex');
}

/** A local folder by its absolute path; a hub name as given (each worker resolves it in its own cache). */
export async function modelCheck(nameOrDir: string): Promise<FileCheck> {
  const local = existsSync(nameOrDir);
  const dir = local ? nameOrDir : (await readModelConfig(nameOrDir)).dir;
  return { option: '--model', path: local ? path.resolve(nameOrDir) : nameOrDir, sha256: folderSha256(dir) };
}

export function fileCheck(option: string, file: string): FileCheck {
  return { option, path: path.resolve(file), sha256: fileSha256(file) };
}

/** An HMAC of the de-identification key (or of none): equal on two machines only when their keys are. */
export function secretCheckOf(secret: string | undefined): string {
  return createHmac('sha256', secret ?? '')
    .update('medtune queue: same de-identification key')
    .digest('hex')
    .slice(0, 16);
}

/**
 * A command's options as a job carries them: without the process's own (log, queue, secret, …), with JSON values
 * only; paths made absolute.
 */
export function jobOptions(o: object, drop: string[], paths: string[] = []): Record<string, unknown> {
  const skip = new Set(['log', 'queue', 'chunkRows', 'secret', 'slice', 'predictor', 'probabilitiesOf', ...drop]);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o).sort(([a], [b]) => a.localeCompare(b))) {
    if (skip.has(k) || v === undefined || typeof v === 'function') continue;
    out[k] = paths.includes(k) && typeof v === 'string' ? path.resolve(v) : v;
  }
  return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
}
