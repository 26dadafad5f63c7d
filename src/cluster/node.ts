/**
 * `ClusterNode`: drives the daemon's own components from the coordinator's events, through callbacks the
 * composition root (main.ts) supplies:
 *
 *   became leader   → stop following the old leader; read the stored syncer intent; if it says running,
 *                     start the syncer (reason 'takeover': resume from what is stored locally);
 *   lost leadership → stop the syncer, awaited inside the coordinator's step-down (before this node
 *                     reports 'follower' or campaigns again, and before the lease can expire in etcd);
 *   leader changed  → follow the new leader (sync from its replica-facing port), or stop following when
 *                     there is none;
 *   every second    → publish this node's log position in its member record (for GET /members).
 *
 * `syncerControl()` is the SyncerControl the admin API uses in cluster mode: on the leader, a start or
 * stop is first stored in etcd (fenced by the leader's term), then applied locally; on a follower the
 * forwarding plugin (forward.ts) sends the request to the leader before it gets here.
 *
 * All transitions run one at a time (a small promise queue), except the step-down stop, which must not
 * wait behind a slow start: the syncer's stop() has to cut short a start in progress (the term's signal is
 * aborted at the same moment), and the queue re-checks the term after every await.
 */
import type { SyncerArgs } from '../config/config.js';
import { ConflictError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SyncerControl, SyncerStatus } from '../syncer/types.js';
import { ClusterError } from './errors.js';
import { describeIntent } from './records.js';
import type { Coordinator, LeaderInfo, LeaderTerm, MemberInfo, MemberPosition, StepDownReason, StoredSyncerIntent } from './types.js';

export type SyncerStartReason =
  | 'admin' // PUT /binlog/syncer/start on the leader: use args.start as given
  | 'takeover' // this node just became the leader: resume from the local store; args.start only if the store is empty
  | 'intent-changed'; // the stored intent was changed by someone else (e.g. an operator with etcdctl): same as takeover

export interface SyncerStartContext {
  /**
   * The leadership term this syncer runs under. The syncer must check `term.isCurrent()` before every
   * write to storage and stop writing when it turns false; `term.signal` aborts with the term (use it to
   * cut a connect short); `term.epoch` is the fencing token storage can record and compare.
   */
  term: LeaderTerm;
  reason: SyncerStartReason;
}

/** What the composition root supplies. These are the daemon's own components, not etcd. */
export interface ClusterCallbacks {
  /** Start pulling from the primary, as the leader. Rejects with ERR_ALREADY_RUNNING when already started. */
  startSyncer(args: SyncerArgs, ctx: SyncerStartContext): Promise<SyncerStatus>;
  /** Stop the leader syncer; idempotent; must also abort a start in progress. */
  stopSyncer(): Promise<SyncerStatus>;
  syncerStatus(): SyncerStatus;
  /** Replicate from the leader's replica-facing listener (`leader.serverAddr`), with our own protocol. */
  followLeader(leader: LeaderInfo): Promise<void>;
  /** Stop replicating from the leader; idempotent. */
  unfollowLeader(): Promise<void>;
  /** Where this node's log ends (null before anything is stored). */
  position(): MemberPosition | null;
}

export interface ClusterNodeOptions {
  coordinator: Coordinator;
  self: MemberInfo;
  callbacks: ClusterCallbacks;
  logger: Logger;
  /** How often the position is published when it changed (default 1000 ms). */
  positionIntervalMs?: number;
  /** Retry delay when the intent cannot be read after becoming leader (default 200 ms). */
  retryMs?: number;
}

export interface ClusterNodeStatus {
  name: string;
  role: ReturnType<Coordinator['role']>;
  leader: string | null;
  /** The leader this node replicates from, or null. */
  following: string | null;
}

export class ClusterNode {
  private readonly coordinator: Coordinator;
  private readonly cb: ClusterCallbacks;
  private readonly log: Logger;
  private readonly positionIntervalMs: number;
  private readonly retryMs: number;
  private readonly self: MemberInfo;
  private queue: Promise<void> = Promise.resolve();
  private following: LeaderInfo | null = null;
  /** Highest intent revision this node applied (or wrote) itself; older or equal watch events are ignored. */
  private appliedRevision = 0n;
  private lastArgs: SyncerArgs | undefined;
  private positionTimer: NodeJS.Timeout | null = null;
  private publishing: Promise<void> | null = null;
  private lastPublished = '';
  private unwatch: (() => Promise<void>) | null = null;
  private stopped = false;
  private stopping: Promise<void> | null = null;

