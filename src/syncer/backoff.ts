/**
 * Reconnect delays: capped exponential backoff with full jitter.
 *
 *   attempt n (1-based) waits a uniformly random delay in [0, min(cap, base * 2^(n-1))]
 *
 * "Full jitter" spreads the reconnects of many proxies that lost the same primary at the same moment. The
 * attempt counter resets once a connection stayed up for `stableAfterMs` (a flapping primary keeps backing off;
 * a primary that was fine for a while gets a fast first retry). `minMs` keeps a floor under the random draw so
 * a tight loop cannot happen even when the random source returns 0.
 */

export interface BackoffOptions {
  /** Delay ceiling of the first retry (default 100 ms). */
  baseMs?: number;
  /** Largest delay (default 30 s). */
  capMs?: number;
  /** Smallest delay (default 10 ms). */
  minMs?: number;
  /** A connection that lasted this long resets the attempt counter (default 60 s). */
  stableAfterMs?: number;
  /** Random source in [0, 1) (tests inject a fixed one). */
  random?: () => number;
}

export class Backoff {
  readonly baseMs: number;
  readonly capMs: number;
  readonly minMs: number;
  readonly stableAfterMs: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(opts: BackoffOptions = {}) {
    this.baseMs = opts.baseMs ?? 100;
    this.capMs = opts.capMs ?? 30_000;
    this.minMs = opts.minMs ?? 10;
    this.stableAfterMs = opts.stableAfterMs ?? 60_000;
    this.random = opts.random ?? Math.random;
    if (!(this.baseMs > 0) || !(this.capMs >= this.baseMs) || !(this.minMs >= 0) || this.minMs > this.capMs) {
      throw new RangeError(`invalid backoff settings base=${this.baseMs} cap=${this.capMs} min=${this.minMs}`);
    }
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The ceiling of the next delay (before jitter). */
  ceiling(): number {
    // 2^(n-1) overflows to Infinity for large n; Math.min keeps the cap.
    return Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.attempt, 60));
  }

  /** Counts a failure and returns how long to wait before the next attempt. */
  next(): number {
    const ceiling = this.ceiling();
    this.attempt++;
    return Math.max(this.minMs, Math.floor(this.random() * ceiling));
  }

  /** The delay after errors that retrying alone cannot fix: between 80 % and 100 % of the cap. */
  slow(): number {
    this.attempt++;
    return Math.round(this.capMs * (0.8 + 0.2 * this.random()));
  }

  /** Tells the backoff that a connection ended after `uptimeMs`; a long enough one resets the counter. */
  connectionEnded(uptimeMs: number): void {
    if (uptimeMs >= this.stableAfterMs) this.attempt = 0;
  }

  /**
   * Tells the backoff that the connection that just ended delivered binlog events: it was not a failed
   * attempt, so the delay does not keep growing across cuts of working connections (a flaky network would
   * otherwise leave the proxy idle for up to `capMs` after each cut). The counter is capped rather than
   * reset so that a primary that kills every dump right away is still retried at most every few 100 ms.
   */
  progressed(): void {
    this.attempt = Math.min(this.attempt, 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
