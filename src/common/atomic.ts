/**
 * Files that appear complete or not at all, and output locations checked before any work starts.
 *
 * Writes go to a temporary file beside the target (`.NAME.medtune-PID-RAND.tmp`), are fsynced, then renamed over
 * the target. Temporary paths are removed on Ctrl-C/SIGTERM (cleanup.ts); what a kill -9 leaves is swept by the
 * next write to the same target (the PID is dead). Folders are created one level at a time, never with
 * mkdirSync(recursive) — which spins forever on a path under /proc.
 */
import {
  closeSync,
  createWriteStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  write,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { MedtuneError } from './errors.js';
import { removeOnInterrupt } from './cleanup.js';

const TMP_RE = /^\.(.+)\.medtune-(\d+)-[0-9a-z]+\.tmp$/;

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Longest file name most file systems take (ext4, xfs, btrfs, tmpfs: 255 bytes). */
const NAME_MAX = 255;
/** What a temporary name adds to the final one: `.` and `.medtune-PID-RAND.tmp`. */
const TMP_EXTRA = 32;

/** A fresh temporary path beside `target`, registered for removal on interruption. */
export function tempPathFor(target: string): { tmp: string; release: () => void } {
  const t = target.replace(/\/+$/, '');
  const tmp = path.join(
    path.dirname(t),
    `.${path.basename(t)}.medtune-${process.pid}-${Math.random().toString(36).slice(2, 8)}.tmp`,
  );
  return { tmp, release: removeOnInterrupt(tmp) };
}

/** A name too long for the file system once the temporary suffix is added is refused before any work. */
function checkNameLength(target: string, shown: string): void {
  const bytes = Buffer.byteLength(path.basename(target.replace(/\/+$/, '')));
  if (bytes + TMP_EXTRA > NAME_MAX)
    throw new MedtuneError(
      `cannot use ${shown}: the name is too long (${bytes} bytes; at most ${NAME_MAX - TMP_EXTRA}); ` +
        'choose a shorter name',
      'E_OUTPUT_PATH',
    );
}

/**
 * An existing path that is not a regular file or folder (a device such as /dev/null or /dev/stdout, a FIFO, a
 * socket): it is written in place, never renamed over (as root a rename would replace the device node itself).
 */
export function isSpecialFile(file: string): boolean {
  try {
    const st = statSync(file);
    return !st.isFile() && !st.isDirectory();
  } catch {
    return false;
  }
}

/** Removes temporary files/folders of earlier writes to `target` whose process is gone (kill -9, power loss). */
export function sweepStale(target: string): number {
  const t = target.replace(/\/+$/, '');
  const base = path.basename(t);
  return sweepStaleIn(path.dirname(t), (b) => b === base);
}

/** The same for every target in `dir` whose name `of` accepts (e.g. all of a training run's entries). */
export function sweepStaleIn(dir: string, of: (base: string) => boolean): number {
  let n = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const m = TMP_RE.exec(name);
    if (!m || !of(m[1]!) || pidAlive(Number(m[2]))) continue;
    rmSync(path.join(dir, name), { recursive: true, force: true });
    n++;
  }
  return n;
}

const reason = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
      return 'the disk is full';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'ENOENT':
      return 'this location cannot hold new folders';
    case 'EEXIST':
      return 'something else exists there';
    case 'ENAMETOOLONG':
      return 'the name is too long';
    default:
      return code ?? (e as Error).message;
  }
};

/** Why an input file cannot be read, in words (never a raw ENOENT / EISDIR). */
export function readFailure(e: unknown): string {
  switch ((e as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'it does not exist';
    case 'EISDIR':
      return 'it is a folder, not a file';
    default:
      return reason(e);
  }
}

/** Creates a folder and its missing parents one level at a time; a clear error names the part that is wrong. */
export function makeDirs(dir: string, what = 'output folder'): void {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  let p = abs;
  for (;;) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') {
        missing.push(p);
        p = path.dirname(p);
        continue;
      }
      if (code !== 'ENOENT') throw new MedtuneError(`cannot create the ${what} ${dir}: ${reason(e)}`, 'E_OUTPUT_PATH');
      missing.push(p);
      const up = path.dirname(p);
      if (up === p) break;
      p = up;
      continue;
    }
    if (!st.isDirectory()) {
      const msg = p === abs ? `${dir} is a file, not a folder` : `${dir} is under ${p}, which is a file, not a folder`;
      throw new MedtuneError(`cannot use the ${what}: ${msg}; choose another path`, 'E_OUTPUT_PATH');
    }
    break;
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && statSync(m).isDirectory()) continue;
      throw new MedtuneError(`cannot create the ${what} ${dir}: ${reason(e)} (at ${m})`, 'E_OUTPUT_PATH');
    }
  }
}

