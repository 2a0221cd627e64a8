// The catalogue and docs/errors.md agree: every code is documented with its exit status and HTTP status.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CATALOGUE, MedtuneError } from './errors.js';

const docs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'errors.md');

describe('error catalogue', () => {
  it('docs/errors.md lists every code with its exit and HTTP status', () => {
    const md = readFileSync(docs, 'utf8');
    for (const [code, spec] of Object.entries(ERROR_CATALOGUE)) {
      assert.ok(
        md.includes(`| \`${code}\` | ${spec.exit} | ${spec.http} |`),
        `docs/errors.md lacks ${code} (exit ${spec.exit}, HTTP ${spec.http})`,
      );
    }
    const documented = [...md.matchAll(/^\| `(E_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(
      documented.filter((c) => !(c! in ERROR_CATALOGUE)),
      [],
      'docs/errors.md lists codes the catalogue no longer has',
    );
  });

  it('user errors exit 2, internal errors exit 1; every code has an HTTP status', () => {
    assert.equal(new MedtuneError('x', 'E_USAGE').exitCode, 2);
    assert.equal(new MedtuneError('x', 'E_USAGE').httpStatus, 400);
    assert.equal(new MedtuneError('x').exitCode, 1);
    for (const spec of Object.values(ERROR_CATALOGUE)) assert.ok(spec.http >= 400 && spec.http < 600);
  });
});
