/**
 * GET /binlog/server/wait against a real MariaDB primary: the syncer stores what the primary commits, and the
 * endpoint answers once a GTID position is durable in the store, or reports a timeout; bad input is a 400 that
 * names the field. MySQL GTID sets: a store seeded from the real MySQL 5.7 fixture files.
 */
import path from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMariadbGtid } from '../../protocol/gtid/mariadb.js';
import { openStore, type BinlogStore } from '../../storage/index.js';
import { buildAdminApp } from '../../src/admin/app.js';
import { GtidWaiter, type GtidWaitResult } from '../../src/gtid-wait.js';
import { memoryReport } from '../../src/memory.js';
import { Metrics } from '../../src/metrics.js';
import { Syncer } from '../../src/syncer/syncer.js';
import { startMariaDB, type MariaDBInstance } from '../helpers/mariadb.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { runImport } from '../../src/import.js';
import { ValidationError } from '../../src/config/validate.js';
import { waitFor } from '../helpers/wait.js';

/** Long enough that a unit is durable this soon only because a waiter asked for its write. */
const GROUP_DELAY_MS = 4000;

let db: MariaDBInstance;
let dir: string;
let store: BinlogStore;
let syncer: Syncer;
let waiter: GtidWaiter;
let app: FastifyInstance;

async function wait(query: string): Promise<{ status: number; body: { data: GtidWaitResult; code?: string; field?: string } }> {
  const res = await app.inject({ method: 'GET', url: `/binlog/server/wait?${query}` });
  return { status: res.statusCode, body: res.json() };
}

/** The GTID `ahead` transactions after the primary's current one in domain 0. */
async function next(ahead: number): Promise<string> {
  const g = parseMariadbGtid(await db.gtidBinlogPos());
  return `${g.domainId}-${g.serverId}-${g.seqNo + BigInt(ahead)}`;
}

beforeAll(async () => {
  db = await startMariaDB();
  await db.createReplicationUser('repl', 'replpw');
  await db.query('CREATE DATABASE w');
  await db.query('CREATE TABLE w.t (id INT PRIMARY KEY AUTO_INCREMENT, v INT) ENGINE=InnoDB');
  dir = await makeTempDir('bp-wait-');
  store = await openStore(path.join(dir, 'store'), { groupCommitDelayMs: GROUP_DELAY_MS });
  const log = pino({ level: 'silent' });
  const metrics = new Metrics({ defaultMetrics: false });
  syncer = new Syncer({ store, log, metrics });
  waiter = new GtidWaiter(store);
  const fail = (): never => {
    throw new Error('not used');
  };
  app = buildAdminApp({
    syncer,
    server: { start: fail, stop: fail, status: fail },
    wait: waiter,
    logs: { list: fail, purge: fail },
    debug: { canCollect: false, memory: () => memoryReport(null) },
    metrics: () => metrics.exposition(),
    healthy: () => true,
    token: null,
    logger: log,
  });
  await syncer.start({ mysql_addr: `${db.host}:${db.port}`, mysql_user: 'repl', mysql_password: 'replpw', syncer_id: 4343, start: 'earliest' });
}, 120_000);

afterAll(async () => {
  waiter?.close();
  await app?.close();
  await syncer?.stop();
  await store?.close();
  if (dir) await removeTempDir(dir);
  await db?.destroy();
});

