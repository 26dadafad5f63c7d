/**
 * `EtcdCoordinator`: the `Coordinator` seam (types.ts) over etcd v3 through the `etcd3` client. This is the
 * only file that speaks to etcd about leadership; the rest of the daemon sees events and a LeaderTerm.
 *
 * Election (our own, on one key, rather than etcd3's `Election` helper, so that the leader record, the
 * fencing token and the lease are all ours to check):
 *   - each node holds one session lease (session.ts) with its member record attached;
 *   - a candidate campaigns with one transaction: IF create_revision(<prefix>leader) == 0 THEN put the
 *     leader record with its session lease ELSE read the key. The winner's epoch is the revision of that
 *     transaction (= the key's create revision), which increases with every new leader;
 *   - everybody watches the leader key (plus a periodic re-read, in case a watch event is ever missed) and
 *     campaigns again when it disappears, i.e. when the leader's lease expires or is revoked.
 *
 * Fencing, so that two syncers never write at once:
 *   1. Time: the leader steps down at its local deadline (deadline.ts), a margin before its lease can expire
 *      in etcd, and awaits the lose-leadership hooks (stop the syncer) before anything else. No other node
 *      can win before the lease expires in etcd, so the old syncer is stopped before a new one can start.
 *   2. Every write that only a leader may do checks `LeaderTerm.isCurrent()` synchronously first; that
 *      check reads the monotonic clock, so a process frozen past its deadline refuses on its first check
 *      after waking, even before its timers run.
 *   3. Writes to etcd (the syncer intent) are transactions guarded by the leader key's create revision and
 *      lease: a write from a deposed leader that reaches etcd late fails instead of overwriting.
 *   4. The epoch is stored with every intent and handed to the syncer, so storage can refuse a stale
 *      epoch (a write tagged with an epoch lower than one it has already seen).
 *
 * Secrets: the intent holds the syncer password (a new leader needs it). It is never logged, and it is
 * sealed with the cluster secret when one is configured (secrets.ts); etcd must be access-controlled
 * (TLS client certificates and/or etcd auth, passed through `etcd` options) in any case.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Etcd3, EtcdLeaseInvalidError, type IKeyValue, type IOptions, type ITxnResponse, type Watcher } from 'etcd3';
import type { KvRange } from '../discovery/store.js';
import type { Logger } from '../logger.js';
import { planLeaseTiming, type LeaseTiming } from './deadline.js';
import { ClusterError } from './errors.js';
import { ClusterKeys, checkName } from './keys.js';
import { decodeIntent, decodeLeader, decodeMember, describeIntent, encodeIntent, encodeLeader, encodeMember } from './records.js';
import { SecretBox } from './secrets.js';
import { LeaseSession, type SessionLossReason } from './session.js';
import { EtcdKvRange } from './shared-kv.js';
import type {
  Coordinator,
  CoordinatorEvents,
  LeaderInfo,
  LeaderTerm,
  LoseLeadershipHook,
  MemberInfo,
  MemberPosition,
  MemberStatus,
  Role,
  StepDownReason,
  StoredSyncerIntent,
  SyncerIntent,
} from './types.js';

export const DEFAULT_PREFIX = '/binlog-proxy/';
export const DEFAULT_LEASE_TTL_MS = 5000;

export interface EtcdCoordinatorOptions {
  /** This node: its name is the member name and must be unique in the cluster. */
  self: MemberInfo;
  /** etcd3 client options: `hosts`, and `credentials` (TLS) / `auth` when etcd is access-controlled. */
  etcd: IOptions;
  /** Key prefix (default `/binlog-proxy/`). */
  prefix?: string;
  /** Session lease TTL in ms, rounded up to whole seconds (default 5000). */
  leaseTtlMs?: number;
  /** Local deadline = lease expiry minus this (default: a quarter of the TTL, at least 300 ms). */
  stepDownMarginMs?: number;
  /** Deadline of each etcd call (default: half the TTL, at least 1 s). */
  callTimeoutMs?: number;
  /** False: never campaigns (an observer); default true. */
  candidate?: boolean;
  /**
   * Asked before every campaign while nobody leads: false skips this round (asked again after
   * `campaignRecheckMs`). The daemon uses it so that only a node whose log is not behind any other live
   * member's campaigns (see position.ts). A throw fails the round (retried with backoff).
   */
  campaignGate?: () => Promise<boolean>;
  /** Delay before asking `campaignGate` again after it said no (default 250 ms). */
  campaignRecheckMs?: number;
  /** Cluster secret that seals the syncer password in etcd (same on every node); null: stored unsealed. */
  secret?: string | null;
  /** Safety-net re-read of the leader key (default: half the TTL, at least 1 s). */
  reconcileIntervalMs?: number;
  /**
   * Longest wait for the lose-leadership hooks (default: 4 TTLs, at least 10 s). Past it the step-down goes
   * on with an error logged: the syncer may still be stopping, but its writes are already refused by
   * `LeaderTerm.isCurrent()`.
   */
  hookTimeoutMs?: number;
  logger: Logger;
}

