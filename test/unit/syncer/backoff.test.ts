import { describe, expect, it } from 'vitest';
import { Backoff } from '../../../src/syncer/backoff.js';

describe('Backoff', () => {
  it('doubles the ceiling per failure up to the cap (100 ms → 30 s by default)', () => {
    const b = new Backoff({ random: () => 0.999999 });
    const delays = Array.from({ length: 12 }, () => b.next());
    expect(delays.slice(0, 6)).toEqual([99, 199, 399, 799, 1599, 3199]);
    expect(Math.max(...delays)).toBeLessThanOrEqual(30_000);
    expect(delays.at(-1)).toBe(29_999);
  });

  it('uses full jitter: uniform in [0, ceiling], with a floor against tight loops', () => {
    const rs = [0, 0.5, 0.25];
    let i = 0;
    const b = new Backoff({ baseMs: 1000, capMs: 8000, minMs: 5, random: () => rs[i++ % rs.length]! });
    expect(b.next()).toBe(5); // 0 * 1000, floored at minMs
    expect(b.next()).toBe(1000); // 0.5 * 2000
    expect(b.next()).toBe(1000); // 0.25 * 4000
  });

  it('never overflows after very many failures', () => {
    const b = new Backoff({ random: () => 0.5 });
    for (let i = 0; i < 5000; i++) b.next();
    expect(b.next()).toBe(15_000);
  });

  it('resets after a stable connection, not after a short one', () => {
    const b = new Backoff({ stableAfterMs: 1000, random: () => 0.999 });
    b.next();
    b.next();
    b.next();
    b.connectionEnded(999);
    expect(b.attempts).toBe(3);
    b.connectionEnded(1000);
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(99);
  });

  it('slow(): near the cap for errors an operator must fix', () => {
    const b = new Backoff({ capMs: 10_000, random: () => 0 });
    expect(b.slow()).toBe(8000);
    const c = new Backoff({ capMs: 10_000, random: () => 0.9999 });
    expect(c.slow()).toBe(10_000);
  });

  it('progressed(): cuts of connections that streamed do not grow the delay (regression: 30 s stalls after 10 cuts)', () => {
    const b = new Backoff({ baseMs: 100, capMs: 30_000, random: () => 0.9999 });
    for (let i = 0; i < 12; i++) b.next();
    expect(b.ceiling()).toBe(30_000);
    b.progressed();
    expect(b.next()).toBe(399);
    for (let i = 0; i < 20; i++) {
      b.progressed();
      expect(b.next()).toBeLessThan(400);
    }
    const fresh = new Backoff({ baseMs: 100, random: () => 0.9999 });
    fresh.progressed();
    expect(fresh.attempts).toBe(0);
  });

  it('rejects nonsense settings', () => {
    expect(() => new Backoff({ baseMs: 0 })).toThrow(RangeError);
    expect(() => new Backoff({ baseMs: 100, capMs: 50 })).toThrow(RangeError);
  });
});