/** Writes and removes a probe file: the only reliable test that a folder takes new files (root, read-only mounts). */
function probeWritable(dir: string, what: string, shown: string): void {
  const probe = path.join(dir, `.medtune-probe-${process.pid}`);
  try {
    closeSync(openSync(probe, 'w'));
    rmSync(probe, { force: true });
  } catch (e) {
    throw new MedtuneError(`cannot write into the ${what} ${shown}: ${reason(e)}`, 'E_OUTPUT_PATH');
  }
}

/** Checks (and creates) an output folder before any work starts. */
export function prepareOutputDir(dir: string, option = '--output-dir'): void {
  if (!dir || !dir.trim()) throw new MedtuneError(`${option} is empty; give a folder`, 'E_USAGE');
  makeDirs(dir, `${option} folder`);
  probeWritable(dir, `${option} folder`, dir);
}

/** Whether two paths name the same file or folder (through links; by absolute path when they do not exist). */
export const samePath = (a: string, b: string): boolean => same(a, b);

/** Two outputs of one command naming the same path are refused before any work: one would clobber the other. */
export function refuseSameOutputs(outputs: [option: string, file: string | undefined][]): void {
  const given = outputs.filter((x): x is [string, string] => !!x[1]);
  for (let i = 0; i < given.length; i++)
    for (let j = i + 1; j < given.length; j++)
      if (same(given[i]![1], given[j]![1]))
        throw new MedtuneError(
          `${given[i]![0]} and ${given[j]![0]} name the same path ${given[j]![1]}; one would overwrite the other: ` +
            'give two different paths',
          'E_OUTPUT_PATH',
        );
}

function same(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}

/**
 * Checks an output file before any work starts: not a folder, its folder exists or can be created and takes
 * files, and it is none of the inputs (unless `allowInput`, e.g. `deid --in-place`).
 */
export function prepareOutputFile(
  file: string,
  o: { option?: string; inputs?: string[]; allowInput?: boolean; inputHint?: string } = {},
): void {
  const option = o.option ?? '--output';
  if (!file || !file.trim()) throw new MedtuneError(`${option} is empty; give a file name`, 'E_USAGE');
  if (/[/\\]$/.test(file))
    throw new MedtuneError(`${option} ${file} names a folder; give a file name`, 'E_OUTPUT_PATH');
  if (existsSync(file) && statSync(file).isDirectory())
    throw new MedtuneError(`${option} ${file} is a folder; give a file name`, 'E_OUTPUT_PATH');
  for (const input of o.inputs ?? []) {
    if (existsSync(file) && same(file, input) && !o.allowInput) {
      throw new MedtuneError(
        `${option} ${file} is the input file itself; writing over it would lose the original` +
          `${o.inputHint ? ` (${o.inputHint})` : ''}`,
        'E_OUTPUT_PATH',
      );
    }
  }
  if (isSpecialFile(file)) return; // written in place (a device, FIFO or socket)
  checkNameLength(file, `${option} ${file}`);
  const dir = path.dirname(path.resolve(file));
  makeDirs(dir, `folder of ${option}`);
  probeWritable(dir, `folder of ${option}`, path.dirname(file) || '.');
  sweepStale(file);
}

type FileData = string | Uint8Array | Uint8Array[];

function writeAll(fd: number, data: FileData): void {
  const parts = Array.isArray(data) ? data : [typeof data === 'string' ? Buffer.from(data) : data];
  for (const p of parts) {
    let off = 0;
    while (off < p.byteLength) off += writeSync(fd, p, off, p.byteLength - off);
  }
}