/** What a leader-only write is guarded by: the leader key must still be the one this term created. */
export interface LeaderGuard {
  leaderKey: string;
  /** The leader key's create revision when the term began. */
  epoch: bigint;
  /** The term's session lease (decimal, as etcd3 gives it). */
  leaseId: string;
}

/**
 * Puts `key` in one transaction that only applies while the leader key has the guard's create revision and
 * lease. A deposed leader's write that reaches etcd late fails (succeeded: false) instead of landing.
 */
export function fencedPut(client: Etcd3, guard: LeaderGuard, key: string, value: Buffer, options: { deadline: Date }): Promise<ITxnResponse> {
  return client
    .if(guard.leaderKey, 'Create', '==', guard.epoch.toString())
    .and(guard.leaderKey, 'Lease', '==', guard.leaseId)
    .then(client.put(key).value(value))
    .options(options)
    .commit();
}

class Term implements LeaderTerm {
  readonly controller = new AbortController();

  constructor(
    readonly epoch: bigint,
    readonly session: LeaseSession,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  isCurrent(): boolean {
    // session.alive() ends the session (and so this term, synchronously) when the deadline has passed.
    return !this.controller.signal.aborted && this.session.alive();
  }

  localDeadline(): number {
    return this.session.localDeadline();
  }
}

const MAX_RETRY_MS = 2000;

export class EtcdCoordinator implements Coordinator {
  readonly name: string;
  private readonly client: Etcd3;
  private readonly keys: ClusterKeys;
  private readonly timing: LeaseTiming;
  private readonly callTimeoutMs: number;
  private readonly reconcileIntervalMs: number;
  private readonly hookTimeoutMs: number;
  /** Our own earlier leases whose revoke did not get through; revoked again when seen on the leader key. */
  private readonly staleLeases = new Set<string>();
  private readonly candidate: boolean;
  private readonly campaignGate: (() => Promise<boolean>) | null;
  private readonly campaignRecheckMs: number;
  private recheckTimer: NodeJS.Timeout | null = null;
  private readonly box: SecretBox;
  private readonly log: Logger;
  private readonly emitter = new EventEmitter();
  private readonly hooks: LoseLeadershipHook[] = [];
  private readonly background = new Set<Promise<unknown>>();
  private readonly intentWatchers = new Set<Watcher>();

  private self: MemberInfo;
  private position: MemberPosition | null = null;
  /** Session whose lease carries the member record as last published (`memberFor === session`). */
  private memberFor: LeaseSession | null = null;
  private session: LeaseSession | null = null;
  private term: Term | null = null;
  private roleNow: Role = 'stopped';
  private leaderSeen: LeaderInfo | null = null;
  private stepDownDone: Promise<void> | null = null;
  private leaderWatcher: Watcher | null = null;
  private reconcileTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelayMs = 100;
  private dirty = false;
  private loopRunning = false;
  private reconciling: Promise<void> | null = null;
  private started = false;
  private stopping = false;
  private closed = false;
  private stopped: Promise<void> | null = null;

