// The admin API in cluster mode: three real admin apps (buildAdminApp + clusterAdminPlugin) listening on
// 127.0.0.1 port 0, three coordinators on one real etcd. Requests to a follower's /binlog/syncer/* reach
// the leader over HTTP and its answer comes back unchanged, errors included.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { memoryReport } from '../../src/memory.js';
import { buildAdminApp } from '../../src/admin/app.js';
import { EtcdCoordinator } from '../../src/cluster/coordinator.js';
import { FORWARDED_BY_HEADER, LEADER_HEADER, clusterAdminPlugin } from '../../src/cluster/forward.js';
import { ClusterNode, type ClusterCallbacks } from '../../src/cluster/node.js';
import type { LeaderInfo } from '../../src/cluster/types.js';
import type { SyncerArgs } from '../../src/config/config.js';
import { BinlogProxyError, ConflictError, NotFoundError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import type { ServerStatus } from '../../src/server/types.js';
import type { SyncerStatus } from '../../src/syncer/types.js';
import { startEtcd, type EtcdInstance } from '../helpers/etcd.js';
import { getFreePort } from '../helpers/ports.js';
import { syncerStatusOf } from '../helpers/syncer-status.js';

const logger = createLogger(process.env.CLUSTER_TEST_LOG ?? 'silent');
const TTL_MS = 2000;
const TOKEN = 'admin-token-for-the-cluster-tests';
const ARGS: SyncerArgs = { mysql_addr: '127.0.0.1:3399', mysql_user: 'repl', mysql_password: 'pw-in-transit', syncer_id: 9001 };

let etcd: EtcdInstance;
let prefixNo = 0;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  etcd = await startEtcd();
});

afterAll(async () => {
  await etcd?.destroy();
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function until<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null && v !== undefined && v !== false) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function syncerStatus(running: boolean, args: SyncerArgs | null): SyncerStatus {
  return syncerStatusOf({ running, args });
}

/** A recording stand-in for the daemon's syncer. */
class FakeSyncer implements ClusterCallbacks {
  running = false;
  args: SyncerArgs | null = null;
  calls: string[] = [];
  refuse: BinlogProxyError | null = null;

  async startSyncer(args: SyncerArgs): Promise<SyncerStatus> {
    this.calls.push(`start:${args.mysql_addr}:${args.mysql_password}`);
    if (this.running) throw new ConflictError('ERR_ALREADY_RUNNING', 'the syncer is already running; stop it first');
    if (this.refuse) throw this.refuse;
    this.running = true;
    this.args = args;
    return syncerStatus(true, args);
  }

  async stopSyncer(): Promise<SyncerStatus> {
    this.calls.push('stop');
    this.running = false;
    return syncerStatus(false, this.args);
  }

  syncerStatus = (): SyncerStatus => syncerStatus(this.running, this.args);
  followLeader = async (_leader: LeaderInfo): Promise<void> => undefined;
  unfollowLeader = async (): Promise<void> => undefined;
  position = (): null => null;
}

const serverStatus: ServerStatus = {
  status: 'stopped', addr: null, user: null, users: [], flavor: null, server_id: 1, server_uuid: '00000000-0000-0000-0000-000000000000', slaves: [], last_error: null,
};

interface AdminNode {
  name: string;
  url: string;
  app: FastifyInstance;
  coordinator: EtcdCoordinator;
  syncer: FakeSyncer;
}

async function adminNode(
  name: string,
  prefix: string,
  opts: { candidate?: boolean; advertise?: string; token?: string | null; forwardTimeoutMs?: number } = {},
): Promise<AdminNode> {
  const syncer = new FakeSyncer();
  const port = await getFreePort();
  const url = `http://127.0.0.1:${port}`;
  const self = { name, adminUrl: opts.advertise ?? url, serverAddr: `127.0.0.1:${port + 1}` };
  const coordinator = new EtcdCoordinator({ self, etcd: { hosts: etcd.endpoint }, prefix, leaseTtlMs: TTL_MS, candidate: opts.candidate ?? true, logger });
  const node = new ClusterNode({ coordinator, self, callbacks: syncer, logger });
  const app = buildAdminApp({
    syncer: node.syncerControl(),
    server: {
      start: async () => serverStatus,
      stop: async () => serverStatus,
      status: () => serverStatus,
    },
    wait: { wait: async () => ({ reached: true, gtid_set: '', executed_gtid_set: '', waited_ms: 0 }) },
    logs: {
      list: async () => [],
      purge: async () => {
        throw new NotFoundError('ERR_NOT_FOUND', 'nothing to purge');
      },
    },
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
    debug: { canCollect: false, memory: () => memoryReport(null) },
    healthy: () => true,
    token: opts.token === undefined ? TOKEN : opts.token,
    logger,
  });
  await app.register(clusterAdminPlugin, { coordinator, forwardTimeoutMs: opts.forwardTimeoutMs ?? 5000 });
  await app.listen({ host: '127.0.0.1', port });
  await node.start();
  cleanups.push(async () => {
    await node.stop();
    await app.close();
  });
  return { name, url, app, coordinator, syncer };
}

async function cluster(): Promise<{ leader: AdminNode; followers: AdminNode[]; all: AdminNode[] }> {
  const prefix = `/bp-fwd-${process.pid}-${prefixNo++}/`;
  const all = await Promise.all(['n1', 'n2', 'n3'].map((n) => adminNode(n, prefix)));
  const leader = await until(() => all.find((n) => n.coordinator.isLeader()), 'a leader');
  const followers = all.filter((n) => n !== leader);
  await until(() => followers.every((f) => f.coordinator.leader()?.name === leader.name), 'followers to see the leader');
  return { leader, followers, all };
}

interface Answer {
  status: number;
  contentType: string | null;
  body: string;
  leader: string | null;
}

async function call(base: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body,
  });
  return { status: res.status, contentType: res.headers.get('content-type'), body: await res.text(), leader: res.headers.get(LEADER_HEADER) };
}

