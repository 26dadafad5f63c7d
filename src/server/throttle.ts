/**
 * Throttling of repeated authentication failures per client address, in the spirit of MySQL's
 * max_connect_errors: after `maxFailures` failed logins within `windowMs`, the address is refused with
 * ERR 1129 for `blockMs`. A successful login clears the address's count. Memory is bounded: at most
 * `maxTracked` addresses are remembered (the oldest entries are dropped first).
 */

export interface AuthThrottleOptions {
  maxFailures: number;
  windowMs: number;
  blockMs: number;
  maxTracked: number;
}

export const DEFAULT_AUTH_THROTTLE: AuthThrottleOptions = {
  maxFailures: 10,
  windowMs: 60_000,
  blockMs: 5 * 60_000,
  maxTracked: 10_000,
};

interface Entry {
  /** Failure times (ms) inside the window, oldest first. */
  failures: number[];
  blockedUntil: number;
}

export class AuthThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly opts: AuthThrottleOptions;

  constructor(
    opts: Partial<AuthThrottleOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.opts = { ...DEFAULT_AUTH_THROTTLE, ...opts };
  }

  /** True while `address` is refused. */
  isBlocked(address: string): boolean {
    const e = this.entries.get(address);
    if (!e) return false;
    if (e.blockedUntil > this.now()) return true;
    if (e.blockedUntil !== 0) {
      // The block ran out: start afresh.
      this.entries.delete(address);
    }
    return false;
  }

  /** Records a failed login; returns true when this failure blocks the address. */
  recordFailure(address: string): boolean {
    const t = this.now();
    let e = this.entries.get(address);
    if (e) {
      this.entries.delete(address); // re-insert: Map order = least recently touched first
    } else {
      e = { failures: [], blockedUntil: 0 };
    }
    this.entries.set(address, e);
    while (e.failures.length > 0 && e.failures[0]! <= t - this.opts.windowMs) e.failures.shift();
    e.failures.push(t);
    if (e.failures.length > this.opts.maxFailures) e.failures.shift();
    if (e.failures.length >= this.opts.maxFailures && e.blockedUntil <= t) {
      e.blockedUntil = t + this.opts.blockMs;
      this.evict();
      return true;
    }
    this.evict();
    return false;
  }

  /** A successful login clears the address (as MySQL resets its connect-error count). */
  recordSuccess(address: string): void {
    const e = this.entries.get(address);
    if (e && e.blockedUntil <= this.now()) this.entries.delete(address);
  }

  /** FLUSH HOSTS. */
  clear(): void {
    this.entries.clear();
  }

  get trackedAddresses(): number {
    return this.entries.size;
  }

  private evict(): void {
    while (this.entries.size > this.opts.maxTracked) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
