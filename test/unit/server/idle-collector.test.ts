// IdleCollector: one full collection once the heap stops moving after a burst, none while busy or idle.
import { describe, expect, it } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { collectableBytes, IdleCollector, type CollectGarbage } from '../../../src/memory.js';

const MB = 1 << 20;

function collector(readings: number[]): { c: IdleCollector; calls: unknown[] } {
  const calls: unknown[] = [];
  let i = 0;
  const c = new IdleCollector((o) => calls.push(o), () => readings[Math.min(i++, readings.length - 1)]!, 16 * MB, 1 * MB);
  return { c, calls };
}

describe('IdleCollector', () => {
  it('collects once the figure holds still 16 MiB above the last low, then not again while idle', () => {
    // start 20, a burst (moving), then still at 60 (40 above the floor): one collection; the next reading
    // (after the collection) is 22 and stays there: no more.
    const { c, calls } = collector([20 * MB, 45 * MB, 70 * MB, 60 * MB, 60.5 * MB, 22 * MB, 22 * MB, 22 * MB, 22 * MB]);
    const asked = [c.tick(), c.tick(), c.tick(), c.tick(), c.tick(), c.tick(), c.tick(), c.tick()];
    expect(asked).toEqual([false, false, false, true, false, false, false, false]);
    expect(calls).toEqual([{ type: 'major', execution: 'async' }]);
    expect(c.collections).toBe(1);
  });

  it('leaves a busy daemon to V8: no collection while the figure keeps moving', () => {
    const readings = Array.from({ length: 40 }, (_, k) => (k % 2 === 0 ? 80 : 40) * MB);
    const { c, calls } = collector([20 * MB, ...readings]);
    for (let k = 0; k < 40; k++) c.tick();
    expect(calls).toHaveLength(0);
  });

  it('does not collect for small growth, and counts from the lowest figure V8 left', () => {
    // Still but only 10 MiB above the start: nothing. V8 collects by itself (down to 5): the floor follows, so
    // still at 25 (20 above 5) is a collection.
    const { c, calls } = collector([20 * MB, 30 * MB, 30 * MB, 5 * MB, 25 * MB, 25 * MB]);
    const asked = [c.tick(), c.tick(), c.tick(), c.tick(), c.tick()];
    expect(asked).toEqual([false, false, false, false, true]);
    expect(calls).toHaveLength(1);
  });

  it('asks once for memory a collection cannot free (live caches), not on every tick', () => {
    const { c, calls } = collector([20 * MB, 40 * MB, 40 * MB, 40 * MB, 40 * MB, 40 * MB]);
    for (let k = 0; k < 5; k++) c.tick();
    expect(calls).toHaveLength(1);
  });

  it('with V8\'s real gc: the buffers of a finished burst are freed once it holds still', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as CollectGarbage;
    gc();
    const c = new IdleCollector(gc, collectableBytes);
    // A burst: 40 MiB of buffers used and dropped (below the ~64 MB of external memory that makes V8 collect).
    let burst: Buffer[] | null = Array.from({ length: 40 }, () => Buffer.allocUnsafeSlow(MB).fill(1));
    expect(burst).toHaveLength(40);
    burst = null;
    const before = collectableBytes();
    expect(c.tick()).toBe(false); // moved by the burst since the collector was made
    expect(c.tick()).toBe(true); // still now
    await new Promise((r) => setTimeout(r, 200));
    expect(before - collectableBytes()).toBeGreaterThan(30 * MB);
    expect(c.tick()).toBe(false);
  });
});
