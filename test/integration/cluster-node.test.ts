// ClusterNode on a real etcd, with recording callbacks standing in for the daemon's syncer and follower
// (our own seams). Includes a node in a child process that is SIGSTOPped past its lease, and SIGKILLed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { fileURLToPath } from 'node:url';
import { EtcdCoordinator } from '../../src/cluster/coordinator.js';
import { ClusterKeys } from '../../src/cluster/keys.js';
import { ClusterNode, type ClusterCallbacks, type SyncerStartReason } from '../../src/cluster/node.js';
import { encodeIntent } from '../../src/cluster/records.js';
import { SecretBox } from '../../src/cluster/secrets.js';
import type { LeaderInfo, LeaderTerm } from '../../src/cluster/types.js';
import type { SyncerArgs } from '../../src/config/config.js';
import { ConflictError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import type { SyncerStatus } from '../../src/syncer/types.js';
import { spawnTsNode, startEtcd, type EtcdInstance, type NodeChild } from '../helpers/etcd.js';

const logger = createLogger(process.env.CLUSTER_TEST_LOG ?? 'silent');
const TTL_MS = 2000;
const SECRET = 'node tests share this cluster secret';
const CHILD = fileURLToPath(new URL('./cluster-child.ts', import.meta.url));
const ARGS: SyncerArgs = { mysql_addr: '127.0.0.1:3399', mysql_user: 'repl', mysql_password: 'Secret-for-the-primary', syncer_id: 7001, start: 'earliest' };

let etcd: EtcdInstance;
let raw: Etcd3;
let prefixNo = 0;
let prefix = '';
const liveNodes: ClusterNode[] = [];
const liveChildren: NodeChild[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
  raw = new Etcd3({ hosts: etcd.endpoint });
});

afterAll(async () => {
  raw?.close();
  await etcd?.destroy();
});

afterEach(async () => {
  await Promise.all(liveChildren.splice(0).map((c) => c.kill()));
  await Promise.all(liveNodes.splice(0).map((n) => n.stop()));
});

function freshPrefix(): string {
  prefix = `/bp-node-${process.pid}-${prefixNo++}/`;
  return prefix;
}

async function until<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null && v !== undefined && v !== false) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A recording stand-in for the daemon's syncer and follower: what was called, when, with what. */
class Recorder implements ClusterCallbacks {
  events: Array<{ at: number; what: string; epoch?: bigint; reason?: SyncerStartReason; args?: SyncerArgs; leader?: string }> = [];
  running = false;
  following: string | null = null;
  failNextStart: Error | null = null;
  position = (): { executed_gtid_set: string; last_binlog_file: string | null; last_file_position: number | null } => ({
    executed_gtid_set: `0-1-${this.events.length}`,
    last_binlog_file: 'bin.000001',
    last_file_position: 4 + this.events.length,
  });

  syncerStatus = (): SyncerStatus => ({
    status: this.running ? 'running' : 'stopped',
    mysql_addr: null, mysql_user: null, syncer_id: null, syncer_uuid: null, semi_sync: false, flavor: null,
    master_server_id: null, master_server_uuid: null, master_version: null, executed_gtid_set: '', purged_gtid_set: '',
    current_gtid: null, last_binlog_file: null, last_file_position: null, seconds_behind_master: null, last_error: null,
    counters: { events_received: 0, bytes_received: 0, transactions_stored: 0, heartbeats_received: 0, reconnects: 0, checksum_errors: 0 },
  });

  async startSyncer(args: SyncerArgs, ctx: { term: LeaderTerm; reason: SyncerStartReason }): Promise<SyncerStatus> {
    if (this.running) throw new ConflictError('ERR_ALREADY_RUNNING', 'already running');
    if (this.failNextStart) {
      const err = this.failNextStart;
      this.failNextStart = null;
      throw err;
    }
    this.events.push({ at: Date.now(), what: 'start', epoch: ctx.term.epoch, reason: ctx.reason, args });
    this.running = true;
    return this.syncerStatus();
  }

  async stopSyncer(): Promise<SyncerStatus> {
    if (this.running) this.events.push({ at: Date.now(), what: 'stop' });
    this.running = false;
    return this.syncerStatus();
  }

  async followLeader(leader: LeaderInfo): Promise<void> {
    this.events.push({ at: Date.now(), what: 'follow', leader: leader.name });
    this.following = leader.name;
  }

  async unfollowLeader(): Promise<void> {
    if (this.following !== null) this.events.push({ at: Date.now(), what: 'unfollow' });
    this.following = null;
  }

  starts(): Array<{ at: number; epoch?: bigint; reason?: SyncerStartReason; args?: SyncerArgs }> {
    return this.events.filter((e) => e.what === 'start');
  }
}

