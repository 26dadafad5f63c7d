// The local lease deadline: pure arithmetic on a fake monotonic clock.
import { describe, expect, it } from 'vitest';
import { LeaseDeadline, keepAliveIntervalMs, planLeaseTiming } from '../../../src/cluster/deadline.js';

describe('planLeaseTiming', () => {
  it('rounds the TTL up to whole seconds and defaults the margin to a quarter of it (at least 300 ms)', () => {
    expect(planLeaseTiming(5000)).toEqual({ requestTtlSeconds: 5, marginMs: 1250 });
    expect(planLeaseTiming(2000)).toEqual({ requestTtlSeconds: 2, marginMs: 500 });
    expect(planLeaseTiming(1000)).toEqual({ requestTtlSeconds: 1, marginMs: 300 });
    expect(planLeaseTiming(1500)).toEqual({ requestTtlSeconds: 2, marginMs: 500 });
    expect(planLeaseTiming(3000, 900)).toEqual({ requestTtlSeconds: 3, marginMs: 900 });
  });

  it('rejects a TTL under a second and a margin that is not less than half the TTL', () => {
    expect(() => planLeaseTiming(999)).toThrow(/at least 1s/);
    expect(() => planLeaseTiming(2000, 1000)).toThrow(/margin/);
    expect(() => planLeaseTiming(2000, 0)).toThrow(/margin/);
  });

  it('fits about three keep-alives between two deadlines', () => {
    expect(keepAliveIntervalMs(2, 500)).toBe(500);
    expect(keepAliveIntervalMs(5, 1250)).toBe(1250);
    expect(keepAliveIntervalMs(1, 300)).toBe(233);
  });
});

describe('LeaseDeadline', () => {
  it('starts at grant send time + TTL - margin', () => {
    const d = new LeaseDeadline(500, 1000, 2);
    expect(d.deadline).toBe(2500);
    expect(d.expired(2499)).toBe(false);
    expect(d.expired(2500)).toBe(true);
  });

  it('dates each acknowledged keep-alive by when it was sent, not when the answer came', () => {
    const d = new LeaseDeadline(500, 0, 2);
    d.sent(600);
    // The answer is slow: arrives 800 ms later. The lease was refreshed at some point in between; only
    // the send time is a safe lower bound.
    expect(d.acked(2, 1400)).toBe(true);
    expect(d.deadline).toBe(600 + 2000 - 500);
    // An answer that arrives once the deadline has passed saves nothing, however recent its request.
    const late = new LeaseDeadline(500, 0, 2);
    late.sent(1400);
    expect(late.acked(2, 1500)).toBe(false);
    expect(late.expired(1500)).toBe(true);
  });

  it('pairs answers with requests in order (FIFO) when several are in flight', () => {
    const d = new LeaseDeadline(500, 0, 2);
    d.sent(100);
    d.sent(700);
    expect(d.pendingCount).toBe(2);
    expect(d.acked(2, 800)).toBe(true);
    expect(d.deadline).toBe(1600);
    expect(d.acked(2, 900)).toBe(true);
    expect(d.deadline).toBe(2200);
    expect(d.pendingCount).toBe(0);
  });

  it('never moves the deadline back, and an unpaired answer extends nothing', () => {
    const d = new LeaseDeadline(500, 1000, 2);
    expect(d.acked(2, 1100)).toBe(true);
    expect(d.deadline).toBe(2500);
    d.sent(1200);
    expect(d.acked(1, 1300)).toBe(true); // a smaller TTL would give 1700: keep 2500
    expect(d.deadline).toBe(2500);
  });

  it('ends for good on TTL 0 (the lease is gone in etcd)', () => {
    const d = new LeaseDeadline(500, 0, 2);
    d.sent(100);
    expect(d.acked(0, 200)).toBe(false);
    expect(d.expired(200)).toBe(true);
    d.sent(300);
    expect(d.acked(2, 400)).toBe(false);
  });

  it('does not come back to life: an answer processed after the deadline passed does not extend it', () => {
    // A process frozen (SIGSTOP) with a keep-alive in flight: when it wakes up, the answer to a request
    // sent long ago is processed after the deadline.
    const d = new LeaseDeadline(500, 0, 2);
    d.sent(1000);
    expect(d.acked(2, 1200)).toBe(true);
    expect(d.deadline).toBe(2500);
    d.sent(1400);
    expect(d.acked(2, 5000)).toBe(false);
    expect(d.expired(5000)).toBe(true);
    expect(d.expired(0)).toBe(true);
  });

  it('drops in-flight requests when the stream breaks, so a new stream\'s answers are not misdated', () => {
    const d = new LeaseDeadline(500, 0, 2);
    d.sent(100);
    d.dropPending();
    d.sent(900);
    expect(d.acked(2, 950)).toBe(true);
    expect(d.deadline).toBe(2400);
  });
});
