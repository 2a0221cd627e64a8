/** Atomic file writes: write to a temporary file in the same folder, fsync, then rename over the target. */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
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