interface TestNode {
  name: string;
  node: ClusterNode;
  coordinator: EtcdCoordinator;
  rec: Recorder;
  leaderAt: number[];
}

function makeNode(name: string, endpoint = etcd.endpoint): TestNode {
  const self = { name, adminUrl: `http://127.0.0.1:1/${name}`, serverAddr: `${name}.invalid:3307` };
  const coordinator = new EtcdCoordinator({ self, etcd: { hosts: endpoint }, prefix, leaseTtlMs: TTL_MS, secret: SECRET, logger });
  const rec = new Recorder();
  const leaderAt: number[] = [];
  coordinator.on('leader', () => leaderAt.push(Date.now()));
  const node = new ClusterNode({ coordinator, self, callbacks: rec, logger, positionIntervalMs: 100 });
  liveNodes.push(node);
  return { name, node, coordinator, rec, leaderAt };
}

async function startAll(nodes: TestNode[]): Promise<TestNode> {
  await Promise.all(nodes.map((n) => n.node.start()));
  return until(() => nodes.find((n) => n.coordinator.isLeader()), 'a leader');
}

describe('ClusterNode in one process', () => {
  it('stores a start on the leader, followers follow it, and a new leader takes the syncer over with the same arguments', async () => {
    freshPrefix();
    const nodes = [makeNode('a'), makeNode('b'), makeNode('c')];
    const leader = await startAll(nodes);
    const followers = nodes.filter((n) => n !== leader);
    for (const f of followers) await until(() => f.rec.following === leader.name, `${f.name} to follow ${leader.name}`);
    expect(leader.rec.following).toBeNull();

    // Only the leader's control accepts a start; a follower's says who leads.
    await expect(followers[0]!.node.syncerControl().start(ARGS)).rejects.toMatchObject({ code: 'ERR_NOT_LEADER' });
    const status = await leader.node.syncerControl().start(ARGS);
    expect(status.status).toBe('running');
    expect(leader.rec.starts()).toMatchObject([{ reason: 'admin', args: ARGS, epoch: leader.coordinator.currentTerm()!.epoch }]);
    await expect(leader.node.syncerControl().start(ARGS)).rejects.toMatchObject({ code: 'ERR_ALREADY_RUNNING' });
    expect((await followers[0]!.coordinator.getSyncerIntent())?.running).toBe(true);

    // Positions are published.
    await until(async () => (await leader.coordinator.members()).every((m) => m.position?.last_binlog_file === 'bin.000001'), 'positions');

    const oldEpoch = leader.coordinator.currentTerm()!.epoch;
    await leader.node.stop();
    const stoppedAt = leader.rec.events.find((e) => e.what === 'stop')?.at;
    expect(stoppedAt).toBeDefined();
    const next = await until(() => followers.find((n) => n.rec.starts().length > 0), 'the syncer to be taken over');
    const takeover = next.rec.starts()[0]!;
    expect(takeover).toMatchObject({ reason: 'takeover', args: ARGS });
    expect(takeover.epoch!).toBeGreaterThan(oldEpoch);
    expect(takeover.at).toBeGreaterThanOrEqual(stoppedAt!);
    // The new leader stopped following before it started; the other follower now follows it.
    const nextEvents = next.rec.events.map((e) => e.what);
    expect(nextEvents.lastIndexOf('unfollow')).toBeLessThan(nextEvents.indexOf('start'));
    const other = followers.find((n) => n !== next)!;
    await until(() => other.rec.following === next.name, `${other.name} to follow ${next.name}`);
    expect(other.rec.starts()).toEqual([]);
  });

  it('stores a stop too: a new leader does not start a stopped syncer', async () => {
    freshPrefix();
    const nodes = [makeNode('a'), makeNode('b')];
    const leader = await startAll(nodes);
    await leader.node.syncerControl().start(ARGS);
    await leader.node.syncerControl().stop();
    expect(await leader.coordinator.getSyncerIntent()).toMatchObject({ running: false, args: ARGS });
    const other = nodes.find((n) => n !== leader)!;
    await leader.node.stop();
    await until(() => other.coordinator.isLeader(), 'the other node to lead');
    await new Promise((r) => setTimeout(r, 300));
    expect(other.rec.starts()).toEqual([]);
  });

  it('reverts the intent when the leader cannot start its syncer, and reports the error', async () => {
    freshPrefix();
    const leader = await startAll([makeNode('a')]);
    const refused = new ConflictError('ERR_UPSTREAM_REFUSED', 'the primary refused the connection');
    leader.rec.failNextStart = refused;
    await expect(leader.node.syncerControl().start(ARGS)).rejects.toBe(refused);
    expect(await leader.coordinator.getSyncerIntent()).toMatchObject({ running: false });
  });

  it('applies an intent changed behind its back (e.g. by an operator with etcdctl)', async () => {
    freshPrefix();
    const leader = await startAll([makeNode('a')]);
    const epoch = leader.coordinator.currentTerm()!.epoch;
    const keys = new ClusterKeys(prefix);
    const value = encodeIntent({ running: true, args: ARGS }, { epoch, leader: 'operator', now: new Date() }, new SecretBox(SECRET), keys.intent);
    await raw.put(keys.intent).value(value);
    await until(() => leader.rec.starts().length === 1, 'the leader to apply the intent');
    expect(leader.rec.starts()[0]).toMatchObject({ reason: 'intent-changed', args: ARGS });
  });
});

