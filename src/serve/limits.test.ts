// The two admission mechanisms: a lane (at once, waiting, deadline, a waiter whose client left) and the failure
// counters (window, forgiving, bounded).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MedtuneError } from '../common/errors.js';
import { FailureLimiter, Lane } from './limits.js';

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'granted',
    (e: MedtuneError) => e.code,
  );

describe('Lane', () => {
  it('grants `concurrency` at once, queues `queue` more in order, refuses the rest (E_QUEUE_FULL)', async () => {
    const lane = new Lane('test', { concurrency: 2, queue: 1, timeoutMs: 1000 });
    const a = await lane.acquire();
    const b = await lane.acquire();
    const order: string[] = [];
    const c = lane.acquire().then((release) => {
      order.push('c');
      return release;
    });
    assert.equal(await codeOf(lane.acquire()), 'E_QUEUE_FULL');
    assert.deepEqual([lane.inFlight, lane.queued, lane.refused.full], [2, 1, 1]);
    a();
    a(); // a second release of the same slot changes nothing
    const releaseC = await c;
    assert.deepEqual(order, ['c']);
    assert.deepEqual([lane.inFlight, lane.queued], [2, 0]);
    b();
    releaseC();
    assert.equal(lane.inFlight, 0);
  });

  it('a waiter leaves after the deadline (E_QUEUE_TIMEOUT) or when its signal aborts', async () => {
    const lane = new Lane('test', { concurrency: 1, queue: 4, timeoutMs: 50 });
    const held = await lane.acquire();
    assert.equal(await codeOf(lane.acquire()), 'E_QUEUE_TIMEOUT');
    const ac = new AbortController();
    const waiting = codeOf(lane.acquire(ac.signal));
    ac.abort(new MedtuneError('gone', 'E_CANCELLED'));
    assert.equal(await waiting, 'E_CANCELLED');
    assert.deepEqual([lane.queued, lane.refused.timeout, lane.refused.cancelled], [0, 1, 1]);
    held();
    assert.equal(await codeOf(lane.acquire()), 'granted');
  });
});

describe('FailureLimiter', () => {
  it('counts failures per key in a window; forgives; stays bounded', () => {
    const f = new FailureLimiter(3, 60_000, 100);
    const t = 1_000_000;
    for (let i = 0; i < 3; i++) f.fail('a', t);
    assert.equal(f.retryAfterS('a', t + 1000), 59);
    assert.equal(f.retryAfterS('b', t), 0);
    f.forgive('a', t);
    assert.equal(f.retryAfterS('a', t), 0);
    f.fail('a', t);
    assert.equal(f.retryAfterS('a', t + 60_000), 0, 'a new window');
    for (let i = 0; i < 1000; i++) f.fail(`made-up-${i}`, t + i);
    assert.ok((f as unknown as { counts: Map<string, unknown> }).counts.size <= 100);
  });
});
