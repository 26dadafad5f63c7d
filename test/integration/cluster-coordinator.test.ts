// EtcdCoordinator against a real private etcd: election, leader change, intent fencing, secrets, shared KV.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { EtcdCoordinator, fencedPut, type EtcdCoordinatorOptions } from '../../src/cluster/coordinator.js';
import { ClusterKeys } from '../../src/cluster/keys.js';
import type { LeaderTerm, StepDownReason, StoredSyncerIntent } from '../../src/cluster/types.js';
import type { SyncerArgs } from '../../src/config/config.js';
import { KvInstanceStore } from '../../src/discovery/store.js';
import { createLogger } from '../../src/logger.js';
import { startEtcd, type EtcdInstance } from '../helpers/etcd.js';
import { getFreePort } from '../helpers/ports.js';
import { sampleInstance } from '../unit/discovery/fixtures.js';

const logger = createLogger(process.env.CLUSTER_TEST_LOG ?? 'silent');
const TTL_MS = 2000;
const SECRET = 'a cluster secret of decent length';
const ARGS: SyncerArgs = {
  mysql_addr: '127.0.0.1:3399',
  mysql_user: 'repl',
  mysql_password: 'the-Syncer-Passw0rd',
  syncer_id: 4242,
  semi_sync: false,
  start: 'earliest',
};

let etcd: EtcdInstance;
let raw: Etcd3;
let prefixNo = 0;
let prefix = '';
const live: EtcdCoordinator[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
  raw = new Etcd3({ hosts: etcd.endpoint });
});

afterAll(async () => {
  raw?.close();
  await etcd?.destroy();
});

afterEach(async () => {
  await Promise.all(live.splice(0).map((c) => c.stop()));
});

function freshPrefix(): string {
  prefix = `/bp-test-${process.pid}-${prefixNo++}/`;
  return prefix;
}

function node(name: string, opts: Partial<EtcdCoordinatorOptions> = {}): EtcdCoordinator {
  const c = new EtcdCoordinator({
    self: { name, adminUrl: `http://127.0.0.1:1/${name}`, serverAddr: `127.0.0.1:2${name.length}` },
    etcd: { hosts: etcd.endpoint },
    prefix,
    leaseTtlMs: TTL_MS,
    secret: SECRET,
    logger,
    ...opts,
  });
  live.push(c);
  return c;
}

async function until<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null && v !== undefined && v !== false) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function leaderOf(nodes: EtcdCoordinator[]): EtcdCoordinator | undefined {
  const leaders = nodes.filter((n) => n.isLeader());
  expect(leaders.length).toBeLessThanOrEqual(1);
  return leaders[0];
}