describe('GET /binlog/server/wait', () => {
  it('answers once what the primary committed is durable here, without waiting for the group commit delay', async () => {
    await db.query('INSERT INTO w.t (v) VALUES (1)');
    const target = await db.gtidBinlogPos();
    const t0 = performance.now();
    const r = await wait(`gtid_set=${target}&timeout=20`);
    expect(r.status).toBe(200);
    expect(r.body.data.reached).toBe(true);
    expect(r.body.data.gtid_set).toBe(target);
    expect(performance.now() - t0).toBeLessThan(GROUP_DELAY_MS / 2);
    const st = store.getState();
    expect(st.executedGtids).toContain(target);
    expect(st.durableSeq).toBe(st.lastSeq);
    expect(waiter.size).toBe(0);
  });

  it('waits for a transaction committed after it asked', async () => {
    const target = await next(1);
    const pending = wait(`gtid_set=${target}&timeout=20`);
    await waitFor(async () => waiter.size === 1, 5000, 'the wait to start');
    await new Promise((r) => setTimeout(r, 200));
    expect(waiter.size).toBe(1); // not answered before the commit
    await db.query('INSERT INTO w.t (v) VALUES (2)');
    const r = await pending;
    expect(r.body.data.reached).toBe(true);
    expect(r.body.data.waited_ms).toBeGreaterThanOrEqual(200);
    expect(r.body.data.waited_ms).toBeLessThan(GROUP_DELAY_MS);
    expect(r.body.data.executed_gtid_set).toBe(target);
  });

  it('a timeout is an answer, not an error: reached false after about the timeout', async () => {
    const r = await wait(`gtid_set=${await next(1000)}&timeout=0.3`);
    expect(r.status).toBe(200);
    expect(r.body.data.reached).toBe(false);
    expect(r.body.data.waited_ms).toBeGreaterThanOrEqual(290);
    expect(r.body.data.waited_ms).toBeLessThan(3000);
    expect(r.body.data.executed_gtid_set).toBe(await db.gtidBinlogPos());
    // timeout=0 only looks.
    const now = await wait(`gtid_set=${await db.gtidBinlogPos()}&timeout=0`);
    expect(now.body.data.reached).toBe(true);
    expect(waiter.size).toBe(0);
  });

  it('bad input is a 400 naming the field', async () => {
    const cases: Array<[string, string]> = [
      ['', 'gtid_set'],
      ['gtid_set=banana', 'gtid_set'],
      ['gtid_set=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5', 'gtid_set'], // MySQL form on a MariaDB store
      ['gtid_set=0-1-1,0-1-2', 'gtid_set'],
      ['gtid_set=0-1-1&timeout=-1', 'timeout'],
      ['gtid_set=0-1-1&timeout=soon', 'timeout'],
      ['gtid_set=0-1-1&timeout=3601', 'timeout'],
      ['gtid_set=0-1-1&wait=1', 'wait'],
    ];
    for (const [query, field] of cases) {
      const r = await wait(query);
      expect(r.status, query).toBe(400);
      expect(r.body.field, query).toBe(field);
    }
  });

  it('ends a wait when its client goes away, and every wait on close()', async () => {
    const gone = new AbortController();
    const a = waiter.wait(await next(500), 20_000, gone.signal);
    const b = waiter.wait(await next(600), 20_000);
    expect(waiter.size).toBe(2);
    gone.abort();
    expect((await a).reached).toBe(false);
    expect(waiter.size).toBe(1);
    const other = new GtidWaiter(store);
    const c = other.wait(await next(700), 20_000);
    other.close();
    expect((await c).reached).toBe(false);
    expect((await other.wait(await db.gtidBinlogPos(), 1000)).reached).toBe(false); // closed: no new waits
    expect(waiter.size).toBe(1);
    await db.query('INSERT INTO w.t (v) VALUES (3)');
    const rest = waiter.wait(await next(0), 20_000);
    expect((await rest).reached).toBe(true);
    waiter.close();
    expect((await b).reached).toBe(false);
  });
});

describe('GtidWaiter on a MySQL store (the 5.7.23 fixture files imported)', () => {
  it('compares GTID sets by containment, and refuses a MariaDB position', async () => {
    const dataDir = await makeTempDir('bp-wait-mysql-');
    const fix = path.resolve(import.meta.dirname, '../../../shared/fixtures/binlog/mysql-5.7.23-gtid');
    const report = await runImport({ dataDir, files: ['mysql_bin.000011', 'mysql_bin.000012', 'mysql_bin.000013'].map((f) => path.join(fix, f)), log: pino({ level: 'silent' }) });
    const m = /^([0-9a-f-]{36}):1-(\d+)$/.exec(report.executed_gtids);
    expect(m, report.executed_gtids).not.toBeNull();
    const [uuid, last] = [m![1]!, Number(m![2])];
    const mysqlStore = await openStore(path.join(dataDir, 'binlog'));
    const w = new GtidWaiter(mysqlStore);
    try {
      expect((await w.wait(report.executed_gtids, 1000)).reached).toBe(true);
      expect((await w.wait(`${uuid}:2-${last - 1}`, 1000)).reached).toBe(true);
      expect((await w.wait('', 1000)).reached).toBe(true);
      const beyond = await w.wait(`${uuid}:1-${last + 1}`, 200);
      expect(beyond.reached).toBe(false);
      expect(beyond.executed_gtid_set).toBe(report.executed_gtids);
      expect((await w.wait('3e11fa47-71ca-11e1-9e33-c80aa9429562:1', 100)).reached).toBe(false);
      await expect(w.wait('0-1-5', 100)).rejects.toBeInstanceOf(ValidationError);
      expect(w.size).toBe(0);
    } finally {
      w.close();
      await mysqlStore.close();
      await removeTempDir(dataDir);
    }
  });
});
