// Discovery against real MariaDB servers: primary P (semi-sync source) -> replica A (direct, log_slave_updates)
// -> replica B (chained through A). The through-the-proxy replica (P -> binlog-proxy -> replica) needs the
// proxy's replica-facing server and is added by the lead in the end-to-end suite.
import fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LevelKvRange, openBufferLevel, type BufferLevel } from '../../src/discovery/kv-level.js';
import { discoveryRoutes } from '../../src/discovery/routes.js';
import { DiscoveryService, type DiscoverySettings } from '../../src/discovery/service.js';
import { KvInstanceStore } from '../../src/discovery/store.js';
import type { ClusterGraph, Instance } from '../../src/discovery/types.js';
import { startMariaDB, startReplica, waitForReplicaCatchUp, type MariaDBInstance } from '../helpers/mariadb.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { closedPort, startBlackhole } from '../unit/discovery/fake-mysql-server.js';

const H = '127.0.0.1';
const DISCOVERY_USER = 'orchestrator';
const DISCOVERY_PASSWORD = 'disc-pw-9f3a1c';
const REPL_PASSWORD = 'repl-pw-77e2';

let primary: MariaDBInstance;
let replicaA: MariaDBInstance;
let replicaB: MariaDBInstance;
let dataDir = '';
let db: BufferLevel;
const logLines: string[] = [];

interface Harness {
  app: FastifyInstance;
  service: DiscoveryService;
}
const harnesses: Harness[] = [];

async function harness(settings: Partial<DiscoverySettings> = {}): Promise<Harness> {
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  const store = await KvInstanceStore.open(new LevelKvRange(db, Buffer.from(`discovery-${harnesses.length}/`)));
  const service = new DiscoveryService({
    store,
    logger,
    settings: {
      user: DISCOVERY_USER,
      password: DISCOVERY_PASSWORD,
      connectTimeoutMs: 1000,
      queryTimeoutMs: 3000,
      maxDepth: 10,
      maxInstances: 100,
      ...settings,
    },
  });
  const app = fastify({ logger: false });
  await app.register(discoveryRoutes, { discovery: service });
  await app.ready();
  const h = { app, service };
  harnesses.push(h);
  return h;
}

async function get(h: Harness, url: string): Promise<{ status: number; body: { Code: string; Message: string; Details?: unknown }; raw: string; ms: number }> {
  const started = Date.now();
  const res = await h.app.inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.json(), raw: res.body, ms: Date.now() - started };
}

async function one<T extends RowDataPacket>(inst: MariaDBInstance, sql: string): Promise<T> {
  const rows = await inst.query<T[]>(sql);
  if (rows[0] === undefined) throw new Error(`${sql}: no rows`);
  return rows[0];
}

async function waitFor<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  dataDir = await makeTempDir('bp-disc-it-');
  db = await openBufferLevel(dataDir);
  primary = await startMariaDB({ semiSyncMaster: true });
  await primary.createReplicationUser('repl', REPL_PASSWORD);
  await primary.query("CREATE USER ?@'%' IDENTIFIED BY ?", [DISCOVERY_USER, DISCOVERY_PASSWORD]);
  await primary.query("GRANT PROCESS, BINLOG MONITOR, SLAVE MONITOR, REPLICATION MASTER ADMIN ON *.* TO ?@'%'", [DISCOVERY_USER]);
  await primary.query('CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB');
  replicaA = await startReplica({
    primary: { host: primary.host, port: primary.port },
    user: 'repl',
    password: REPL_PASSWORD,
    useGtid: 'slave_pos',
    logSlaveUpdates: true,
  });
  replicaB = await startReplica({
    primary: { host: replicaA.host, port: replicaA.port },
    user: 'repl',
    password: REPL_PASSWORD,
    useGtid: 'slave_pos',
  });
  const pos = await primary.gtidBinlogPos();
  await waitForReplicaCatchUp(replicaA, pos);
  await waitForReplicaCatchUp(replicaB, pos);
  // Both replicas registered with their sources (SHOW SLAVE HOSTS) before the tests look.
  await waitFor('replica registrations', async () => {
    const p = await primary.query<RowDataPacket[]>('SHOW SLAVE HOSTS');
    const a = await replicaA.query<RowDataPacket[]>('SHOW SLAVE HOSTS');
    return p.length === 1 && a.length === 1 ? true : null;
  });
});

