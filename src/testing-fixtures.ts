/** Locating ../shared (read-only data beside the checkout) for tests. MEDTUNE_SHARED overrides. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function sharedDir(): string | null {
  const candidates = [
    process.env.MEDTUNE_SHARED,
    path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared'),
    path.resolve(process.cwd(), '..', 'shared'),
  ].filter((x): x is string => !!x);
  return candidates.find((c) => existsSync(path.join(c, 'fixtures'))) ?? null;
}

export function fixturePath(...parts: string[]): string | null {
  const s = sharedDir();
  if (!s) return null;
  const p = path.join(s, ...parts);
  return existsSync(p) ? p : null;
}
