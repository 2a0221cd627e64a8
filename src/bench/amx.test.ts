// `medtune info`'s AMX line and `bench gemm --kernel amx`: refused with the reason where AMX is not usable.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gemmInfo, nativeAvailable } from '../tensor/backend.js';
import { MedtuneError } from '../common/errors.js';
import { amxLine, printInfo } from './info.js';
import { runGemmBench } from './gemm.js';

const info = gemmInfo();
const noNative = !nativeAvailable() && 'native backend not built';

describe('AMX in info and bench', { skip: noNative }, () => {
  it('medtune info says whether AMX is used, and why not', () => {
    const lines: string[] = [];
    printInfo((l) => lines.push(l));
    const line = lines.find((l) => l.startsWith('amx:'));
    assert.ok(line, lines.join('\n'));
    assert.equal(line, `amx:       ${amxLine(info!)}`);
    if (info!.amx) assert.equal(amxLine(info!), `not used: ${info!.amx}`);
    else assert.match(amxLine(info!), /^used|^usable/);
  });

  it(
    'bench gemm --kernel amx refuses without AMX, naming what is missing',
    { skip: !noNative && info!.amx === '' && 'AMX is usable here (the bench would run)' },
    () => {
      assert.throws(
        () => runGemmBench({ shapes: 'mini', kernel: 'amx' }),
        (e: unknown) =>
          e instanceof MedtuneError &&
          e.code === 'E_PRECISION_UNSUPPORTED' &&
          e.message.includes(`AMX is not usable here: ${info!.amx}`),
      );
    },
  );
});