describe('forwarding /binlog/syncer/* from a follower to the leader', () => {
  it('starts the syncer on the leader through a follower and returns the leader\'s answer', async () => {
    const { leader, followers } = await cluster();
    const res = await call(followers[0]!.url, 'PUT', '/binlog/syncer/start', JSON.stringify(ARGS));
    expect(res.status).toBe(200);
    expect(res.leader).toBe(leader.name);
    expect(res.contentType).toMatch(/^application\/json/);
    const parsed = JSON.parse(res.body) as { message: string; data: SyncerStatus };
    expect(parsed).toMatchObject({ message: 'success', data: { status: 'running', mysql_addr: ARGS.mysql_addr, syncer_id: ARGS.syncer_id } });
    expect(res.body).not.toContain(ARGS.mysql_password);
    // The leader's syncer got the whole body, password included; the followers' syncers got nothing.
    expect(leader.syncer.calls).toEqual([`start:${ARGS.mysql_addr}:${ARGS.mysql_password}`]);
    expect(followers.flatMap((f) => f.syncer.calls)).toEqual([]);
    expect(await followers[1]!.coordinator.getSyncerIntent()).toMatchObject({ running: true, args: ARGS });

    // The status, asked of a follower, is the leader's.
    const viaFollower = await call(followers[1]!.url, 'GET', '/binlog/syncer/status');
    const direct = await call(leader.url, 'GET', '/binlog/syncer/status');
    expect(viaFollower).toEqual({ ...direct, leader: leader.name });
    expect(direct.leader).toBeNull();

    const stopped = await call(followers[1]!.url, 'PUT', '/binlog/syncer/stop');
    expect(stopped.status).toBe(200);
    expect(JSON.parse(stopped.body)).toMatchObject({ data: { status: 'stopped' } });
    expect(leader.syncer.calls.at(-1)).toBe('stop');
    expect(await followers[0]!.coordinator.getSyncerIntent()).toMatchObject({ running: false });
  });

  it('returns the leader\'s errors byte for byte: 400 invalid input, 400 bad JSON, 409 conflict, 502 upstream', async () => {
    const { leader, followers } = await cluster();
    const f = followers[0]!.url;
    const { mysql_user: _omit, ...missingUser } = ARGS;
    const cases: Array<[string, string, string | undefined]> = [
      ['PUT', '/binlog/syncer/start', JSON.stringify(missingUser)],
      ['PUT', '/binlog/syncer/start', '{"mysql_addr": '],
      ['PUT', '/binlog/syncer/start', JSON.stringify({ ...ARGS, syncer_id: 'one' })],
      ['GET', '/binlog/syncer/nope?x=1', undefined],
    ];
    for (const [method, path, body] of cases) {
      const direct = await call(leader.url, method, path, body);
      const forwarded = await call(f, method, path, body);
      expect(direct.status).toBeGreaterThanOrEqual(400);
      expect(forwarded).toEqual({ ...direct, leader: leader.name });
    }
    const missing = JSON.parse((await call(f, 'PUT', '/binlog/syncer/start', JSON.stringify(missingUser))).body) as { code: string; field: string };
    expect(missing).toMatchObject({ code: 'ERR_INVALID_INPUT', field: 'mysql_user' });

    expect((await call(f, 'PUT', '/binlog/syncer/start', JSON.stringify(ARGS))).status).toBe(200);
    const conflict = await call(followers[1]!.url, 'PUT', '/binlog/syncer/start', JSON.stringify(ARGS));
    expect(conflict.status).toBe(409);
    expect(JSON.parse(conflict.body)).toEqual({ message: 'the syncer is already running; stop it first', code: 'ERR_ALREADY_RUNNING' });
    await call(f, 'PUT', '/binlog/syncer/stop');

    leader.syncer.refuse = new BinlogProxyError('ERR_UPSTREAM_REFUSED', 'connection to 127.0.0.1:3399 refused');
    const refused = await call(f, 'PUT', '/binlog/syncer/start', JSON.stringify(ARGS));
    expect(refused.status).toBe(502);
    expect(JSON.parse(refused.body)).toEqual({ message: 'connection to 127.0.0.1:3399 refused', code: 'ERR_UPSTREAM_REFUSED' });
    expect(await leader.coordinator.getSyncerIntent()).toMatchObject({ running: false });
  });

  it('checks the token on the follower, and the leader checks the forwarded one', async () => {
    const { leader, followers } = await cluster();
    const noToken = await fetch(`${followers[0]!.url}/binlog/syncer/status`);
    expect(noToken.status).toBe(401);
    expect(noToken.headers.get(LEADER_HEADER)).toBeNull();
    const wrong = await call(followers[0]!.url, 'GET', '/binlog/syncer/status', undefined, { authorization: 'Bearer wrong' });
    expect(wrong.status).toBe(401);
    expect(wrong.leader).toBeNull();
    expect(leader.syncer.calls).toEqual([]);
  });

  it('refuses to forward a request that was already forwarded (no loops while the leadership moves)', async () => {
    const { followers } = await cluster();
    const res = await call(followers[0]!.url, 'GET', '/binlog/syncer/status', undefined, { [FORWARDED_BY_HEADER]: 'n9' });
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'ERR_NOT_LEADER' });
  });

  it('answers 503 ERR_NO_LEADER while there is no leader, and 502 when the leader does not answer', async () => {
    const prefix = `/bp-fwd-${process.pid}-${prefixNo++}/`;
    const observer = await adminNode('observer', prefix, { candidate: false });
    const res = await call(observer.url, 'PUT', '/binlog/syncer/start', JSON.stringify(ARGS));
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toEqual({
      message: 'no leader elected: an election is in progress or etcd is unreachable; retry in a few seconds',
      code: 'ERR_NO_LEADER',
    });
    // Non-syncer routes are still served locally.
    expect((await call(observer.url, 'GET', '/health')).status).toBe(200);

    const deadPort = await getFreePort();
    await adminNode('ghost', prefix, { advertise: `http://127.0.0.1:${deadPort}` });
    await until(() => observer.coordinator.leader()?.name === 'ghost', 'the ghost to lead');
    const unreachable = await call(observer.url, 'GET', '/binlog/syncer/status');
    expect(unreachable.status).toBe(502);
    expect(JSON.parse(unreachable.body)).toMatchObject({ code: 'ERR_LEADER_UNREACHABLE' });
    expect(JSON.parse(unreachable.body).message).toContain(`http://127.0.0.1:${deadPort}`);
  });

  it('answers 504 ERR_LEADER_TIMEOUT when the leader accepts the connection but does not answer', async () => {
    const prefix = `/bp-fwd-${process.pid}-${prefixNo++}/`;
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    cleanups.push(async () => {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const observer = await adminNode('observer', prefix, { candidate: false, forwardTimeoutMs: 300 });
    await adminNode('mute', prefix, { advertise: `http://127.0.0.1:${port}` });
    await until(() => observer.coordinator.leader()?.name === 'mute', 'the mute node to lead');
    const began = Date.now();
    const res = await call(observer.url, 'PUT', '/binlog/syncer/stop');
    expect(Date.now() - began).toBeLessThan(3000);
    expect(res.status).toBe(504);
    expect(JSON.parse(res.body)).toEqual({ message: `the leader mute (http://127.0.0.1:${port}) did not answer within 300ms`, code: 'ERR_LEADER_TIMEOUT' });
  });
});

describe('GET /members and GET /cluster', () => {
  it('lists every node with its name, admin URL, replication address, leadership and position', async () => {
    const { leader, all } = await cluster();
    for (const n of all) {
      const res = await call(n.url, 'GET', '/members');
      expect(res.status).toBe(200);
      const body = JSON.parse(res.body) as { message: string; data: Array<Record<string, unknown>> };
      expect(body.message).toBe('success');
      expect(body.data.map((m) => m.name)).toEqual(['n1', 'n2', 'n3']);
      for (const m of body.data) {
        const node = all.find((x) => x.name === m.name)!;
        expect(m).toMatchObject({ admin_url: node.url, is_leader: node === leader, position: null });
        expect(m.server_addr).toMatch(/^127\.0\.0\.1:\d+$/);
      }
    }
    const res = await call(all[0]!.url, 'GET', '/cluster');
    const data = (JSON.parse(res.body) as { data: Record<string, unknown> }).data;
    expect(data).toMatchObject({
      name: 'n1',
      role: leader.name === 'n1' ? 'leader' : 'follower',
      is_leader: leader.name === 'n1',
      leader: { name: leader.name, admin_url: leader.url },
    });
    expect((data.members as unknown[]).length).toBe(3);
  });
});