describe('ClusterNode cut off from etcd', () => {
  it('a leader that cannot reach etcd stops its syncer by its local deadline; leadership resumes when etcd is back', async () => {
    const own = await startEtcd();
    try {
      freshPrefix();
      const nodes = [makeNode('a', own.endpoint), makeNode('b', own.endpoint)];
      const leader = await startAll(nodes);
      await leader.node.syncerControl().start(ARGS);
      const stepDowns: number[] = [];
      leader.coordinator.onLoseLeadership(async () => {
        stepDowns.push(Date.now());
      });
      const margin = leader.coordinator.timingInfo().marginMs;
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 500)));
      const killedAt = Date.now();
      await own.kill();
      await until(() => stepDowns.length > 0, 'the leader to step down', 5000);
      // The last keep-alive that succeeded was sent before the kill, so the deadline is at the latest
      // killedAt + TTL - margin; allow some timer lateness on a busy machine, but stay below the TTL (the
      // earliest the lease could expire in etcd).
      expect(stepDowns[0]! - killedAt).toBeLessThanOrEqual(Math.min(TTL_MS - margin + 400, TTL_MS - 50));
      expect(leader.rec.events.at(-1)?.what).toBe('stop');
      expect(leader.rec.running).toBe(false);
      expect(nodes.some((n) => n.coordinator.isLeader())).toBe(false);
      console.log(`[cluster] etcd killed: the leader stopped its syncer ${stepDowns[0]! - killedAt}ms later (lease ${TTL_MS}ms, margin ${margin}ms)`);

      await own.restart();
      const next = await until(() => nodes.find((n) => n.coordinator.isLeader()), 'a leader once etcd is back', 20_000);
      await until(() => next.rec.starts().some((e) => e.reason === 'takeover'), 'the syncer to run again', 5000);
      const lastStart = next.rec.starts().at(-1)!;
      expect(lastStart).toMatchObject({ reason: 'takeover', args: ARGS });
      expect(lastStart.at).toBeGreaterThan(stepDowns[0]!);
    } finally {
      await Promise.all(liveNodes.splice(0).map((n) => n.stop()));
      await own.destroy();
    }
  });
});