/**
 * Writes all of `buf` to a file opened for appending, without blocking (a short write goes on from where it
 * stopped); the audit log and the capture store append their records so.
 */
export function appendAll(fd: number, buf: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (off: number) =>
      write(fd, buf, off, buf.length - off, null, (e, n) => {
        if (e) reject(e);
        else if (off + n < buf.length) step(off + n);
        else resolve();
      });
    step(0);
  });
}

/** Writes into a device, FIFO or socket in place (there is nothing to rename, and nothing to lose). */
function writeSpecial(file: string, data: FileData): void {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'w');
    writeAll(fd, data);
  } catch (e) {
    throw new MedtuneError(`cannot write ${file}: ${reason(e)}`, 'E_OUTPUT_PATH');
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function writeFileAtomic(file: string, data: FileData): void {
  if (isSpecialFile(file)) return writeSpecial(file, data);
  makeDirs(path.dirname(file));
  checkNameLength(file, file);
  sweepStale(file);
  const { tmp, release } = tempPathFor(file);
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (e) {
    release();
    throw new MedtuneError(`cannot write ${file}: ${reason(e)}`, 'E_OUTPUT_PATH');
  }
  try {
    writeAll(fd, data);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, file);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    rmSync(tmp, { force: true });
    throw e instanceof MedtuneError ? e : new MedtuneError(`cannot write ${file}: ${reason(e)}`, 'E_OUTPUT_PATH');
  } finally {
    release();
  }
}

export interface AtomicStream {
  /** writes, waiting for the stream to drain when its buffer is full (flat memory for large outputs) */
  write(s: string): Promise<void>;
  /** finishes the file and renames it into place */
  commit(): Promise<void>;
  /** discards the partial file */
  abort(): void;
}

/**
 * A streamed output file that appears under its name only when complete; a device, FIFO or socket is streamed into
 * in place.
 */
export function atomicWriteStream(file: string): AtomicStream {
  const special = isSpecialFile(file);
  if (!special) {
    makeDirs(path.dirname(file));
    checkNameLength(file, file);
    sweepStale(file);
  }
  const { tmp, release } = special ? { tmp: file, release: () => true } : tempPathFor(file);
  const out = createWriteStream(tmp);
  let failure: Error | null = null;
  out.on('error', (e) => {
    failure = e;
  });
  const fail = (e: Error) => new MedtuneError(`cannot write ${file}: ${reason(e)}`, 'E_OUTPUT_PATH');
  return {
    write: (s) => {
      if (failure) return Promise.reject(fail(failure));
      return out.write(s)
        ? Promise.resolve()
        : new Promise<void>((res, rej) => {
            const onErr = (e: Error) => rej(fail(e));
            out.once('error', onErr);
            out.once('drain', () => {
              out.off('error', onErr);
              res();
            });
          });
    },
    commit: async () => {
      if (failure) throw fail(failure);
      await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(fail(e)) : res())));
      if (failure) throw fail(failure);
      if (!special) renameSync(tmp, file);
      release();
    },
    abort: () => {
      out.destroy();
      if (!special) rmSync(tmp, { force: true });
      release();
    },
  };
}

/** A folder written next to its final place and renamed in (an existing folder is replaced only at the end). */
export function writeDirAtomic(dir: string, fill: (tmp: string) => void): void {
  const target = dir.replace(/\/+$/, '');
  if (existsSync(target) && !statSync(target).isDirectory())
    throw new MedtuneError(
      `cannot write the folder ${dir}: it is a file, not a folder; choose another path`,
      'E_OUTPUT_PATH',
    );
  makeDirs(path.dirname(path.resolve(target)));
  sweepStale(target);
  const { tmp, release } = tempPathFor(target);
  const old = tempPathFor(target);
  try {
    mkdirSync(tmp);
    fill(tmp);
    if (existsSync(target)) renameSync(target, old.tmp);
    renameSync(tmp, target);
    rmSync(old.tmp, { recursive: true, force: true });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(target) && existsSync(old.tmp)) renameSync(old.tmp, target);
    throw e instanceof MedtuneError
      ? e
      : new MedtuneError(`cannot write the folder ${dir}: ${reason(e)}`, 'E_OUTPUT_PATH');
  } finally {
    release();
    old.release();
  }
}
