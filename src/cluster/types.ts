/**
 * The cluster layer's own vocabulary. Nothing here knows about etcd: `Coordinator` (coordinator.ts) is the
 * seam, `EtcdCoordinator` its only implementation.
 */
import type { SyncerArgs } from '../config/config.js';
import type { KvRange } from '../discovery/store.js';

/** How other nodes and replicas reach a node. */
export interface MemberInfo {
  /** Unique per node (config `cluster.name`). */
  name: string;
  /** Base URL of the node's admin API, e.g. `http://10.0.0.5:9595` (config `cluster.advertise_admin`). */
  adminUrl: string;
  /** `host:port` of the node's replica-facing listener (config `cluster.advertise_server`). */
  serverAddr: string;
}

/** Where a node's log ends, as the syncer status names it. */
export interface MemberPosition {
  executed_gtid_set: string;
  last_binlog_file: string | null;
  last_file_position: number | null;
}

/** One entry of `GET /members` (snake_case: it is the wire form). */
export interface MemberStatus {
  name: string;
  admin_url: string;
  server_addr: string;
  is_leader: boolean;
  position: MemberPosition | null;
  /** When the node last published its record (ISO 8601). */
  updated_at: string;
}

/** The leader as the leader key names it. */
export interface LeaderInfo extends MemberInfo {
  /** Create revision of the leader key: the fencing token of that leader's term. */
  epoch: bigint;
}

/** What the syncer should be doing, cluster-wide (the kingbus "propose"). A stop is stored too. */
export interface SyncerIntent {
  running: boolean;
  /** Present when running; kept (without being used) after a stop so status pages can show it. */
  args?: SyncerArgs;
}

/** A stored intent with who wrote it. */
export interface StoredSyncerIntent extends SyncerIntent {
  /** Epoch (fencing token) of the leader that wrote it. */
  epoch: bigint;
  /** Name of the leader that wrote it. */
  leader: string;
  updated_at: string;
  /** etcd mod revision of the intent key. */
  revision: bigint;
}

/**
 * One leadership term of this node. Handed to whoever does leader-only work (the syncer), which must check
 * `isCurrent()` before every write that only a leader may do (storing a transaction pulled from the primary).
 */
export interface LeaderTerm {
  /** Create revision of the leader key: strictly increasing from one term to the next, cluster-wide. */
  readonly epoch: bigint;
  /**
   * True while this term lasts. Synchronous and cheap: compares the monotonic clock with the local lease
   * deadline, so it turns false the instant the deadline passes even if no timer has fired yet (a process
   * resumed after SIGSTOP sees false on its very first check). The first call that finds the deadline
   * passed ends the term on the spot (aborts `signal`).
   */
  isCurrent(): boolean;
  /** Aborted, synchronously, the moment the term ends (for any reason). */
  readonly signal: AbortSignal;
  /** The local deadline in `performance.now()` milliseconds (for logs and tests). */
  localDeadline(): number;
}

export type Role = 'stopped' | 'follower' | 'leader';

/** Why a term ended. */
export type StepDownReason =
  | 'lease-deadline' // no keep-alive succeeded before the local deadline
  | 'lease-lost' // etcd said the lease is gone (expired or revoked)
  | 'leader-key-lost' // the leader key was deleted or taken by another lease
  | 'stopping'; // stop() was called

export type LoseLeadershipHook = (term: LeaderTerm, reason: StepDownReason) => Promise<void>;

export interface CoordinatorEvents {
  /** This node won an election; `term` is valid until its signal aborts. */
  leader: [term: LeaderTerm];
  /** This node is a follower: after start(), and after every step-down (once the hooks have finished). */
  follower: [];
  /** The leader this node sees changed (another node, this node, or nobody). */
  leaderChanged: [leader: LeaderInfo | null];
}

/**
 * Our small interface over etcd. Everything the daemon needs from the cluster goes through it, so the etcd
 * client stays in one file.
 */
export interface Coordinator {
  readonly name: string;
  /** Connects, grants the session lease, publishes this member and starts campaigning (when a candidate). */
  start(): Promise<void>;
  /**
   * Steps down when leading (running the lose-leadership hooks), withdraws the member record, revokes the
   * lease (so another node can lead at once) and closes the client. Idempotent.
   */
  stop(): Promise<void>;
  role(): Role;
  /** Same as `currentTerm()?.isCurrent() === true`. */
  isLeader(): boolean;
  currentTerm(): LeaderTerm | null;
  /** The leader as last seen in etcd (may be this node), or null while there is none. */
  leader(): LeaderInfo | null;
  on<E extends keyof CoordinatorEvents>(event: E, listener: (...args: CoordinatorEvents[E]) => void): this;
  off<E extends keyof CoordinatorEvents>(event: E, listener: (...args: CoordinatorEvents[E]) => void): this;
  /**
   * Registers a hook awaited when this node loses the leadership, before the step-down is reported
   * ('follower') and before this node campaigns again. Called at the local deadline, which is a safety
   * margin ahead of the lease's expiry in etcd: the hook must stop the syncer within that margin.
   */
  onLoseLeadership(hook: LoseLeadershipHook): void;
  /** Every member with a live record, sorted by name, with `is_leader` from the leader key. */
  members(): Promise<MemberStatus[]>;
  /** Stores (and keeps re-storing after a session change) this node's record. */
  publishSelf(info: MemberInfo, position?: MemberPosition | null): Promise<void>;
  getSyncerIntent(): Promise<StoredSyncerIntent | null>;
  /**
   * Stores the intent in one etcd transaction guarded by the leader key: it only succeeds while the key
   * still has this node's term (same create revision, same lease). Throws ClusterError ERR_NOT_LEADER
   * otherwise. Returns the revision of the write.
   */
  proposeSyncerIntent(intent: SyncerIntent): Promise<bigint>;
  /** Calls `cb` on every change of the stored intent (null when deleted). Resolves to an unsubscribe. */
  watchSyncerIntent(cb: (intent: StoredSyncerIntent | null) => void): Promise<() => Promise<void>>;
  /** An ordered key-value range shared by every node (persistent, not tied to any lease). */
  sharedKv(namespace: string): KvRange;
}