describe('ClusterNode in a child process (fencing and failover)', () => {
  async function child(name: string, startArgs: SyncerArgs | null): Promise<NodeChild> {
    const env: Record<string, string> = {
      CHILD_ETCD: etcd.endpoint,
      CHILD_PREFIX: prefix,
      CHILD_NAME: name,
      CHILD_TTL_MS: String(TTL_MS),
      CHILD_SECRET: SECRET,
    };
    if (startArgs) env.CHILD_START_ARGS = JSON.stringify(startArgs);
    const c = await spawnTsNode(CHILD, [], env);
    liveChildren.push(c);
    await c.waitFor((l) => l.ev === 'ready', 20_000);
    return c;
  }

  it('a leader frozen past its lease stops writing at its local deadline; the other node leads only after it, and the frozen one, resumed, steps down first', async () => {
    freshPrefix();
    const frozen = await child('frozen', ARGS);
    const leaderLine = await frozen.waitFor((l) => l.ev === 'leader');
    await frozen.waitFor((l) => l.ev === 'write');
    const other = makeNode('other');
    await other.node.start();
    await until(() => other.rec.following === 'frozen', 'the in-process node to follow the child');

    // The child can still write until the signal lands: the pause time is taken once it has been sent.
    frozen.pause();
    const pausedAt = Date.now();
    const newLeaderAt = (await until(() => other.leaderAt[0], 'the in-process node to lead', 10_000));
    await until(() => other.rec.starts().length === 1, 'the takeover');
    const takeover = other.rec.starts()[0]!;
    // Let the child stay frozen a little longer, then wake it.
    await new Promise((r) => setTimeout(r, 200));
    const resumedAt = Date.now();
    frozen.resume();
    const ended = await frozen.waitFor((l) => l.ev === 'term-ended');
    await frozen.waitFor((l) => l.ev === 'syncer-stop');
    await frozen.waitFor((l) => l.ev === 'follow' && l.leader === 'other');

    const afterResume = frozen.lines.filter((l) => (l.t as number) >= resumedAt);
    // 1. Woken up, the first thing it reports is the end of its term (because its deadline has passed).
    expect(afterResume[0]).toMatchObject({ ev: 'term-ended', epoch: leaderLine.epoch });
    expect(String(ended.reason)).toMatch(/lease-deadline/);
    // 2. It never wrote at or after its local deadline, and never after the pause.
    const writes = frozen.lines.filter((l) => l.ev === 'write');
    expect(writes.length).toBeGreaterThan(0);
    const lastWrite = Math.max(...writes.map((l) => l.t as number));
    const deadline = ended.deadline as number;
    expect(lastWrite).toBeLessThan(deadline);
    expect(lastWrite).toBeLessThanOrEqual(pausedAt);
    // 3. The other node became leader (and started its syncer) only after the frozen one's deadline: at
    //    least the margin later, since etcd cannot expire the lease before deadline + margin.
    expect(newLeaderAt).toBeGreaterThan(deadline);
    expect(takeover.at).toBeGreaterThan(deadline);
    expect(takeover).toMatchObject({ reason: 'takeover', args: ARGS });
    expect(takeover.epoch!).toBeGreaterThan(BigInt(leaderLine.epoch as string));
    // 4. Stopped its syncer, became a follower of the new leader, and never led again.
    const stopIdx = frozen.lines.findIndex((l) => l.ev === 'syncer-stop');
    expect(frozen.lines.slice(stopIdx).filter((l) => l.ev === 'write')).toEqual([]);
    expect(frozen.lines.filter((l) => l.ev === 'leader')).toHaveLength(1);
    expect(other.coordinator.isLeader()).toBe(true);
    console.log(
      `[cluster] SIGSTOP: frozen leader's local deadline ${deadline - pausedAt}ms after the pause; ` +
        `new leader ${newLeaderAt - deadline}ms after that deadline (${newLeaderAt - pausedAt}ms after the pause); ` +
        `last write ${deadline - lastWrite}ms before the deadline`,
    );
  });

  it('a follower frozen past its lease rejoins as a follower without disturbing the leader', async () => {
    freshPrefix();
    const leader = makeNode('steady');
    await leader.node.start();
    await until(() => leader.coordinator.isLeader(), 'steady to lead');
    const term = leader.coordinator.currentTerm()!;
    const sleeper = await child('sleeper', null);
    await sleeper.waitFor((l) => l.ev === 'follow' && l.leader === 'steady');
    await until(async () => (await leader.coordinator.members()).length === 2, 'two members');
    sleeper.pause();
    await until(async () => (await leader.coordinator.members()).length === 1, 'the sleeper\'s record to expire', 10_000);
    const resumeFrom = sleeper.lines.length;
    sleeper.resume();
    await until(async () => (await leader.coordinator.members()).map((m) => m.name).join() === 'sleeper,steady', 'the sleeper to rejoin', 10_000);
    // Same leader, same epoch: it keeps following (re-connecting its replication stream is the syncer's job).
    expect(sleeper.lines.slice(resumeFrom).filter((l) => ['leader', 'unfollow', 'syncer-start'].includes(l.ev))).toEqual([]);
    expect(leader.coordinator.currentTerm()).toBe(term);
    expect(term.isCurrent()).toBe(true);
  });

  it('a SIGKILLed leader is replaced within the lease TTL plus a little (failover time measured)', async () => {
    const figures: number[] = [];
    for (let trial = 0; trial < 3; trial++) {
      freshPrefix();
      const victim = await child(`victim${trial}`, ARGS);
      await victim.waitFor((l) => l.ev === 'admin-started');
      const other = makeNode(`survivor${trial}`);
      await other.node.start();
      await until(() => other.rec.following === `victim${trial}`, 'the survivor to follow the victim');
      // Kill at a random point of the keep-alive cycle.
      await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 500)));
      const killedAt = Date.now();
      await victim.kill('SIGKILL');
      const leadAt = await until(() => other.leaderAt[0], 'the survivor to lead', 10_000);
      await until(() => other.rec.starts().length === 1, 'the takeover');
      expect(other.rec.starts()[0]).toMatchObject({ reason: 'takeover', args: ARGS });
      figures.push(leadAt - killedAt);
      await other.node.stop();
    }
    console.log(`[cluster] SIGKILL failover with a ${TTL_MS}ms lease: ${figures.join('ms, ')}ms`);
    for (const f of figures) expect(f).toBeLessThan(TTL_MS + 1500);
  });
});
