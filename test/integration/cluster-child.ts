// A cluster node in its own process, for the SIGSTOP / SIGKILL tests (started by spawnTsNode from
// test/helpers/etcd.ts; not a test file itself). It runs the real EtcdCoordinator and ClusterNode with a
// simulated syncer that "writes" every 10 ms while its term is current, and reports everything as JSON
// lines on stdout: {"ev": ..., "t": Date.now(), ...}.
//
// Environment: CHILD_ETCD (endpoint), CHILD_PREFIX, CHILD_NAME, CHILD_TTL_MS, CHILD_SECRET,
// CHILD_START_ARGS (JSON SyncerArgs: when set, the node starts the syncer through its admin seam as soon as
// it leads for the first time).
import { EtcdCoordinator } from '../../src/cluster/coordinator.js';
import { ClusterNode } from '../../src/cluster/node.js';
import type { LeaderTerm } from '../../src/cluster/types.js';
import type { SyncerArgs } from '../../src/config/config.js';
import { createLogger } from '../../src/logger.js';
import type { SyncerStatus } from '../../src/syncer/types.js';
import { syncerStatusOf } from '../helpers/syncer-status.js';

function emit(ev: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ ev, t: Date.now(), ...fields })}\n`);
}

function wall(monotonicMs: number): number {
  return Math.round(performance.timeOrigin + monotonicMs);
}

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};

const name = env('CHILD_NAME');
const startArgs = process.env.CHILD_START_ARGS ? (JSON.parse(process.env.CHILD_START_ARGS) as SyncerArgs) : null;
const logger = createLogger(process.env.CLUSTER_TEST_LOG ?? 'silent', process.stderr);

let writer: NodeJS.Timeout | null = null;
let running = false;
let writes = 0;

function status(): SyncerStatus {
  return syncerStatusOf({ running, transactionsStored: writes });
}

const self = { name, adminUrl: `http://${name}.invalid/`, serverAddr: `${name}.invalid:3307` };
const coordinator = new EtcdCoordinator({
  self,
  etcd: { hosts: env('CHILD_ETCD') },
  prefix: env('CHILD_PREFIX'),
  leaseTtlMs: Number(env('CHILD_TTL_MS')),
  secret: env('CHILD_SECRET'),
  logger,
});

coordinator.on('leader', (term: LeaderTerm) => {
  emit('leader', { epoch: term.epoch.toString(), deadline: wall(term.localDeadline()) });
  term.signal.addEventListener('abort', () => {
    // Synchronous with the end of the term: the first thing this process reports once the term is over.
    emit('term-ended', { epoch: term.epoch.toString(), deadline: wall(term.localDeadline()), reason: String((term.signal.reason as Error).message) });
  });
});
coordinator.on('follower', () => emit('follower'));

const node = new ClusterNode({
  coordinator,
  self,
  logger,
  callbacks: {
    async startSyncer(args, ctx) {
      emit('syncer-start', { epoch: ctx.term.epoch.toString(), reason: ctx.reason, mysql_addr: args.mysql_addr, has_password: args.mysql_password.length > 0 });
      running = true;
      const term = ctx.term;
      writer = setInterval(() => {
        // The fencing check a real syncer makes before storing a transaction.
        if (term.isCurrent()) {
          writes++;
          emit('write', { epoch: term.epoch.toString(), n: writes });
        } else {
          emit('write-refused', { epoch: term.epoch.toString() });
        }
      }, 10);
      return status();
    },
    async stopSyncer() {
      if (writer) clearInterval(writer);
      writer = null;
      if (running) emit('syncer-stop');
      running = false;
      return status();
    },
    syncerStatus: status,
    async followLeader(leader) {
      emit('follow', { leader: leader.name, server_addr: leader.serverAddr });
    },
    async unfollowLeader() {
      emit('unfollow');
    },
    position: () => ({ executed_gtid_set: `0-1-${writes}`, last_binlog_file: null, last_file_position: null }),
  },
});

if (startArgs !== null) {
  let started = false;
  coordinator.on('leader', () => {
    if (started) return;
    started = true;
    node.syncerControl().start(startArgs).then(
      () => emit('admin-started'),
      (err: unknown) => emit('admin-start-failed', { message: (err as Error).message }),
    );
  });
}

process.on('SIGTERM', () => {
  node.stop().then(
    () => {
      emit('stopped');
      process.exit(0);
    },
    (err: unknown) => {
      emit('stop-failed', { message: (err as Error).message });
      process.exit(1);
    },
  );
});

node.start().then(
  () => emit('ready', { pid: process.pid }),
  (err: unknown) => {
    emit('start-failed', { message: (err as Error).message });
    process.exit(1);
  },
);
