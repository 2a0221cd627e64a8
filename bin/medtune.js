#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript in dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  console.error('medtune: dist/ is missing. Run `npm install` (or `npm run build`) in the medtune folder first.');
  process.exit(1);
}
await import(main);
