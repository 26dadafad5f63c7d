/**
 * The local lease deadline: pure arithmetic, no I/O, no timers (session.ts drives it).
 *
 * Why a local deadline is safe (the fencing argument):
 *   etcd expires a lease TTL after the last keep-alive it *processed*. A keep-alive is processed after we
 *   *sent* it, so, measured on any clock that runs at the same rate, the lease cannot expire on the server
 *   before `sentAt + TTL`. We therefore date each acknowledged keep-alive by its send time (keep-alive
 *   responses arrive in request order on one stream, so a FIFO of send times pairs them up) and hold the
 *   leadership only until
 *
 *       deadline = sentAt(last acknowledged keep-alive) + TTL(granted by the server) - margin.
 *
 *   Another node can only win the election once the leader key is gone, i.e. once the lease expired on the
 *   server: at `sentAt + TTL` at the earliest, which is `margin` after our deadline. The margin is the time
 *   the old leader has to stop its syncer (the lose-leadership hook) plus slack for timer lateness; the
 *   syncer also checks the deadline synchronously before every write (LeaderTerm.isCurrent), so a process
 *   that was frozen (SIGSTOP, a long GC pause, a VM stall) refuses to write on its first check after it
 *   wakes up, before any timer has run. etcd itself only ever lengthens a lease (a new etcd leader renews
 *   every lease to its full TTL), which moves the server-side expiry later, never earlier.
 *
 *   The clock is `performance.now()` (monotonic; it keeps running while the process is stopped), so wall
 *   clock steps cannot move the deadline.
 */

import { ValidationError } from '../config/validate.js';

export interface LeaseTiming {
  /** TTL requested from etcd, whole seconds (etcd's unit; it may grant more, never less). */
  requestTtlSeconds: number;
  /** Safety margin in ms between the local deadline and the earliest server-side expiry. */
  marginMs: number;
}

/** Default margin: a quarter of the TTL, at least 300 ms; always less than half the TTL. */
export function planLeaseTiming(leaseTtlMs: number, marginMs?: number): LeaseTiming {
  if (!Number.isFinite(leaseTtlMs) || leaseTtlMs < 1000) {
    throw new ValidationError('cluster.lease_ttl', `cluster.lease_ttl must be at least 1s, got ${leaseTtlMs}ms`);
  }
  const requestTtlSeconds = Math.ceil(leaseTtlMs / 1000);
  const ttlMs = requestTtlSeconds * 1000;
  const margin = marginMs ?? Math.max(300, Math.round(ttlMs / 4));
  if (!(margin > 0 && margin < ttlMs / 2)) {
    throw new ValidationError(
      'cluster.step_down_margin',
      `the step-down margin must be between 0 and half the lease TTL (${ttlMs / 2}ms), got ${margin}ms`,
    );
  }
  return { requestTtlSeconds, marginMs: margin };
}

/** Keep-alives are sent often enough that about three of them fit between two deadlines. */
export function keepAliveIntervalMs(grantedTtlSeconds: number, marginMs: number): number {
  return Math.max(50, Math.floor((grantedTtlSeconds * 1000 - marginMs) / 3));
}

export class LeaseDeadline {
  private deadlineAt: number;
  private readonly pending: number[] = [];
  private ended = false;

  /** `grantSentAt`: when the LeaseGrant request was sent; `ttlSeconds`: the TTL etcd granted. */
  constructor(
    readonly marginMs: number,
    grantSentAt: number,
    ttlSeconds: number,
  ) {
    this.deadlineAt = grantSentAt + ttlSeconds * 1000 - marginMs;
  }

  get deadline(): number {
    return this.deadlineAt;
  }

  /** True once `now` reached the deadline, or after `end()`. Never turns back to false. */
  expired(now: number): boolean {
    if (!this.ended && now >= this.deadlineAt) this.ended = true;
    return this.ended;
  }

  /** Ends the deadline for good (etcd said the lease is gone). */
  end(): void {
    this.ended = true;
  }

  /** A keep-alive request was written to the current stream at `at`. */
  sent(at: number): void {
    this.pending.push(at);
  }

  /**
   * The next keep-alive response on the current stream arrived at `now`, with the TTL etcd reports
   * (0 = the lease no longer exists). Returns whether the lease is still held.
   */
  acked(ttlSeconds: number, now: number): boolean {
    const sentAt = this.pending.shift();
    if (this.expired(now)) return false;
    if (ttlSeconds <= 0) {
      this.ended = true;
      return false;
    }
    // A response we cannot pair with a request (should not happen) must not extend anything.
    if (sentAt === undefined) return true;
    this.deadlineAt = Math.max(this.deadlineAt, sentAt + ttlSeconds * 1000 - this.marginMs);
    return true;
  }

  /** The stream broke: responses to requests sent on it will never come. */
  dropPending(): void {
    this.pending.length = 0;
  }

  get pendingCount(): number {
    return this.pending.length;
  }
}
