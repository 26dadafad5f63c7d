/**
 * One etcd lease kept alive by our own keep-alive loop (not the etcd3 `Lease` helper, which dates a
 * keep-alive by its response and hides the TTL the server actually granted). See deadline.ts for why the
 * local deadline makes a lost lease visible here before any other node can see it expire.
 *
 * The session ends exactly once, synchronously, through `onLost(reason)`:
 *   - 'lease-deadline': the local deadline passed (checked by a timer, before each keep-alive, on each
 *     response, and on every `alive()` call);
 *   - 'lease-lost': etcd answered a keep-alive with TTL 0 (the lease expired or was revoked).
 * `close()` ends it without calling `onLost`.
 */
import { performance } from 'node:perf_hooks';
import { EtcdLeaseInvalidError, type Etcd3, type IDuplexStream, type ILeaseKeepAliveRequest, type ILeaseKeepAliveResponse } from 'etcd3';
import type { Logger } from '../logger.js';
import { LeaseDeadline, keepAliveIntervalMs } from './deadline.js';
import { ClusterError } from './errors.js';

export type SessionLossReason = 'lease-deadline' | 'lease-lost';

export interface SessionOptions {
  client: Etcd3;
  requestTtlSeconds: number;
  marginMs: number;
  /** Deadline of unary etcd calls (grant, revoke). */
  callTimeoutMs: number;
  logger: Logger;
  /** Monotonic clock in ms; default `performance.now`. */
  now?: () => number;
}

type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

const STREAM_RETRY_MS = 100;