  constructor(opts: EtcdCoordinatorOptions) {
    this.name = checkName(opts.self.name, 'cluster.name');
    this.self = { ...opts.self };
    this.keys = new ClusterKeys(opts.prefix ?? DEFAULT_PREFIX);
    this.timing = planLeaseTiming(opts.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS, opts.stepDownMarginMs);
    const ttlMs = this.timing.requestTtlSeconds * 1000;
    this.callTimeoutMs = opts.callTimeoutMs ?? Math.max(1000, Math.round(ttlMs / 2));
    this.reconcileIntervalMs = opts.reconcileIntervalMs ?? Math.max(1000, Math.round(ttlMs / 2));
    this.hookTimeoutMs = opts.hookTimeoutMs ?? Math.max(10_000, 4 * ttlMs);
    this.candidate = opts.candidate ?? true;
    this.campaignGate = opts.campaignGate ?? null;
    this.campaignRecheckMs = opts.campaignRecheckMs ?? 250;
    this.box = new SecretBox(opts.secret ?? null);
    this.log = opts.logger.child({ component: 'cluster', node: this.name });
    this.client = new Etcd3(opts.etcd);
  }

  // ---------------------------------------------------------------------------------------------------
  // Lifecycle

  async start(): Promise<void> {
    if (this.started) throw new ClusterError('ERR_CLUSTER_STATE', 'the coordinator was already started');
    this.started = true;
    if (!this.box.sealing) {
      this.log.warn('no cluster secret: the syncer password is stored in etcd unsealed; etcd must be access-controlled');
    }
    this.setRole('follower');
    this.emit('follower');
    // The first round runs here so that an unreachable etcd fails start() instead of hanging in the background.
    try {
      await this.reconcileOnce();
    } catch (err) {
      await this.stop();
      throw err instanceof ClusterError
        ? err
        : new ClusterError('ERR_CLUSTER_UNAVAILABLE', `cannot join the cluster: ${(err as Error).message}`, { cause: err });
    }
    try {
      const watcher = await this.client.watch().key(this.keys.leader).create();
      this.leaderWatcher = watcher;
      watcher.on('put', () => this.kick());
      watcher.on('delete', () => this.kick());
      watcher.on('connected', () => this.kick());
      watcher.on('disconnected', (err) => this.log.warn({ err: { message: err.message } }, 'leader watch disconnected; reconnecting'));
      watcher.on('error', (err) => this.log.warn({ err: { message: err.message } }, 'leader watch failed'));
    } catch (err) {
      await this.stop();
      throw new ClusterError('ERR_CLUSTER_UNAVAILABLE', `cannot watch the leader key: ${(err as Error).message}`, { cause: err });
    }
    this.reconcileTimer = setInterval(() => this.kick(), this.reconcileIntervalMs);
    this.reconcileTimer.unref();
    this.kick();
    this.log.info(
      { lease_ttl_s: this.timing.requestTtlSeconds, margin_ms: this.timing.marginMs, candidate: this.candidate, prefix: this.keys.prefix },
      'joined the cluster',
    );
  }

  stop(): Promise<void> {
    if (!this.started) return Promise.resolve();
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.recheckTimer) clearTimeout(this.recheckTimer);
    this.reconcileTimer = this.retryTimer = this.recheckTimer = null;
    if (this.term) this.beginStepDown('stopping');
    if (this.stepDownDone) await this.stepDownDone;
    if (this.reconciling) await this.reconciling;
    this.closed = true;
    const session = this.session;
    this.session = null;
    // Revoking the lease deletes the member record and (if still held) the leader key at once, so the
    // next leader does not have to wait for the TTL.
    if (session) await session.revoke();
    await Promise.allSettled([...this.background]);
    const watchers = [...this.intentWatchers, ...(this.leaderWatcher ? [this.leaderWatcher] : [])];
    this.intentWatchers.clear();
    this.leaderWatcher = null;
    await Promise.allSettled(watchers.map((w) => w.cancel()));
    this.client.close();
    this.setRole('stopped');
    this.log.info('left the cluster');
  }

  // ---------------------------------------------------------------------------------------------------
  // Observers

  role(): Role {
    return this.roleNow;
  }

  isLeader(): boolean {
    return this.term !== null && this.term.isCurrent();
  }

  currentTerm(): LeaderTerm | null {
    return this.term !== null && this.term.isCurrent() ? this.term : null;
  }