describe('election', () => {
  it('elects exactly one leader that every node sees, and lists every member', async () => {
    freshPrefix();
    const nodes = [node('a'), node('b'), node('c')];
    await Promise.all(nodes.map((n) => n.start()));
    const leader = await until(() => leaderOf(nodes), 'a leader');
    await until(() => nodes.every((n) => n.leader()?.name === leader.name), 'all nodes to see the leader');
    const epochs = new Set(nodes.map((n) => n.leader()!.epoch));
    expect(epochs.size).toBe(1);
    expect(nodes.filter((n) => n.isLeader())).toEqual([leader]);
    expect(nodes.filter((n) => n !== leader).map((n) => n.role())).toEqual(['follower', 'follower']);

    const members = await nodes[1]!.members();
    expect(members.map((m) => m.name)).toEqual(['a', 'b', 'c']);
    expect(members.filter((m) => m.is_leader).map((m) => m.name)).toEqual([leader.name]);
    expect(members.find((m) => m.name === 'b')).toMatchObject({ admin_url: 'http://127.0.0.1:1/b', server_addr: '127.0.0.1:21', position: null });
  });

  it('hands the leadership over at once when the leader stops, with a higher epoch, and runs its hook first', async () => {
    freshPrefix();
    const nodes = [node('a'), node('b'), node('c')];
    const events: string[] = [];
    for (const n of nodes) {
      n.on('leader', (t) => events.push(`${n.name}:leader:${t.epoch}`));
      n.onLoseLeadership(async (t, reason) => {
        await new Promise((r) => setTimeout(r, 50));
        events.push(`${n.name}:hook:${reason}:${t.epoch}`);
      });
    }
    await Promise.all(nodes.map((n) => n.start()));
    const first = await until(() => leaderOf(nodes), 'a leader');
    const firstTerm = first.currentTerm()!;
    const others = nodes.filter((n) => n !== first);
    const began = Date.now();
    await first.stop();
    expect(firstTerm.signal.aborted).toBe(true);
    expect(firstTerm.isCurrent()).toBe(false);
    const second = await until(() => leaderOf(others), 'a new leader', 5000);
    const handover = Date.now() - began;
    const secondTerm = second.currentTerm()!;
    expect(secondTerm.epoch).toBeGreaterThan(firstTerm.epoch);
    // Revoking the lease on stop frees the key at once: no waiting for the TTL.
    expect(handover).toBeLessThan(TTL_MS);
    const hookAt = events.indexOf(`${first.name}:hook:stopping:${firstTerm.epoch}`);
    const newLeaderAt = events.indexOf(`${second.name}:leader:${secondTerm.epoch}`);
    expect(hookAt).toBeGreaterThanOrEqual(0);
    expect(newLeaderAt).toBeGreaterThan(hookAt);
    await until(async () => (await second.members()).map((m) => m.name).join(',') === others.map((n) => n.name).join(','), 'the stopped member to leave');
  });

  it('steps down when the leader key is taken away, ending the term before the hook and re-electing', async () => {
    freshPrefix();
    const a = node('a');
    const reasons: StepDownReason[] = [];
    let abortedBeforeHook = false;
    a.onLoseLeadership(async (t, reason) => {
      abortedBeforeHook = t.signal.aborted && !t.isCurrent();
      reasons.push(reason);
    });
    await a.start();
    const term1 = await until(() => a.currentTerm(), 'a to lead');
    await raw.delete().key(new ClusterKeys(prefix).leader);
    await until(() => reasons.length > 0, 'the step-down hook');
    expect(reasons).toEqual(['leader-key-lost']);
    expect(abortedBeforeHook).toBe(true);
    expect(term1.isCurrent()).toBe(false);
    // Alone in the cluster, it wins again with a new epoch.
    const term2 = await until(() => a.currentTerm(), 'a to lead again');
    expect(term2.epoch).toBeGreaterThan(term1.epoch);
  });

  it('observers never campaign', async () => {
    freshPrefix();
    const o = node('observer', { candidate: false });
    await o.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(o.isLeader()).toBe(false);
    expect(o.leader()).toBeNull();
    const c = node('c');
    await c.start();
    await until(() => o.leader()?.name === 'c', 'the observer to see c lead');
  });

  it('fails start() with ERR_CLUSTER_UNAVAILABLE when etcd does not answer', async () => {
    freshPrefix();
    const port = await getFreePort();
    const c = node('lonely', { etcd: { hosts: `http://127.0.0.1:${port}` }, callTimeoutMs: 500 });
    const began = Date.now();
    await expect(c.start()).rejects.toMatchObject({ code: 'ERR_CLUSTER_UNAVAILABLE' });
    expect(Date.now() - began).toBeLessThan(5000);
  });
});