  constructor(opts: ClusterNodeOptions) {
    this.coordinator = opts.coordinator;
    this.cb = opts.callbacks;
    this.self = { ...opts.self };
    this.log = opts.logger.child({ component: 'cluster-node', node: opts.self.name });
    this.positionIntervalMs = opts.positionIntervalMs ?? 1000;
    this.retryMs = opts.retryMs ?? 200;
  }

  async start(): Promise<void> {
    const c = this.coordinator;
    c.onLoseLeadership((term, reason) => this.onLoseLeadership(term, reason));
    c.on('leader', (term) => this.schedule('lead', () => this.lead(term)));
    c.on('follower', () => this.schedule('follow', () => this.followCurrentLeader()));
    c.on('leaderChanged', () => this.schedule('follow', () => this.followCurrentLeader()));
    await c.start();
    this.unwatch = await c.watchSyncerIntent((intent) => this.schedule('intent', () => this.applyIntent(intent)));
    this.lastPublished = JSON.stringify(this.cb.position());
    await c.publishSelf(this.self, this.cb.position());
    this.positionTimer = setInterval(() => this.publishPosition(), this.positionIntervalMs);
    this.positionTimer.unref();
  }

  /** Leaves the cluster: stops the syncer if leading (inside the coordinator's step-down), stops following. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.positionTimer) clearInterval(this.positionTimer);
    this.positionTimer = null;
    if (this.unwatch) await this.unwatch();
    if (this.publishing) await this.publishing;
    await this.coordinator.stop();
    await this.queue;
    if (this.following) {
      this.following = null;
      await this.cb.unfollowLeader();
    }
  }

  status(): ClusterNodeStatus {
    return {
      name: this.self.name,
      role: this.coordinator.role(),
      leader: this.coordinator.leader()?.name ?? null,
      following: this.following?.name ?? null,
    };
  }

  /** The admin API's SyncerControl in cluster mode. */
  syncerControl(): SyncerControl {
    return {
      start: (args) => this.adminStart(args),
      stop: () => this.adminStop(),
      status: () => this.cb.syncerStatus(),
    };
  }

  // ---------------------------------------------------------------------------------------------------

