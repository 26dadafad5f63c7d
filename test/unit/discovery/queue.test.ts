import { describe, expect, it } from 'vitest';
import { KeyedQueue } from '../../../src/discovery/queue.js';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('KeyedQueue', () => {
  it('never runs more than `concurrency` tasks at once, also when tasks finish and new ones arrive together', async () => {
    const q = new KeyedQueue(2);
    let running = 0;
    let peak = 0;
    const gates = Array.from({ length: 6 }, () => deferred<void>());
    const results = gates.map((g, i) =>
      q.run(`k${i}`, async () => {
        running++;
        peak = Math.max(peak, running);
        await g.promise;
        running--;
        return i;
      }),
    );
    await tick();
    expect(running).toBe(2);
    gates[0]!.resolve();
    // A new task arrives in the same turn a slot frees up.
    const late = q.run('late', async () => {
      running++;
      peak = Math.max(peak, running);
      running--;
      return 99;
    });
    await tick();
    expect(peak).toBe(2);
    for (const g of gates) g.resolve();
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await late).toBe(99);
    expect(peak).toBe(2);
  });

  it('joins a task that is already queued or running for the same id', async () => {
    const q = new KeyedQueue(1);
    const gate = deferred<string>();
    let calls = 0;
    const a = q.run('same', () => {
      calls++;
      return gate.promise;
    });
    const b = q.run('same', async () => {
      calls++;
      return 'second';
    });
    expect(q.has('same')).toBe(true);
    gate.resolve('first');
    expect(await a).toBe('first');
    expect(await b).toBe('first');
    expect(calls).toBe(1);
    // Once finished, the id can run again.
    expect(await q.run('same', async () => 'again')).toBe('again');
  });

  it('passes errors through and keeps going', async () => {
    const q = new KeyedQueue(1);
    const failing = q.run('x', async () => {
      throw new Error('boom');
    });
    await expect(failing).rejects.toThrow('boom');
    expect(await q.run('y', async () => 1)).toBe(1);
  });

  it('onIdle resolves when everything finished', async () => {
    const q = new KeyedQueue(1);
    await q.onIdle();
    const gate = deferred<void>();
    void q.run('a', () => gate.promise);
    let idle = false;
    const waiting = q.onIdle().then(() => {
      idle = true;
    });
    await tick();
    expect(idle).toBe(false);
    gate.resolve();
    await waiting;
    expect(idle).toBe(true);
    expect(q.size).toBe(0);
  });

  it('rejects a bad concurrency', () => {
    expect(() => new KeyedQueue(0)).toThrow(RangeError);
  });
});