describe('syncer intent', () => {
  it('is stored by the leader only, read back with the password, and watched by followers', async () => {
    freshPrefix();
    const nodes = [node('a'), node('b')];
    await Promise.all(nodes.map((n) => n.start()));
    const leader = await until(() => leaderOf(nodes), 'a leader');
    const follower = nodes.find((n) => n !== leader)!;
    const seen: Array<StoredSyncerIntent | null> = [];
    const unwatch = await follower.watchSyncerIntent((i) => seen.push(i));

    expect(await follower.getSyncerIntent()).toBeNull();
    await expect(follower.proposeSyncerIntent({ running: true, args: ARGS })).rejects.toMatchObject({ code: 'ERR_NOT_LEADER' });

    const rev = await leader.proposeSyncerIntent({ running: true, args: ARGS });
    const stored = await follower.getSyncerIntent();
    expect(stored).toMatchObject({ running: true, args: ARGS, leader: leader.name, epoch: leader.currentTerm()!.epoch, revision: rev });
    await until(() => seen.length === 1, 'the watch to fire');
    expect(seen[0]).toMatchObject({ running: true, args: ARGS });

    await leader.proposeSyncerIntent({ running: false, args: ARGS });
    await until(() => seen.length === 2, 'the stop to be seen');
    expect(seen[1]).toMatchObject({ running: false });
    await unwatch();
  });

  it('seals the password: etcd holds no clear text, and a node with another secret cannot open it', async () => {
    freshPrefix();
    const a = node('a');
    await a.start();
    await until(() => a.isLeader(), 'a to lead');
    await a.proposeSyncerIntent({ running: true, args: ARGS });
    const rawValue = await raw.get(new ClusterKeys(prefix).intent).buffer();
    expect(rawValue).not.toBeNull();
    expect(rawValue!.toString('utf8')).not.toContain(ARGS.mysql_password);
    expect(JSON.parse(rawValue!.toString('utf8'))).toMatchObject({ password: { alg: 'aes-256-gcm' }, args: { mysql_user: 'repl' } });

    const wrong = node('wrong', { secret: 'another secret, also long enough', candidate: false });
    await wrong.start();
    await expect(wrong.getSyncerIntent()).rejects.toMatchObject({ code: 'ERR_CLUSTER_SECRET' });
    const none = node('none', { secret: null, candidate: false });
    await none.start();
    await expect(none.getSyncerIntent()).rejects.toMatchObject({ code: 'ERR_CLUSTER_SECRET' });
  });

  it('refuses a write from a term whose leader key was replaced (fenced in the etcd transaction)', async () => {
    freshPrefix();
    const a = node('a');
    const hookStarted: LeaderTerm[] = [];
    let releaseHook: () => void = () => undefined;
    // Hold the step-down hook so the stale term object stays around while we try to write with it.
    a.onLoseLeadership(async (t) => {
      hookStarted.push(t);
      await new Promise<void>((r) => {
        releaseHook = r;
      });
    });
    await a.start();
    const term = await until(() => a.currentTerm(), 'a to lead');
    const keys = new ClusterKeys(prefix);
    // Someone else's leader record (another lease), as after an expiry and a new election.
    const lease = raw.lease(10, { autoKeepAlive: false });
    await raw.delete().key(keys.leader);
    await lease.put(keys.leader).value(JSON.stringify({ v: 1, name: 'intruder', admin_url: 'http://x', server_addr: 'x:1' }));
    await until(() => hookStarted.length === 1, 'a to step down');
    expect(term.isCurrent()).toBe(false);
    await expect(a.proposeSyncerIntent({ running: true, args: ARGS })).rejects.toMatchObject({ code: 'ERR_NOT_LEADER' });
    expect(await raw.get(keys.intent).buffer()).toBeNull();
    // Once its hook is done, a learns the new leader record. Not before: a node re-reads the leader key only after
    // its step-down finished, and its watch may have delivered the delete alone (the key read as absent).
    releaseHook();
    await until(() => (a.leader()?.name === 'intruder' ? true : null), 'a to see the intruder as leader');
    expect(a.isLeader()).toBe(false);
    await lease.revoke();
  });
});

