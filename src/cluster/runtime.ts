/**
 * The daemon's side of cluster mode: the `ClusterCallbacks` that ClusterNode drives, over the daemon's own
 * store and two syncers that never run at the same time.
 *
 *   leading   → the leader syncer pulls from the primary (the args stored in etcd). Its store is fenced by
 *               the leadership term: every append (and the commit of a streamed transaction) first checks
 *               `term.isCurrent()`, which reads the monotonic clock, so a leader frozen past its lease
 *               (SIGSTOP) refuses its first write after waking; the term's signal stops the syncer at once.
 *   following → the follower syncer pulls from the leader's replica-facing port, with our own replication
 *               protocol: the leader serves its stored bytes unchanged, so the follower's log is a
 *               byte-identical copy of the leader's (same file names, same positions). Its store is fenced
 *               too: writes stop the moment this node stops following that leader (epoch).
 *
 * Credentials a follower logs in with on the leader's port (design decision): `cluster.replication_user`
 * (+ `cluster.replication_password` / BINLOG_PROXY_CLUSTER_REPLICATION_PASSWORD) when configured, else the
 * first user of this node's own replica server (the nodes of one cluster share their server users, as a
 * replica must be able to attach to any of them). Without either, this node cannot follow and says so.
 *
 * Start position of a follower: what its store holds (exact resume, like any syncer); when empty, the
 * leader's oldest file from position 4 ('earliest'). The follower uses this node's own server_id/uuid.
 */
import type { ServerUser, SyncerArgs } from '../config/config.js';
import type { Logger } from '../logger.js';
import type { Syncer } from '../syncer/syncer.js';
import type { AppendResult, AppendUnit, SyncerStore, TransactionMeta, TransactionWriter } from '../syncer/store.js';
import type { SyncerStatus } from '../syncer/types.js';
import { ClusterError } from './errors.js';
import type { ClusterCallbacks, SyncerStartContext } from './node.js';
import type { LeaderInfo, MemberPosition } from './types.js';

/**
 * A SyncerStore whose writes are allowed only while `allowed()` says so (checked synchronously right before
 * each append and each commit). Reads and meta pass through.
 */
export class FencedStore implements SyncerStore {
  private allowed: () => boolean = () => false;
  private why = 'no writer is allowed';

  constructor(private readonly inner: SyncerStore) {}

  /** Sets the current writer's fence; `why` names it in the refusal. */
  fence(allowed: () => boolean, why: string): void {
    this.allowed = allowed;
    this.why = why;
  }

  private check(): void {
    if (!this.allowed()) throw new ClusterError('ERR_NOT_LEADER', `storage write refused: ${this.why} is over`);
  }

  getState(): ReturnType<SyncerStore['getState']> {
    return this.inner.getState();
  }