  leader(): LeaderInfo | null {
    return this.leaderSeen;
  }

  on<E extends keyof CoordinatorEvents>(event: E, listener: (...args: CoordinatorEvents[E]) => void): this {
    this.emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<E extends keyof CoordinatorEvents>(event: E, listener: (...args: CoordinatorEvents[E]) => void): this {
    this.emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  onLoseLeadership(hook: LoseLeadershipHook): void {
    this.hooks.push(hook);
  }

  /** Lease timing in use (for logs, status pages and tests). */
  timingInfo(): { requestTtlSeconds: number; marginMs: number; grantedTtlSeconds: number | null } {
    return { ...this.timing, grantedTtlSeconds: this.session?.ttlSeconds ?? null };
  }

  // ---------------------------------------------------------------------------------------------------
  // Members

  async publishSelf(info: MemberInfo, position: MemberPosition | null = null): Promise<void> {
    if (info.name !== this.name) {
      throw new ClusterError('ERR_CLUSTER_STATE', `publishSelf: member name '${info.name}' is not this node's name '${this.name}'`);
    }
    const addressChanged = info.adminUrl !== this.self.adminUrl || info.serverAddr !== this.self.serverAddr;
    this.self = { ...info };
    this.position = position;
    this.memberFor = null;
    const session = this.session;
    if (session === null || !session.alive()) return; // published with the next session
    await this.putMember(session);
    const term = this.term;
    if (addressChanged && term !== null && term.isCurrent()) {
      // Keep the leader record in step (same lease, guarded by our epoch so we never resurrect a lost term).
      await this.etcd('update the leader record', () =>
        this.client
          .if(this.keys.leader, 'Create', '==', term.epoch.toString())
          .and(this.keys.leader, 'Lease', '==', term.session.id)
          .then(this.client.put(this.keys.leader).value(encodeLeader(this.self)).lease(term.session.id))
          .options(this.deadline())
          .commit(),
      );
      this.kick();
    }
  }

  async members(): Promise<MemberStatus[]> {
    const [leaderKv, res] = await Promise.all([
      this.readLeaderKv(),
      this.etcd('list members', () => this.client.getAll().prefix(this.keys.membersPrefix).options(this.deadline()).exec()),
    ]);
    let leaderName: string | null = null;
    if (leaderKv) {
      try {
        leaderName = decodeLeader(leaderKv.value, leaderKv.create_revision).name;
      } catch (err) {
        this.log.error({ err: { code: (err as ClusterError).code, message: (err as Error).message } }, 'malformed leader record');
      }
    }
    const out: MemberStatus[] = [];
    for (const kv of res.kvs) {
      try {
        out.push(decodeMember(kv.value, leaderName));
      } catch (err) {
        this.log.warn({ key: kv.key.toString('utf8'), err: { message: (err as Error).message } }, 'skipping a malformed member record');
      }
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  // ---------------------------------------------------------------------------------------------------
  // Syncer intent

  async getSyncerIntent(): Promise<StoredSyncerIntent | null> {
    const res = await this.etcd('read the syncer intent', () => this.client.get(this.keys.intent).options(this.deadline()).exec());
    const kv = res.kvs[0];
    return kv ? decodeIntent(kv.value, kv.mod_revision, this.box, this.keys.intent) : null;
  }

  async proposeSyncerIntent(intent: SyncerIntent): Promise<bigint> {
    const term = this.term;
    if (term === null || !term.isCurrent()) {
      throw new ClusterError('ERR_NOT_LEADER', `node ${this.name} is not the leader; the syncer intent was not stored`);
    }
    const value = encodeIntent(intent, { epoch: term.epoch, leader: this.name, now: new Date() }, this.box, this.keys.intent);
    const res = await this.etcd('store the syncer intent', () =>
      fencedPut(this.client, { leaderKey: this.keys.leader, epoch: term.epoch, leaseId: term.session.id }, this.keys.intent, value, this.deadline()),
    );
    if (!res.succeeded) {
      this.kick();
      throw new ClusterError('ERR_NOT_LEADER', `node ${this.name} lost the leadership (epoch ${term.epoch}); the syncer intent was not stored`);
    }
    this.log.info({ ...describeIntent(intent), epoch: term.epoch.toString() }, 'stored the syncer intent');
    return BigInt(res.header.revision);
  }

  async watchSyncerIntent(cb: (intent: StoredSyncerIntent | null) => void): Promise<() => Promise<void>> {
    if (this.closed) throw new ClusterError('ERR_CLUSTER_CLOSED', 'the coordinator is stopped');
    const watcher = await this.etcd('watch the syncer intent', () => this.client.watch().key(this.keys.intent).create());
    this.intentWatchers.add(watcher);
    const deliver = (intent: StoredSyncerIntent | null): void => {
      try {
        cb(intent);
      } catch (err) {
        this.log.error({ err: { message: (err as Error).message } }, 'syncer intent listener threw');
      }
    };
    watcher.on('put', (kv: IKeyValue) => {
      let intent: StoredSyncerIntent;
      try {
        intent = decodeIntent(kv.value, kv.mod_revision, this.box, this.keys.intent);
      } catch (err) {
        this.log.error({ err: { code: (err as ClusterError).code, message: (err as Error).message } }, 'ignoring an unreadable syncer intent');
        return;
      }
      deliver(intent);
    });
    watcher.on('delete', () => deliver(null));
    watcher.on('error', (err) => this.log.warn({ err: { message: err.message } }, 'syncer intent watch failed'));
    return async () => {
      if (!this.intentWatchers.delete(watcher)) return;
      await watcher.cancel();
    };
  }

  sharedKv(namespace: string): KvRange {
    return new EtcdKvRange(this.client, this.keys.shared(namespace), this.callTimeoutMs);
  }

  // ---------------------------------------------------------------------------------------------------
  // The reconcile loop: one round at a time; any trigger during a round causes one more round.

  private kick(): void {
    if (this.closed) return;
    this.dirty = true;
    if (this.loopRunning) return;
    this.loopRunning = true;
    this.reconciling = this.runReconcile();
  }

  private async runReconcile(): Promise<void> {
    try {
      while (this.dirty && !this.closed) {
        this.dirty = false;
        try {
          await this.reconcileOnce();
          this.retryDelayMs = 100;
        } catch (err) {
          this.log.warn({ err: { code: (err as ClusterError).code, message: (err as Error).message }, retry_ms: this.retryDelayMs }, 'cluster round failed; retrying');
          this.scheduleRetry();
        }
      }
    } finally {
      this.loopRunning = false;
    }
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.kick();
    }, this.retryDelayMs);
    this.retryTimer.unref();
    this.retryDelayMs = Math.min(MAX_RETRY_MS, this.retryDelayMs * 2);
  }

  private scheduleRecheck(): void {
    if (this.closed || this.recheckTimer) return;
    this.recheckTimer = setTimeout(() => {
      this.recheckTimer = null;
      this.kick();
    }, this.campaignRecheckMs);
    this.recheckTimer.unref();
  }

  private async reconcileOnce(): Promise<void> {
    // Never campaign (or re-read) while the hooks of a step-down are still stopping the syncer.
    if (this.stepDownDone) await this.stepDownDone;
    if (this.closed) return;
    const session = await this.ensureSession();
    if (this.memberFor !== session) await this.putMember(session);
    let kv = await this.readLeaderKv();
    if (kv === null && this.candidate && !this.stopping && session.alive() && this.campaignGate !== null) {
      this.observeLeader(null, session); // nobody leads while the gate decides (admin requests get 503)
      if (!(await this.campaignGate())) {
        this.scheduleRecheck();
        return;
      }
      kv = await this.readLeaderKv(); // the gate took time: somebody may have won meanwhile
    }
    if (kv === null && this.candidate && !this.stopping && session.alive()) {
      const res = await this.etcd('campaign', () =>
        this.client
          .if(this.keys.leader, 'Create', '==', 0)
          .then(this.client.put(this.keys.leader).value(encodeLeader(this.self)).lease(session.id))
          .else(this.client.get(this.keys.leader))
          .options(this.deadline())
          .commit(),
      );
      if (res.succeeded) {
        this.adoptLeadership(BigInt(res.header.revision), session);
        return;
      }
      kv = res.responses[0]?.response_range?.kvs[0] ?? null;
    }
    this.observeLeader(kv, session);
  }

  private async ensureSession(): Promise<LeaseSession> {
    const current = this.session;
    if (current !== null && current.alive()) return current;
    const session = await LeaseSession.grant(
      {
        client: this.client,
        requestTtlSeconds: this.timing.requestTtlSeconds,
        marginMs: this.timing.marginMs,
        callTimeoutMs: this.callTimeoutMs,
        logger: this.log,
      },
      (s, reason) => this.onSessionLost(s, reason),
    );
    if (this.closed || this.stopping) {
      await session.revoke();
      throw new ClusterError('ERR_CLUSTER_CLOSED', 'the coordinator is stopping');
    }
    this.session = session;
    this.log.info({ lease: session.id, ttl_s: session.ttlSeconds }, 'cluster session started');
    return session;
  }

  private async putMember(session: LeaseSession): Promise<void> {
    await this.etcd('publish the member record', () =>
      this.client.put(this.keys.member(this.name)).value(encodeMember(this.self, this.position, new Date())).lease(session.id).options(this.deadline()).exec(),
    );
    if (this.session === session) this.memberFor = session;
  }

  private async readLeaderKv(): Promise<IKeyValue | null> {
    const res = await this.etcd('read the leader key', () => this.client.get(this.keys.leader).options(this.deadline()).exec());
    return res.kvs[0] ?? null;
  }

  private adoptLeadership(epoch: bigint, session: LeaseSession): void {
    if (this.session !== session || this.closed || this.stopping || !session.alive()) return;
    if (this.term !== null) return;
    const term = new Term(epoch, session);
    this.term = term;
    this.setRole('leader');
    this.log.info({ epoch: epoch.toString(), lease: session.id }, 'became the leader');
    this.emit('leader', term);
    this.setLeaderSeen({ ...this.self, epoch });
  }

  private observeLeader(kv: IKeyValue | null, session: LeaseSession): void {
    if (kv === null) {
      if (this.term !== null) this.beginStepDown('leader-key-lost');
      this.setLeaderSeen(null);
      return;
    }
    let info: LeaderInfo;
    try {
      info = decodeLeader(kv.value, kv.create_revision);
    } catch (err) {
      this.log.error({ err: { code: (err as ClusterError).code, message: (err as Error).message } }, 'malformed leader record; nobody can lead until it expires');
      if (this.term !== null) this.beginStepDown('leader-key-lost');
      this.setLeaderSeen(null);
      return;
    }
    const ours = String(kv.lease) === session.id;
    if (!ours && this.staleLeases.has(String(kv.lease))) {
      // The key is held by one of our own earlier sessions (its revoke failed while etcd was away): free it.
      this.track(this.revokeStale(String(kv.lease)));
    }
    if (ours && this.term === null) {
      // Our campaign succeeded but its answer was lost (timeout): the key carries our lease.
      this.adoptLeadership(info.epoch, session);
      return;
    }
    if (this.term !== null && (!ours || this.term.epoch !== info.epoch)) this.beginStepDown('leader-key-lost');
    this.setLeaderSeen(info);
  }

  private setLeaderSeen(info: LeaderInfo | null): void {
    const prev = this.leaderSeen;
    const same = prev === null ? info === null : info !== null && prev.name === info.name && prev.epoch === info.epoch &&
      prev.adminUrl === info.adminUrl && prev.serverAddr === info.serverAddr;
    this.leaderSeen = info;
    if (!same) {
      this.log.info({ leader: info?.name ?? null, epoch: info?.epoch.toString() ?? null }, 'leader changed');
      this.emit('leaderChanged', info);
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Losing things

  private onSessionLost(session: LeaseSession, reason: SessionLossReason): void {
    if (this.session !== session) return;
    this.session = null;
    this.memberFor = null;
    if (this.term !== null && this.term.session === session) {
      this.beginStepDown(reason); // revokes the old lease once the hooks are done
    } else {
      this.track(this.revokeSession(session));
    }
    this.kick();
  }

  private async revokeSession(session: LeaseSession): Promise<void> {
    if (!(await session.revoke())) this.staleLeases.add(session.id);
  }

  private async revokeStale(id: string): Promise<void> {
    try {
      await this.client.leaseClient.leaseRevoke({ ID: id }, this.deadline());
      this.log.info({ lease: id }, 'revoked an earlier lease of ours that still held the leader key');
    } catch (err) {
      if (!(err instanceof EtcdLeaseInvalidError)) {
        this.log.warn({ lease: id, err: { message: (err as Error).message } }, 'cannot revoke an earlier lease of ours');
        return; // tried again the next time the key shows it
      }
      // Already gone in etcd: nothing left to free.
    }
    this.staleLeases.delete(id);
    this.kick();
  }

  /** Synchronous part of a step-down: the term ends now; the hooks run next; campaigning waits for them. */
  private beginStepDown(reason: StepDownReason): void {
    const term = this.term;
    if (term === null) return;
    this.term = null;
    this.setRole('follower');
    term.controller.abort(new ClusterError('ERR_NOT_LEADER', `the leadership of ${this.name} (epoch ${term.epoch}) ended: ${reason}`));
    this.log.warn({ epoch: term.epoch.toString(), reason }, 'stepping down');
    const done: Promise<void> = this.finishStepDown(term, reason).then(() => {
      if (this.stepDownDone === done) this.stepDownDone = null;
      this.kick();
    });
    this.stepDownDone = done;
  }

  private async finishStepDown(term: Term, reason: StepDownReason): Promise<void> {
    const began = performance.now();
    const hooks = Promise.all(
      this.hooks.map(async (hook) => {
        try {
          await hook(term, reason);
        } catch (err) {
          this.log.error({ err: { message: (err as Error).message } }, 'lose-leadership hook failed');
        }
      }),
    );
    let timer: NodeJS.Timeout | null = null;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.hookTimeoutMs);
    });
    const outcome = await Promise.race([hooks.then(() => 'done' as const), timedOut]);
    if (timer) clearTimeout(timer);
    const took = Math.round(performance.now() - began);
    if (outcome === 'timeout') {
      this.log.error({ waited_ms: took }, 'the lose-leadership hooks did not finish; stepping down anyway (the syncer\'s writes are fenced)');
    } else if (reason === 'lease-deadline' && took > this.timing.marginMs) {
      this.log.error({ took_ms: took, margin_ms: this.timing.marginMs }, 'stopping the syncer took longer than the step-down margin');
    }
    // The syncer is stopped: free the leader key now rather than at the lease's expiry. ('stopping' revokes
    // in stop(); after 'leader-key-lost' the key is not ours and our session is still good.)
    if (reason === 'lease-deadline' || reason === 'lease-lost') await this.revokeSession(term.session);
    this.log.info({ epoch: term.epoch.toString(), reason, hooks_ms: took }, 'stepped down');
    if (!this.closed && !this.stopping) this.emit('follower');
  }

  // ---------------------------------------------------------------------------------------------------
  // Helpers

  private setRole(role: Role): void {
    this.roleNow = role;
  }

  private emit<E extends keyof CoordinatorEvents>(event: E, ...args: CoordinatorEvents[E]): void {
    for (const listener of this.emitter.listeners(event)) {
      try {
        (listener as (...a: CoordinatorEvents[E]) => void)(...args);
      } catch (err) {
        this.log.error({ event, err: { message: (err as Error).message } }, 'cluster event listener threw');
      }
    }
  }

  private track(p: Promise<unknown>): void {
    const tracked: Promise<void> = p.then(
      (): void => {
        this.background.delete(tracked);
      },
      (err: unknown): void => {
        this.background.delete(tracked);
        this.log.warn({ err: { message: (err as Error).message } }, 'cluster background task failed');
      },
    );
    this.background.add(tracked);
  }

  private deadline(): { deadline: Date } {
    return { deadline: new Date(Date.now() + this.callTimeoutMs) };
  }

  private async etcd<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new ClusterError('ERR_CLUSTER_CLOSED', `cannot ${what}: the coordinator is stopped`);
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ClusterError) throw err;
      throw new ClusterError('ERR_CLUSTER_UNAVAILABLE', `cannot ${what}: ${(err as Error).message}`, { cause: err });
    }
  }
}
