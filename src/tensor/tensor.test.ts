// Memory ownership, scopes, no-grad and backend selection.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, scope, tensor, zeros, Tensor, releaseGraph } from './tensor.js';
import { memoryStats } from './storage.js';
import { add, mul, reshape, sum } from './ops/index.js';
import { nativeAvailable, backendName } from './backend.js';
import { DisposedError } from './errors.js';

describe('tensor memory', () => {
  it('scope disposes intermediates and keeps what is returned', () => {
    const before = memoryStats().liveBuffers;
    const kept = scope(() => {
      const a = tensor([1, 2, 3]);
      const b = add(a, a);
      return mul(b, b);
    });
    assert.deepEqual(kept.toArray(), [4, 16, 36]);
    assert.equal(memoryStats().liveBuffers, before + 1);
    kept.dispose();
    assert.equal(memoryStats().liveBuffers, before);
  });
  it('a disposed tensor cannot be read', () => {
    const t = tensor([1, 2]);
    t.dispose();
    assert.throws(() => t.toArray(), DisposedError);
    t.dispose(); // twice is fine
  });
  it('a reshape view keeps the memory alive after the original is disposed', () => {
    const t = tensor([1, 2, 3, 4]);
    const v = reshape(t, [2, 2]);
    t.dispose();
    assert.deepEqual(v.toArray(), [1, 2, 3, 4]);
    v.dispose();
  });
  it('saved tensors survive the scope that made them until backward', () => {
    const x = tensor([1, 2, 3]);
    x.requiresGrad = true;
    const loss = scope(() => sum(mul(x, x)));
    loss.backward();
    assert.deepEqual(x.grad!.toArray(), [2, 4, 6]);
    assert.throws(() => loss.backward(), /graph was already used/);
  });
  it('noGrad records nothing', () => {
    const x = tensor([1, 2]);
    x.requiresGrad = true;
    const y = noGrad(() => mul(x, x));
    assert.equal(y.requiresGrad, false);
    assert.equal(y.node, null);
  });
  it('releaseGraph frees saved tensors without backward', () => {
    const x = tensor([1, 2]);
    x.requiresGrad = true;
    const before = memoryStats().liveBuffers;
    const y = mul(x, x);
    releaseGraph(y);
    y.dispose();
    assert.equal(memoryStats().liveBuffers, before);
  });
  it('gradients accumulate across backward calls until zeroed', () => {
    const x = tensor([3]);
    x.requiresGrad = true;
    for (let i = 0; i < 2; i++) scope(() => sum(mul(x, x)).backward());
    assert.deepEqual(x.grad!.toArray(), [12]);
  });
  it('zeros and shapes', () => {
    const z = zeros([2, 3]);
    assert.deepEqual(z.shape, [2, 3]);
    assert.ok(z.toArray().every((v) => v === 0));
    assert.throws(() => new Tensor(z.storage, [4, 4]), /too small/);
  });
});

describe('backend', () => {
  it('the native backend is built where CI expects it', { skip: !process.env.MEDTUNE_REQUIRE_NATIVE }, () => {
    assert.ok(nativeAvailable(), 'native addon failed to build or load');
    assert.equal(backendName(), process.env.MEDTUNE_BACKEND ?? 'native');
  });
});