describe('fencedPut', () => {
  it('applies only while the leader key has the same create revision and lease', async () => {
    freshPrefix();
    const keys = new ClusterKeys(prefix);
    const l1 = raw.lease(30, { autoKeepAlive: false });
    const l2 = raw.lease(30, { autoKeepAlive: false });
    const [id1, id2] = [String(await l1.grant()), String(await l2.grant())];
    const soon = (): { deadline: Date } => ({ deadline: new Date(Date.now() + 2000) });
    const created = await l1.put(keys.leader).value('{}');
    const e1 = BigInt(created.header.revision);

    const ok = await fencedPut(raw, { leaderKey: keys.leader, epoch: e1, leaseId: id1 }, keys.intent, Buffer.from('one'), soon());
    expect(ok.succeeded).toBe(true);
    expect(await raw.get(keys.intent).string()).toBe('one');
    // Same lease, wrong epoch.
    const staleEpoch = await fencedPut(raw, { leaderKey: keys.leader, epoch: e1 - 1n, leaseId: id1 }, keys.intent, Buffer.from('x'), soon());
    expect(staleEpoch.succeeded).toBe(false);
    // The key re-created (a new term) under the same lease: the old epoch no longer matches.
    await raw.delete().key(keys.leader);
    const e2 = BigInt((await l1.put(keys.leader).value('{}')).header.revision);
    expect((await fencedPut(raw, { leaderKey: keys.leader, epoch: e1, leaseId: id1 }, keys.intent, Buffer.from('x'), soon())).succeeded).toBe(false);
    // Same create revision, but the key now belongs to another lease.
    await l2.put(keys.leader).value('{}');
    expect((await fencedPut(raw, { leaderKey: keys.leader, epoch: e2, leaseId: id1 }, keys.intent, Buffer.from('x'), soon())).succeeded).toBe(false);
    expect((await fencedPut(raw, { leaderKey: keys.leader, epoch: e2, leaseId: id2 }, keys.intent, Buffer.from('two'), soon())).succeeded).toBe(true);
    // No leader key at all.
    await raw.delete().key(keys.leader);
    expect((await fencedPut(raw, { leaderKey: keys.leader, epoch: e2, leaseId: id2 }, keys.intent, Buffer.from('x'), soon())).succeeded).toBe(false);
    expect(await raw.get(keys.intent).string()).toBe('two');
    await Promise.all([l1.revoke(), l2.revoke()]);
  });
});

describe('shared KV (discovery store over etcd)', () => {
  it('is one store for every node: InstanceStore round-trips, lists in key order and deletes', async () => {
    freshPrefix();
    const a = node('a');
    const b = node('b', { candidate: false });
    await Promise.all([a.start(), b.start()]);
    const storeA = await KvInstanceStore.open(a.sharedKv('discovery'));
    const storeB = await KvInstanceStore.open(b.sharedKv('discovery'));
    await storeA.put(sampleInstance('127.0.0.2', 10));
    await storeA.put(sampleInstance('127.0.0.1', 3307));
    await storeB.put(sampleInstance('127.0.0.1', 3306));
    expect((await storeB.list()).map((i) => `${i.key.host}:${i.key.port}`)).toEqual(['127.0.0.1:3306', '127.0.0.1:3307', '127.0.0.2:10']);
    expect(await storeB.get({ host: '127.0.0.2', port: 10 })).toEqual(sampleInstance('127.0.0.2', 10));
    expect(await storeA.delete({ host: '127.0.0.1', port: 3306 })).toBe(true);
    expect(await storeB.delete({ host: '127.0.0.1', port: 3306 })).toBe(false);
    // Another namespace is another key space.
    expect(await (await KvInstanceStore.open(a.sharedKv('other'))).list()).toEqual([]);
  });

  it('iterates byte-ordered ranges across pages, within bounds, and outlives the node that wrote it', async () => {
    freshPrefix();
    const a = node('a');
    await a.start();
    const kv = a.sharedKv('bulk');
    const keys: Buffer[] = [];
    for (let i = 0; i < 600; i++) keys.push(Buffer.from([0x01, i >> 8, i & 0xff]));
    keys.push(Buffer.from([0xff, 0xff]), Buffer.from([0x00]));
    await Promise.all(keys.map((k, i) => kv.put(k, Buffer.from(`v${i}`))));
    const all: Buffer[] = [];
    for await (const [k] of kv.iterate({})) all.push(k);
    expect(all).toEqual([...keys].sort(Buffer.compare));
    const some: string[] = [];
    for await (const [k, v] of kv.iterate({ gte: Buffer.from([0x01, 0x00, 0x05]), lt: Buffer.from([0x01, 0x00, 0x08]) })) some.push(`${k.toString('hex')}=${v.toString()}`);
    expect(some).toEqual(['010005=v5', '010006=v6', '010007=v7']);
    await a.stop();
    const b = node('b');
    await b.start();
    expect((await b.sharedKv('bulk').get(Buffer.from([0xff, 0xff])))?.toString()).toBe('v600');
  });
});
