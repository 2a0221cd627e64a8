/**
 * What to undo when the process is interrupted: temporary files of writes in progress are removed on Ctrl-C
 * (exit 130) and SIGTERM (exit 143), so an interrupted run never leaves partial files behind. (kill -9 cannot be
 * caught: the next run to the same output sweeps what it left, see atomic.ts.)
 */
import { rmSync } from 'node:fs';

const pending = new Set<string>();
const hooks = new Set<() => void>();

/** Registers a temporary path (file or folder) to remove if the process is interrupted; returns the unregister. */
export function removeOnInterrupt(p: string): () => void {
  pending.add(p);
  return () => pending.delete(p);
}

/** Registers a function to run on interruption (before exit); returns the unregister. */
export function onInterrupt(fn: () => void): () => void {
  hooks.add(fn);
  return () => hooks.delete(fn);
}

/** Removes every registered temporary path and runs the hooks (idempotent). */
export function cleanupNow(): void {
  for (const fn of [...hooks]) {
    try {
      fn();
    } catch {
      /* best effort while exiting */
    }
  }
  hooks.clear();
  for (const p of pending) rmSync(p, { recursive: true, force: true });
  pending.clear();
}

let installed = false;
let interceptor: ((signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP') => void) | null = null;

/**
 * Ctrl-C and SIGTERM: clean up, say so in one line, and exit 130 / 143 (the shell convention). A long-running
 * command (the server) may take the signals over with interceptSignals() and stop gracefully instead.
 */
export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  const handler = (signal: 'SIGINT' | 'SIGTERM', code: number) => () => {
    if (interceptor) return interceptor(signal);
    cleanupNow();
    process.stderr.write(`\nmedtune: interrupted by ${signal}; partial outputs removed (E_INTERRUPTED)\n`);
    process.exit(code);
  };
  process.on('SIGINT', handler('SIGINT', 130));
  process.on('SIGTERM', handler('SIGTERM', 143));
}

/** Hands SIGINT, SIGTERM and SIGHUP to `fn` (instead of exiting at once). */
export function interceptSignals(fn: (signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP') => void): void {
  installSignalHandlers();
  interceptor = fn;
  process.on('SIGHUP', () => fn('SIGHUP'));
}
