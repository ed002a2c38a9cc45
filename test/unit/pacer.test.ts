/** The per-endpoint pacer: halves under throttling, grows back one slot per round, honours Retry-After. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Pacer, acquireInOrder, type PaceSignal } from '../../src/api/store/pacer.js';

const throttle: PaceSignal = { throttled: true };
const signal = (err: unknown): PaceSignal =>
  err === 'slow'
    ? throttle
    : err instanceof Error && err.message.startsWith('after:')
      ? { throttled: true, retryAfterMs: Number(err.message.slice(6)) }
      : { throttled: false };

describe('pacer', () => {
  it('never runs more than its limit at once', async () => {
    const pacer = new Pacer({ max: 3 });
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        pacer.run(async () => {
          peak = Math.max(peak, ++running);
          await new Promise((r) => setTimeout(r, 5));
          running--;
        }, signal),
      ),
    );
    assert.equal(peak, 3);
  });

  it('halves the limit when throttled, once per burst, and grows it back by one per round of successes', async () => {
    const changes: Array<[number, string]> = [];
    const pacer = new Pacer({ max: 8, logEveryMs: 0, onChange: (limit, change) => changes.push([limit, change]) });
    // Four failures at once count as one throttling event.
    await Promise.allSettled(Array.from({ length: 4 }, () => pacer.run(() => Promise.reject('slow'), signal)));
    assert.equal(pacer.limit, 4);
    // A round is `limit` successes: 4 at 4, then 5 at 5...
    for (let i = 0; i < 4; i++) await pacer.run(async () => undefined, signal);
    assert.equal(pacer.limit, 5);
    for (let i = 0; i < 5 + 6 + 7; i++) await pacer.run(async () => undefined, signal);
    assert.equal(pacer.limit, 8, 'back to the configured concurrency, never above');
    for (let i = 0; i < 20; i++) await pacer.run(async () => undefined, signal);
    assert.equal(pacer.limit, 8);
    assert.deepEqual(changes[0], [4, 'lowered']);
    assert.deepEqual(changes.at(-1), [8, 'raised']);
  });

  it('does not go below one', async () => {
    const pacer = new Pacer({ max: 2 });
    for (let i = 0; i < 4; i++) {
      await assert.rejects(pacer.run(() => Promise.reject('slow'), signal));
      await new Promise((r) => setTimeout(r, 1010));
      if (pacer.limit === 1) break;
    }
    assert.equal(pacer.limit, 1);
    assert.equal(await pacer.run(async () => 'ok', signal), 'ok');
  });

  it('pauses every request to the endpoint for a Retry-After, not only the one that got it', async () => {
    const pacer = new Pacer({ max: 4 });
    await assert.rejects(pacer.run(() => Promise.reject(new Error('after:400')), signal));
    const started = Date.now();
    await pacer.run(async () => undefined, signal);
    await pacer.run(async () => undefined, signal, false);
    assert.ok(Date.now() - started >= 350, `waited ${Date.now() - started} ms`);
  });

  it('takes slots of several pacers in one order, so two callers never deadlock', async () => {
    const a = new Pacer({ max: 1 });
    const b = new Pacer({ max: 1 });
    const work = async (order: Pacer[]) => {
      const slots = await acquireInOrder(order);
      await new Promise((r) => setTimeout(r, 5));
      for (const release of slots.values()) release();
    };
    const done = Promise.all(Array.from({ length: 10 }, (_, i) => work(i % 2 ? [a, b] : [b, a])));
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('deadlock')), 2000).unref());
    await Promise.race([done, timeout]);
  });
});