export class LeaseSession {
  readonly id: string;
  readonly ttlSeconds: number;
  private readonly deadline: LeaseDeadline;
  private readonly now: () => number;
  private readonly log: Logger;
  private stream: KeepAliveStream | null = null;
  private opening = false;
  private ended = false;
  private lossReported = false;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly opts: SessionOptions,
    id: string,
    ttlSeconds: number,
    grantSentAt: number,
    private readonly onLost: (session: LeaseSession, reason: SessionLossReason) => void,
  ) {
    this.id = id;
    this.ttlSeconds = ttlSeconds;
    this.now = opts.now ?? (() => performance.now());
    this.log = opts.logger;
    this.deadline = new LeaseDeadline(opts.marginMs, grantSentAt, ttlSeconds);
  }

  /** Grants a lease and starts keeping it alive. Throws ClusterError ERR_CLUSTER_UNAVAILABLE when etcd does not answer. */
  static async grant(opts: SessionOptions, onLost: (session: LeaseSession, reason: SessionLossReason) => void): Promise<LeaseSession> {
    const now = opts.now ?? (() => performance.now());
    const sentAt = now();
    let res;
    try {
      res = await opts.client.leaseClient.leaseGrant(
        { TTL: opts.requestTtlSeconds, ID: 0 },
        { deadline: new Date(Date.now() + opts.callTimeoutMs) },
      );
    } catch (err) {
      throw new ClusterError('ERR_CLUSTER_UNAVAILABLE', `etcd did not grant a lease: ${(err as Error).message}`, { cause: err });
    }
    const ttl = Number(res.TTL);
    if (!Number.isFinite(ttl) || ttl <= 0 || res.error) {
      throw new ClusterError('ERR_CLUSTER_UNAVAILABLE', `etcd refused the lease: ${res.error || `TTL ${res.TTL}`}`);
    }
    const session = new LeaseSession(opts, String(res.ID), ttl, sentAt, onLost);
    if (ttl * 1000 <= 2 * opts.marginMs) {
      // etcd never grants less than asked, so this only happens with a misconfigured margin.
      session.close();
      throw new ClusterError('ERR_CLUSTER_UNAVAILABLE', `granted lease TTL ${ttl}s leaves no room for a ${opts.marginMs}ms margin`);
    }
    session.begin();
    return session;
  }

  /**
   * True while the lease is held by our reckoning. Synchronous; the first call that finds the deadline
   * passed ends the session (and reports the loss) before returning false.
   */
  alive(): boolean {
    if (this.ended) return false;
    if (this.deadline.expired(this.now())) {
      this.lose('lease-deadline');
      return false;
    }
    return true;
  }

  /** The local deadline in `now()` milliseconds. */
  localDeadline(): number {
    return this.deadline.deadline;
  }

  /** Stops keeping the lease alive (the lease then expires in etcd after its TTL). Does not call onLost. */
  close(): void {
    this.ended = true;
    this.deadline.end();
    this.teardown();
  }

  /**
   * close(), then revoke the lease in etcd. Returns false when etcd could not be reached (the lease then
   * expires by itself after its TTL); true when it is gone (revoked now, or already expired).
   */
  async revoke(): Promise<boolean> {
    this.close();
    try {
      await this.opts.client.leaseClient.leaseRevoke({ ID: this.id }, { deadline: new Date(Date.now() + this.opts.callTimeoutMs) });
      return true;
    } catch (err) {
      if (err instanceof EtcdLeaseInvalidError) return true;
      this.log.warn({ lease: this.id, err: { message: (err as Error).message } }, 'lease revoke failed; it will expire by itself');
      return false;
    }
  }

  private begin(): void {
    const interval = keepAliveIntervalMs(this.ttlSeconds, this.opts.marginMs);
    this.keepAliveTimer = setInterval(() => this.tick(), interval);
    this.keepAliveTimer.unref();
    this.armDeadlineTimer();
    this.openStream();
  }

  private lose(reason: SessionLossReason): void {
    if (this.lossReported) return;
    this.lossReported = true;
    this.ended = true;
    this.deadline.end();
    this.teardown();
    this.log.warn({ lease: this.id, reason }, 'cluster session lost');
    this.onLost(this, reason);
  }

  private teardown(): void {
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.keepAliveTimer = this.deadlineTimer = this.retryTimer = null;
    const stream = this.stream;
    this.stream = null;
    if (stream) this.discard(stream);
  }

  /** Cancels a stream we no longer use; the cancellation surfaces as an 'error' event we expect. */
  private discard(stream: KeepAliveStream): void {
    stream.on('error', (err) => this.log.debug({ lease: this.id, err: { message: err.message } }, 'discarded keep-alive stream closed'));
    stream.cancel();
  }

  private armDeadlineTimer(): void {
    if (this.ended) return;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    const wait = Math.max(0, Math.ceil(this.deadline.deadline - this.now()));
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = null;
      // alive() ends the session when the deadline passed; otherwise a keep-alive moved it: re-arm.
      if (this.alive()) this.armDeadlineTimer();
    }, wait);
    this.deadlineTimer.unref();
  }

  private tick(): void {
    if (!this.alive()) return;
    const stream = this.stream;
    if (stream === null) {
      this.openStream();
      return;
    }
    this.deadline.sent(this.now());
    stream.write({ ID: this.id });
  }

  private openStream(): void {
    if (this.ended || this.opening || this.stream !== null) return;
    this.opening = true;
    this.opts.client.leaseClient.leaseKeepAlive().then(
      (stream) => {
        this.opening = false;
        if (this.ended) {
          this.discard(stream);
          return;
        }
        this.attach(stream);
        this.tick();
      },
      (err: unknown) => {
        this.opening = false;
        this.log.warn({ lease: this.id, err: { message: (err as Error).message } }, 'cannot open the lease keep-alive stream; retrying');
        this.scheduleReopen();
      },
    );
  }

  private attach(stream: KeepAliveStream): void {
    this.stream = stream;
    const broken = (why: string): void => {
      if (this.stream !== stream) return; // an old stream ending after we moved on, or after close()
      this.stream = null;
      this.deadline.dropPending();
      if (this.ended) return;
      this.log.warn({ lease: this.id, why }, 'lease keep-alive stream broke; reopening');
      this.scheduleReopen();
    };
    stream.on('data', (res) => {
      if (this.stream !== stream || this.ended) return;
      const stillHeld = this.deadline.acked(Number(res.TTL), this.now());
      if (!stillHeld) {
        this.lose(Number(res.TTL) <= 0 ? 'lease-lost' : 'lease-deadline');
        return;
      }
      this.armDeadlineTimer();
    });
    stream.on('error', (err) => broken(err.message));
    stream.on('end', () => broken('stream ended'));
  }

  private scheduleReopen(): void {
    if (this.ended || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.openStream();
    }, STREAM_RETRY_MS);
    this.retryTimer.unref();
  }
}