  /** Queues a transition after every earlier one; a failure is logged (nobody waits for it). */
  private schedule(what: string, fn: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (this.stopped) return;
      try {
        await fn();
      } catch (err) {
        this.log.error({ step: what, err: { code: (err as ClusterError).code, message: (err as Error).message } }, 'cluster transition failed');
      }
    });
  }

  /** Queues an admin request after every earlier transition; its caller gets the result or the error. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    // The queue only needs to know that `run` settled; its outcome (an error included) goes to our caller.
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async onLoseLeadership(term: LeaderTerm, reason: StepDownReason): Promise<void> {
    this.log.warn({ epoch: term.epoch.toString(), reason }, 'lost the leadership: stopping the syncer');
    await this.cb.stopSyncer();
  }

  private async lead(term: LeaderTerm): Promise<void> {
    if (!term.isCurrent()) return;
    if (this.following) {
      this.following = null;
      await this.cb.unfollowLeader();
    }
    let intent: StoredSyncerIntent | null = null;
    for (;;) {
      if (!term.isCurrent()) return;
      try {
        intent = await this.coordinator.getSyncerIntent();
        break;
      } catch (err) {
        const code = (err as ClusterError).code;
        this.log.error({ err: { code, message: (err as Error).message } }, 'cannot read the syncer intent as the new leader');
        // A record this node cannot read (other secret, malformed) will not get better by retrying.
        if (code === 'ERR_CLUSTER_SECRET' || code === 'ERR_CLUSTER_STATE') return;
        await new Promise((r) => setTimeout(r, this.retryMs));
      }
    }
    if (intent !== null && intent.revision > this.appliedRevision) this.appliedRevision = intent.revision;
    this.lastArgs = intent?.args;
    this.log.info({ epoch: term.epoch.toString(), ...describeIntent(intent) }, 'leading');
    if (intent?.running && intent.args && term.isCurrent()) await this.startUnder(term, intent.args, 'takeover');
  }

  private async startUnder(term: LeaderTerm, args: SyncerArgs, reason: SyncerStartReason): Promise<SyncerStatus> {
    const status = await this.cb.startSyncer(args, { term, reason });
    if (!term.isCurrent()) {
      // The term ended while the syncer was starting: the step-down's stop may have run before the start
      // finished, so stop again now that it has.
      return this.cb.stopSyncer();
    }
    return status;
  }

  private async followCurrentLeader(): Promise<void> {
    if (this.coordinator.isLeader()) return; // lead() owns this case
    const leader = this.coordinator.leader();
    const target = leader !== null && leader.name !== this.self.name ? leader : null;
    const current = this.following;
    if (current !== null && target !== null && current.name === target.name && current.epoch === target.epoch && current.serverAddr === target.serverAddr) return;
    if (current === null && target === null) return;
    if (current !== null) {
      this.following = null;
      await this.cb.unfollowLeader();
    }
    if (target !== null && !this.coordinator.isLeader()) {
      this.log.info({ leader: target.name, server_addr: target.serverAddr }, 'following the leader');
      await this.cb.followLeader(target);
      this.following = target;
    }
  }

  private async applyIntent(intent: StoredSyncerIntent | null): Promise<void> {
    const term = this.coordinator.currentTerm();
    if (term === null || intent === null || intent.revision <= this.appliedRevision) return;
    this.appliedRevision = intent.revision;
    this.lastArgs = intent.args;
    const local = this.cb.syncerStatus().status;
    this.log.info({ ...describeIntent(intent), revision: intent.revision.toString() }, 'the stored syncer intent changed');
    if (intent.running && intent.args && (local === 'stopped' || local === 'error')) {
      await this.startUnder(term, intent.args, 'intent-changed');
    } else if (!intent.running && local !== 'stopped') {
      await this.cb.stopSyncer();
    }
  }

  private leaderTermOrThrow(): LeaderTerm {
    const term = this.coordinator.currentTerm();
    if (term === null) {
      const leader = this.coordinator.leader();
      throw new ClusterError(
        leader === null || leader.name === this.self.name ? 'ERR_NO_LEADER' : 'ERR_NOT_LEADER',
        leader === null || leader.name === this.self.name
          ? 'no leader elected: an election is in progress; retry in a few seconds'
          : `node ${this.self.name} is not the leader (${leader.name} is); send the request to ${leader.adminUrl}`,
      );
    }
    return term;
  }

  private async adminStart(args: SyncerArgs): Promise<SyncerStatus> {
    this.leaderTermOrThrow();
    return this.enqueue(async () => {
      const term = this.leaderTermOrThrow();
      const local = this.cb.syncerStatus().status;
      if (local === 'running' || local === 'connecting') {
        throw new ConflictError('ERR_ALREADY_RUNNING', 'the syncer is already running; stop it first');
      }
      this.appliedRevision = await this.coordinator.proposeSyncerIntent({ running: true, args });
      this.lastArgs = args;
      try {
        return await this.startUnder(term, args, 'admin');
      } catch (err) {
        // The start failed: store the stop, so that the cluster does not keep an intent nobody runs.
        try {
          this.appliedRevision = await this.coordinator.proposeSyncerIntent({ running: false, args });
        } catch (revertErr) {
          this.log.error({ err: { message: (revertErr as Error).message } }, 'cannot store the stop after a failed start');
        }
        throw err;
      }
    });
  }

  private async adminStop(): Promise<SyncerStatus> {
    this.leaderTermOrThrow();
    return this.enqueue(async () => {
      this.leaderTermOrThrow();
      this.appliedRevision = await this.coordinator.proposeSyncerIntent({ running: false, ...(this.lastArgs ? { args: this.lastArgs } : {}) });
      return this.cb.stopSyncer();
    });
  }

  private publishPosition(): void {
    if (this.publishing || this.stopped) return;
    const position = this.cb.position();
    const text = JSON.stringify(position);
    if (text === this.lastPublished) return;
    this.publishing = this.coordinator
      .publishSelf(this.self, position)
      .then(
        () => {
          this.lastPublished = text;
        },
        (err: unknown) => {
          this.log.warn({ err: { message: (err as Error).message } }, 'cannot publish the position');
        },
      )
      .finally(() => {
        this.publishing = null;
      });
  }
}