afterAll(async () => {
  for (const h of harnesses) {
    await h.service.close();
    await h.app.close();
  }
  await db?.close();
  await replicaB?.destroy();
  await replicaA?.destroy();
  await primary?.destroy();
  if (dataDir !== '') await removeTempDir(dataDir);
});

describe('discovery against real MariaDB', () => {
  it('discovering the primary finds the whole graph', async () => {
    const h = await harness();
    const res = await get(h, `/api/discover/${H}/${primary.port}`);
    expect(res.status).toBe(200);
    expect(res.body.Code).toBe('OK');
    expect(res.body.Message).toBe(`Instance discovered: ${H}:${primary.port}`);
    const p = res.body.Details as Instance;
    expect(p.role).toBe('primary');
    expect(p.master_key).toBeNull();
    expect(p.replication).toBeNull();
    expect(p.replicas).toEqual([{ host: H, port: replicaA.port, server_id: replicaA.serverId }]);
    expect(p.semi_sync).toMatchObject({ source_enabled: true, replica_enabled: false });
    expect(p.binlog_dump_threads).toBe(1);

    await h.service.idle();
    const cluster = await get(h, `/api/cluster/${encodeURIComponent(`${H}:${replicaB.port}`)}`);
    expect(cluster.status).toBe(200);
    const graph = cluster.body.Details as ClusterGraph;
    expect(graph.cluster_name).toBe(`${H}:${primary.port}`);
    expect(graph.nodes.map((n) => [n.key.port, n.discovered, n.instance?.role])).toEqual(
      [
        [primary.port, true, 'primary'],
        [replicaA.port, true, 'intermediate'],
        [replicaB.port, true, 'replica'],
      ].sort((x, y) => `${H}:${x[0]}`.localeCompare(`${H}:${y[0]}`)),
    );
    expect(graph.edges.map((e) => [e.source.port, e.replica.port])).toEqual(
      expect.arrayContaining([
        [primary.port, replicaA.port],
        [replicaA.port, replicaB.port],
      ]),
    );
    expect(graph.edges.length).toBe(2);
    const list = await get(h, '/api/instances');
    expect((list.body.Details as Instance[]).length).toBe(3);
  });

  it('reads the fields of an intermediate replica right', async () => {
    const h = await harness({ maxDepth: 0 });
    const res = await get(h, `/api/discover/localhost/${replicaA.port}`);
    expect(res.status).toBe(200);
    const a = res.body.Details as Instance;
    const vars = await one(replicaA, 'SELECT VERSION() AS version, @@version_comment AS comment, @@hostname AS hostname, @@gtid_binlog_pos AS binlog_pos, @@gtid_current_pos AS current_pos, @@gtid_slave_pos AS slave_pos');
    const master = await one(replicaA, 'SHOW MASTER STATUS');
    const slave = await one(replicaA, 'SHOW SLAVE STATUS');
    expect(a).toMatchObject({
      key: { host: H, port: replicaA.port },
      flavor: 'mariadb',
      version: vars['version'],
      version_comment: vars['comment'],
      hostname: vars['hostname'],
      report_host: H,
      report_port: replicaA.port,
      server_id: replicaA.serverId,
      server_uuid: null,
      read_only: false,
      log_bin: true,
      binlog_format: 'ROW',
      log_replica_updates: true,
      binlog: { file: master['File'], position: Number(master['Position']) },
      gtid: { flavor: 'mariadb', binlog_pos: vars['binlog_pos'], current_pos: vars['current_pos'], slave_pos: vars['slave_pos'] },
      master_key: { host: H, port: primary.port },
      replicas: [{ host: H, port: replicaB.port, server_id: replicaB.serverId }],
      role: 'intermediate',
      problems: [],
      gtid_errant: null,
      notes: [],
      last_check_valid: true,
    });
    expect(a.replication).toMatchObject({
      channel: '',
      master_key: { host: H, port: primary.port },
      master_server_id: primary.serverId,
      io_running: true,
      sql_running: true,
      seconds_behind_master: 0,
      read_position: { file: slave['Master_Log_File'], position: Number(slave['Read_Master_Log_Pos']) },
      exec_position: { file: slave['Relay_Master_Log_File'], position: Number(slave['Exec_Master_Log_Pos']) },
      using_gtid: true,
      gtid_mode: 'slave_pos',
      last_io_errno: 0,
      last_sql_errno: 0,
    });
    // A server started less than a second ago reports 0: compare with the server's own counter instead.
    const up = await one<RowDataPacket>(replicaA, "SHOW GLOBAL STATUS LIKE 'Uptime'");
    expect(Number.isInteger(a.uptime_seconds)).toBe(true);
    expect(Math.abs((a.uptime_seconds ?? -1000) - Number(up["Value"]))).toBeLessThanOrEqual(5);
    expect(a.semi_sync.replica_enabled).toBe(false);
    for (const t of [a.first_seen_at, a.last_checked_at, a.last_seen_at]) expect(Date.now() - Date.parse(t)).toBeLessThan(60_000);
    // 'localhost' and '127.0.0.1' are one instance.
    const again = await get(h, `/api/discover/${H}/${replicaA.port}`);
    expect((again.body.Details as Instance).first_seen_at).toBe(a.first_seen_at);
    expect(((await get(h, '/api/instances')).body.Details as Instance[]).length).toBe(1);
    const stored = await get(h, `/api/instance/localhost/${replicaA.port}`);
    expect(stored.status).toBe(200);
  });

  it('shows a stopped IO thread', async () => {
    const h = await harness({ maxDepth: 0 });
    await replicaB.query('STOP SLAVE IO_THREAD');
    try {
      const res = await get(h, `/api/discover/${H}/${replicaB.port}`);
      expect(res.status).toBe(200);
      const b = res.body.Details as Instance;
      expect(b.replication).toMatchObject({ io_running: false, io_state: 'No', sql_running: true });
      expect(b.problems).toEqual(expect.arrayContaining(['not_replicating', 'io_thread_stopped']));
      expect(b.problems).not.toContain('sql_thread_stopped');
      expect(b.role).toBe('replica');
    } finally {
      await replicaB.query('START SLAVE IO_THREAD');
    }
  });

  it('shows a duplicate-key SQL error and the errant transaction that caused it', async () => {
    const h = await harness({ maxDepth: 0 });
    // A local write on B (binlogged with B's server_id), then the same key from the primary.
    await replicaB.query("INSERT INTO app.t VALUES (1, 'local')");
    await primary.query("INSERT INTO app.t VALUES (1, 'primary')");
    const status = await waitFor('the duplicate-key error on B', async () => {
      const row = await one(replicaB, 'SHOW SLAVE STATUS');
      return Number(row['Last_SQL_Errno']) === 1062 ? row : null;
    });
    expect(status['Slave_SQL_Running']).toBe('No');
    // Know B's source first, so the errant verdict compares against it.
    await get(h, `/api/discover/${H}/${replicaA.port}`);
    const res = await get(h, `/api/discover/${H}/${replicaB.port}`);
    expect(res.status).toBe(200);
    const b = res.body.Details as Instance;
    expect(b.replication).toMatchObject({ sql_running: false, last_sql_errno: 1062 });
    expect(b.replication?.last_sql_error).toMatch(/Duplicate entry '1'/);
    expect(b.replication?.seconds_behind_master).toBeNull();
    expect(b.problems).toEqual(expect.arrayContaining(['not_replicating', 'sql_thread_stopped', 'sql_error', 'errant_gtid']));
    expect(b.gtid_errant).toMatch(new RegExp(`^0-${replicaB.serverId}-[0-9]+$`));
  });

  it('notes optional statements a user without privileges may not run, and still answers', async () => {
    await primary.query("CREATE OR REPLACE USER 'nopriv'@'%' IDENTIFIED BY 'nopriv-pw-1'");
    await waitForReplicaCatchUp(replicaA, await primary.gtidBinlogPos());
    const h = await harness({ user: 'nopriv', password: 'nopriv-pw-1', maxDepth: 0 });
    const res = await get(h, `/api/discover/${H}/${replicaA.port}`);
    expect(res.status).toBe(200);
    const a = res.body.Details as Instance;
    expect(a.server_id).toBe(replicaA.serverId);
    expect(a.log_bin).toBe(true);
    expect(a.binlog).toBeNull();
    expect(a.replication).toBeNull();
    const noted = a.notes.join('\n');
    for (const sql of ['SHOW ALL SLAVES STATUS / SHOW SLAVE STATUS', 'SHOW BINLOG STATUS / SHOW MASTER STATUS', 'SHOW SLAVE HOSTS']) {
      expect(noted).toContain(`${sql}: `);
    }
    expect(noted).toMatch(/\(1227\)/);
  });

  it('answers 502 with the server error for a wrong password, in bounded time', async () => {
    const h = await harness({ password: 'definitely-wrong-pw' });
    const res = await get(h, `/api/discover/${H}/${primary.port}`);
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ Code: 'ERROR', Details: { code: 'ERR_DISCOVERY_SERVER_ERROR', errno: 1045, sql_state: '28000' } });
    expect(res.body.Message).toMatch(/Access denied for user 'orchestrator'/);
    expect(res.raw).not.toContain('definitely-wrong-pw');
    expect(res.ms).toBeLessThan(3000);
  });

  it('answers 502 for a closed port and 504 for a host that never answers, in bounded time', async () => {
    const h = await harness();
    const port = await closedPort();
    const refused = await get(h, `/api/discover/${H}/${port}`);
    expect(refused.status).toBe(502);
    expect(refused.body).toMatchObject({ Code: 'ERROR', Details: { code: 'ERR_DISCOVERY_REFUSED' } });
    expect(refused.body.Message).toMatch(/connection refused/);
    expect(refused.ms).toBeLessThan(1000);

    const hole = await startBlackhole();
    try {
      const hung = await get(h, `/api/discover/${H}/${hole.port}`);
      expect(hung.status).toBe(504);
      expect(hung.body).toMatchObject({ Code: 'ERROR', Details: { code: 'ERR_DISCOVERY_TIMEOUT' } });
      expect(hung.ms).toBeGreaterThanOrEqual(900);
      expect(hung.ms).toBeLessThan(3000);
    } finally {
      await hole.close();
    }

    const bad = await get(h, `/api/discover/${H}/0`);
    expect(bad.status).toBe(400);
  });

  it('async-discover answers 202 and records the graph in the background', async () => {
    const h = await harness();
    const res = await get(h, `/api/async-discover/${H}/${replicaA.port}`);
    expect(res.status).toBe(202);
    await h.service.idle();
    const list = (await get(h, '/api/instances')).body.Details as Instance[];
    expect(list.map((i) => i.key.port).sort()).toEqual([primary.port, replicaA.port, replicaB.port].sort());
  });

  it('never writes a password to the log', () => {
    const all = logLines.join('\n');
    expect(all).toContain('instance discovered');
    expect(all).toContain('instance probe failed');
    expect(all).not.toContain(DISCOVERY_PASSWORD);
    expect(all).not.toContain('definitely-wrong-pw');
  });
});
