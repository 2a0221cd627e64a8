/** Atomic file writes: write to a temporary file in the same folder, fsync, then rename over the target. */
import { closeSync, createWriteStream, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

export function writeFileAtomic(file: string, data: string | Uint8Array | Uint8Array[]): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    const parts = Array.isArray(data) ? data : [typeof data === 'string' ? Buffer.from(data) : data];
    for (const p of parts) {
      let off = 0;
      while (off < p.byteLength) off += writeSync(fd, p, off, p.byteLength - off);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, file);
}

export interface AtomicStream {
  /** writes, waiting for the stream to drain when its buffer is full (flat memory for large outputs) */
  write(s: string): Promise<void>;
  /** finishes the file and renames it into place */
  commit(): Promise<void>;
  /** discards the partial file */
  abort(): void;
}

/** A streamed output file that appears under its name only when complete. */
export function atomicWriteStream(file: string): AtomicStream {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const out = createWriteStream(tmp);
  return {
    write: (s) => (out.write(s) ? Promise.resolve() : new Promise<void>((res) => out.once('drain', () => res()))),
    commit: async () => {
      await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
      renameSync(tmp, file);
    },
    abort: () => {
      out.destroy();
      rmSync(tmp, { force: true });
    },
  };
}