  append(unit: AppendUnit): Promise<AppendResult> {
    try {
      this.check();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.inner.append(unit);
  }

  async beginTransaction(meta: TransactionMeta): Promise<TransactionWriter> {
    this.check();
    const txn = await this.inner.beginTransaction(meta);
    return {
      seq: txn.seq,
      write: (event) => txn.write(event),
      commit: async () => {
        this.check();
        return txn.commit();
      },
      abort: () => txn.abort(),
    };
  }

  waitDurable(seq: number): Promise<void> {
    return this.inner.waitDurable(seq);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  getMeta(name: string): Promise<Buffer | undefined> {
    return this.inner.getMeta(name);
  }

  putMeta(name: string, value: Buffer | string): Promise<void> {
    return this.inner.putMeta(name, value);
  }

  /** Storage recovery after a failed write (it adds nothing to the log): passed through unfenced. */
  async recoverWrites(): Promise<void> {
    await this.inner.recoverWrites?.();
  }

  async setFlavor(flavor: Parameters<NonNullable<SyncerStore['setFlavor']>>[0]): Promise<void> {
    this.check();
    if (!this.inner.setFlavor) throw new ClusterError('ERR_CLUSTER_STATE', 'the store cannot be given a flavour');
    await this.inner.setFlavor(flavor);
  }
}

export interface ClusterRuntimeOptions {
  store: FencedStore;
  /** Pulls from the primary (built on `store`). */
  leaderSyncer: Syncer;
  /** Pulls from the leader (built on `store`, with short backoffs). */
  followerSyncer: Syncer;
  identity: { serverId: number; serverUuid: string };
  /** The account to log in to the leader's replica port with (see the file comment). */
  replicationCredentials: () => ServerUser | null;
  /** Called with the args of every leader start (the daemon's passthrough target). */
  onLeaderStart?: (args: SyncerArgs) => void;
  /** Heartbeat period asked from the leader (default 1000 ms: a frozen leader is noticed quickly). */
  followHeartbeatMs?: number;
  logger: Logger;
}

type Mode = { kind: 'idle' } | { kind: 'lead'; epoch: bigint } | { kind: 'follow'; leader: LeaderInfo };

export class ClusterRuntime implements ClusterCallbacks {
  private mode: Mode = { kind: 'idle' };
  private readonly log: Logger;

  constructor(private readonly opts: ClusterRuntimeOptions) {
    this.log = opts.logger.child({ component: 'cluster-runtime' });
  }

  /** The syncer status that matters now: the follower's while following, else the leader syncer's. */
  activeStatus(): SyncerStatus {
    return this.mode.kind === 'follow' ? this.opts.followerSyncer.status() : this.opts.leaderSyncer.status();
  }

  async startSyncer(args: SyncerArgs, ctx: SyncerStartContext): Promise<SyncerStatus> {
    const { term } = ctx;
    if (this.mode.kind === 'follow') await this.unfollowLeader();
    this.mode = { kind: 'lead', epoch: term.epoch };
    this.opts.store.fence(() => term.isCurrent(), `the leadership term ${term.epoch}`);
    // 'takeover' and 'intent-changed' resume from the local store: the syncer does that by itself whenever
    // the store holds binlog (args.start is used only for an empty store), so the three reasons share a path.
    const status = await this.opts.leaderSyncer.start(args);
    this.opts.onLeaderStart?.(args);
    const stopOnTermEnd = (): void => {
      this.opts.leaderSyncer.stop().catch((err: unknown) => this.log.error({ err: { message: (err as Error).message } }, 'stopping the syncer at the end of the term failed'));
    };
    if (term.signal.aborted) stopOnTermEnd();
    else term.signal.addEventListener('abort', stopOnTermEnd, { once: true });
    this.log.info({ epoch: term.epoch.toString(), reason: ctx.reason }, 'leader syncer started');
    return status;
  }

  async stopSyncer(): Promise<SyncerStatus> {
    const status = await this.opts.leaderSyncer.stop();
    if (this.mode.kind === 'lead') this.mode = { kind: 'idle' };
    return status;
  }

  syncerStatus(): SyncerStatus {
    return this.opts.leaderSyncer.status();
  }

  async followLeader(leader: LeaderInfo): Promise<void> {
    if (this.mode.kind === 'follow') await this.unfollowLeader();
    // A leader syncer left over would write too: it is stopped by the step-down, but make sure.
    await this.opts.leaderSyncer.stop();
    const creds = this.opts.replicationCredentials();
    if (creds === null) {
      this.log.error(
        { leader: leader.name },
        'cannot follow the leader: no cluster.replication_user and no replica server user to log in to its replica port with',
      );
      return;
    }
    const mode: Mode = { kind: 'follow', leader };
    this.mode = mode;
    this.opts.store.fence(() => this.mode === mode, `following ${leader.name} (epoch ${leader.epoch})`);
    await this.opts.followerSyncer.start({
      mysql_addr: leader.serverAddr,
      mysql_user: creds.user,
      mysql_password: creds.password,
      syncer_id: this.opts.identity.serverId,
      syncer_uuid: this.opts.identity.serverUuid,
      start: 'earliest',
      heartbeat_period_ms: this.opts.followHeartbeatMs ?? 1000,
    });
  }

  async unfollowLeader(): Promise<void> {
    if (this.mode.kind === 'follow') this.mode = { kind: 'idle' };
    await this.opts.followerSyncer.stop();
  }

  position(): MemberPosition | null {
    const st = this.opts.store.getState();
    if (st.lastFile === null) return null;
    return { executed_gtid_set: st.executedGtids, last_binlog_file: st.lastFile, last_file_position: Number(st.lastPos) };
  }

  /** Stops both syncers (daemon shutdown, after the node left the cluster). */
  async stop(): Promise<void> {
    this.mode = { kind: 'idle' };
    await this.opts.followerSyncer.stop();
    await this.opts.leaderSyncer.stop();
  }
}
