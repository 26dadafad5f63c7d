/**
 * Start points (current, a file and position, GTIDs) and the status the syncer shows for failures: wrong
 * password, unreachable primary, missing privileges, no binary log, purged start, server_id clash.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MariadbGtidPosition, parseMariadbGtid } from '../../protocol/gtid/mariadb.js';
import type { SyncerTuning } from '../../src/syncer/syncer.js';
import { getFreePort } from '../helpers/ports.js';
import { startMariaDB, type MariaDBInstance } from '../helpers/mariadb.js';
import { compareWithPrimary, makeHarness, statusLine, storedFile, syncerArgs, waitCaughtUp, waitFor, type Harness } from './syncer-helpers.js';

const FAST: SyncerTuning = { backoff: { baseMs: 20, capMs: 300 }, connectTimeoutMs: 2000 };

let db: MariaDBInstance;
const harnesses: Harness[] = [];

async function harness(tuning: SyncerTuning = FAST): Promise<Harness> {
  const h = await makeHarness(tuning);
  harnesses.push(h);
  return h;
}

/** Start positions of the GTID events of a file (SHOW BINLOG EVENTS), with their GTIDs. */
async function gtidEvents(file: string): Promise<Array<{ pos: number; gtid: string }>> {
  const rows = await db.query<Array<{ Pos: number; Event_type: string; Info: string }>>(`SHOW BINLOG EVENTS IN '${file}'`);
  return rows
    .filter((r) => r.Event_type === 'Gtid')
    .map((r) => ({ pos: Number(r.Pos), gtid: /GTID (\d+-\d+-\d+)/.exec(r.Info)![1]! }));
}

beforeAll(async () => {
  db = await startMariaDB();
  await db.createReplicationUser('repl', 'replpw');
  const c = await db.connect();
  try {
    await c.query('CREATE DATABASE s');
    await c.query('CREATE TABLE s.t (id INT PRIMARY KEY AUTO_INCREMENT, v INT) ENGINE=InnoDB');
    for (let i = 0; i < 5; i++) await c.query('INSERT INTO s.t (v) VALUES (?)', [i]);
    // Interleaved domains: skipping by GTID leaves holes, which the start by GTID must handle.
    await c.query('SET SESSION gtid_domain_id = 3');
    await c.query('INSERT INTO s.t (v) VALUES (100)');
    await c.query('SET SESSION gtid_domain_id = 0');
    for (let i = 0; i < 3; i++) await c.query('INSERT INTO s.t (v) VALUES (?)', [i]);
    await c.query('FLUSH BINARY LOGS');
    for (let i = 0; i < 3; i++) await c.query('INSERT INTO s.t (v) VALUES (?)', [i]);
  } finally {
    await c.end();
  }
}, 120_000);

afterAll(async () => {
  for (const h of harnesses) await h.destroy();
  await db?.destroy();
});

describe('syncer start points', () => {
  it("'current' stores from the primary's current position, with the exact GTID state there", async () => {
    const h = await harness();
    const [ms] = await db.query<Array<{ File: string; Position: number }>>('SHOW MASTER STATUS');
    const before = await db.gtidBinlogPos();
    await h.syncer.start(syncerArgs(db, { start: 'current' }));
    await waitFor('running', () => h.syncer.status().status === 'running', 10_000, () => statusLine(h.syncer.status()));
    await db.query('INSERT INTO s.t (v) VALUES (1000)');
    await waitCaughtUp(h, db);
    const files = h.store.listFiles();
    expect(files.map((f) => f.name)).toEqual([ms!.File]);
    expect(files[0]!.firstPos).toBe(BigInt(ms!.Position));
    expect(files[0]!.startGtids).toBe(MariadbGtidPosition.parse(before).toString());
    expect(h.syncer.status().executed_gtid_set).toBe(await db.gtidBinlogPos());
    await compareWithPrimary(h.store, [path.join(db.datadir, ms!.File)]);
    await h.syncer.stop();
  });

  it('a file and position: stores from that event on, through the later files', async () => {
    const h = await harness();
    const evs = await gtidEvents('bin.000001');
    const from = evs[3]!;
    await h.syncer.start(syncerArgs(db, { start: { file: 'bin.000001', pos: from.pos } }));
    await db.query('INSERT INTO s.t (v) VALUES (1001)');
    await waitCaughtUp(h, db);
    const first = h.store.listFiles()[0]!;
    expect(first.name).toBe('bin.000001');
    expect(first.firstPos).toBe(BigInt(from.pos));
    const [gp] = await db.query<Array<{ p: string }>>(`SELECT BINLOG_GTID_POS('bin.000001', ${from.pos}) AS p`);
    expect(first.startGtids).toBe(MariadbGtidPosition.parse(gp!.p).toString());
    expect(h.syncer.status().executed_gtid_set).toBe(await db.gtidBinlogPos());
    await compareWithPrimary(h.store, await db.binlogFiles());
    await h.syncer.stop();
  });

  it('GTIDs: stores from where the primary starts sending for them (interleaved domains included)', async () => {
    const h = await harness();
    const evs = await gtidEvents('bin.000001');
    // Domain 0 up to its 4th transaction, domain 3 up to its first (which comes later in the file).
    const d0 = evs.filter((e) => e.gtid.startsWith('0-'));
    const d3 = evs.filter((e) => e.gtid.startsWith('3-'));
    const requested = `${d0[3]!.gtid},${d3[0]!.gtid}`;
    await h.syncer.start(syncerArgs(db, { start: { gtid: requested } }));
    await db.query('INSERT INTO s.t (v) VALUES (1002)');
    await waitCaughtUp(h, db);
    const first = h.store.listFiles()[0]!;
    // The first transaction the primary sends for that position is domain 0's 5th.
    expect(first.name).toBe('bin.000001');
    expect(first.firstPos).toBe(BigInt(d0[4]!.pos));
    const stored = await storedFile(h.store, 'bin.000001');
    expect(stored.firstPos).toBe(BigInt(d0[4]!.pos));
    const executed = MariadbGtidPosition.parse(h.syncer.status().executed_gtid_set);
    for (const g of requested.split(',')) expect(executed.contains(parseMariadbGtid(g))).toBe(true);
    expect(h.syncer.status().executed_gtid_set).toBe(await db.gtidBinlogPos());
    await compareWithPrimary(h.store, await db.binlogFiles());
    await h.syncer.stop();
  });

  it('resume wins over `start` once something is stored', async () => {
    const h = await harness();
    await h.syncer.start(syncerArgs(db, { start: 'current' }));
    await waitFor('running', () => h.syncer.status().status === 'running', 10_000);
    await db.query('INSERT INTO s.t (v) VALUES (1003)');
    await waitCaughtUp(h, db);
    const firstBefore = h.store.listFiles()[0]!;
    await h.restart();
    await h.syncer.start(syncerArgs(db, { start: 'earliest' }));
    await db.query('INSERT INTO s.t (v) VALUES (1004)');
    await waitCaughtUp(h, db);
    expect(h.store.listFiles()[0]!.firstPos).toBe(firstBefore.firstPos);
    await compareWithPrimary(h.store, [path.join(db.datadir, firstBefore.name)]);
    await h.syncer.stop();
  });

  it('a position inside an event is refused with a clear status', async () => {
    const h = await harness();
    const evs = await gtidEvents('bin.000001');
    await h.syncer.start(syncerArgs(db, { start: { file: 'bin.000001', pos: evs[2]!.pos + 5 } }));
    const s = await waitFor('the error', () => (h.syncer.status().status === 'error' ? h.syncer.status() : undefined), 10_000);
    expect(s.last_error).toMatchObject({ code: 'ERR_SYNCER_START', fatal: true });
    expect(h.store.getState().lastSeq).toBe(0);
    await h.syncer.stop();
  });
});

describe('syncer failures are reported clearly while retrying', () => {
  it('wrong password: error status, retries, never shows the password', async () => {
    const h = await harness();
    const secret = 'not-the-password-123';
    await h.syncer.start(syncerArgs(db, { mysql_password: secret }));
    const s = await waitFor('the error', () => {
      const st = h.syncer.status();
      return st.status === 'error' && st.counters.reconnects >= 2 ? st : undefined;
    }, 15_000, () => statusLine(h.syncer.status()));
    expect(s.last_error).toMatchObject({ code: 'ERR_UPSTREAM_ACCESS_DENIED', fatal: true });
    expect(s.last_error!.message).toMatch(/Access denied/);
    expect(JSON.stringify(s)).not.toContain(secret);
    expect(h.logs.join('')).not.toContain(secret);
    await expect(h.metrics.registry.getSingleMetricAsString('binlog_proxy_errors_total')).resolves.toContain('ERR_UPSTREAM_ACCESS_DENIED');
    await h.syncer.stop();
    expect(h.syncer.status().status).toBe('stopped');
  });

  it('unreachable primary: connecting status with the refusal, retrying', async () => {
    const h = await harness();
    const port = await getFreePort();
    await h.syncer.start(syncerArgs(db, { mysql_addr: `127.0.0.1:${port}` }));
    const s = await waitFor('retries', () => {
      const st = h.syncer.status();
      return st.counters.reconnects >= 3 ? st : undefined;
    }, 15_000);
    expect(s.status).toBe('connecting');
    expect(s.last_error).toMatchObject({ code: 'ERR_UPSTREAM_REFUSED', fatal: false });
    await h.syncer.stop();
  });

  it('missing REPLICATION SLAVE privilege, and no binary log', async () => {
    await db.query("CREATE USER IF NOT EXISTS 'weak'@'%' IDENTIFIED BY 'weakpw'");
    await db.query("GRANT BINLOG MONITOR ON *.* TO 'weak'@'%'");
    const h = await harness();
    await h.syncer.start(syncerArgs(db, { mysql_user: 'weak', mysql_password: 'weakpw' }));
    const s = await waitFor('the error', () => (h.syncer.status().status === 'error' ? h.syncer.status() : undefined), 10_000, () => statusLine(h.syncer.status()));
    expect(s.last_error).toMatchObject({ code: 'ERR_UPSTREAM_PRIVILEGES', fatal: true });
    expect(s.last_error!.message).toMatch(/REPLICATION SLAVE/);
    await h.syncer.stop();

    const nolog = await startMariaDB({ logBin: false });
    try {
      await nolog.createReplicationUser('repl', 'replpw');
      const h2 = await harness();
      await h2.syncer.start(syncerArgs(nolog));
      const s2 = await waitFor('the error', () => (h2.syncer.status().status === 'error' ? h2.syncer.status() : undefined), 10_000, () => statusLine(h2.syncer.status()));
      expect(s2.last_error).toMatchObject({ code: 'ERR_UPSTREAM_NO_BINLOG', fatal: true });
      await h2.syncer.stop();
    } finally {
      await nolog.destroy();
    }
  });

  it('a start position the primary purged', async () => {
    const h = await harness();
    await h.syncer.start(syncerArgs(db, { start: { gtid: '0-101-1' } }));
    await waitCaughtUp(h, db);
    await h.syncer.stop();
    // A dump thread still reading a file keeps PURGE from removing it: wait until the primary noticed the stop.
    await waitFor('no dump thread on the primary', async () => {
      const threads = await db.query<Array<{ Command: string }>>('SHOW PROCESSLIST');
      return !threads.some((t) => t.Command === 'Binlog Dump');
    });
    // The primary moves on and purges everything the proxy would need to resume.
    await db.query('INSERT INTO s.t (v) VALUES (2000)');
    await db.query('FLUSH BINARY LOGS');
    await db.query('INSERT INTO s.t (v) VALUES (2001)');
    const last = path.basename((await db.binlogFiles()).at(-1)!);
    // MariaDB keeps a file until its binlog checkpoint moved past it: retry the purge.
    await waitFor('the purge on the primary', async () => {
      await db.query(`PURGE BINARY LOGS TO '${last}'`);
      return (await db.binlogFiles()).length === 1;
    });
    await h.syncer.start(syncerArgs(db));
    const s = await waitFor('the error', () => (h.syncer.status().status === 'error' ? h.syncer.status() : undefined), 10_000, () => statusLine(h.syncer.status()));
    expect(s.last_error).toMatchObject({ code: 'ERR_UPSTREAM_POSITION', fatal: true });
    expect(s.last_error!.message).toMatch(/1236/);
    await h.syncer.stop();
  });

  it('server_id clash: with the primary, and with another replica using the same syncer_id', async () => {
    const h = await harness();
    await h.syncer.start(syncerArgs(db, { syncer_id: db.serverId, start: 'current' }));
    const s = await waitFor('the error', () => (h.syncer.status().status === 'error' ? h.syncer.status() : undefined), 10_000);
    expect(s.last_error).toMatchObject({ code: 'ERR_UPSTREAM_SERVER_ID_CLASH', fatal: true });
    await h.syncer.stop();

    const a = await harness();
    const b = await harness();
    await a.syncer.start(syncerArgs(db, { syncer_id: 777, start: 'current' }));
    await waitFor('a running', () => a.syncer.status().status === 'running', 10_000);
    await b.syncer.start(syncerArgs(db, { syncer_id: 777, start: 'current' }));
    const clash = await waitFor(
      'a clash reported',
      () => [a, b].map((x) => x.syncer.status()).find((st) => st.last_error?.code === 'ERR_UPSTREAM_SERVER_ID_CLASH'),
      15_000,
      () => `${statusLine(a.syncer.status())} ${statusLine(b.syncer.status())}`,
    );
    expect(clash.last_error!.message).toMatch(/same server_uuid\/server_id/);
    await a.syncer.stop();
    await b.syncer.stop();
  });

  it('start() twice is a conflict; bad arguments name the field', async () => {
    const h = await harness();
    await h.syncer.start(syncerArgs(db, { start: 'current' }));
    await expect(h.syncer.start(syncerArgs(db))).rejects.toMatchObject({ code: 'ERR_ALREADY_RUNNING' });
    await h.syncer.stop();
    await expect(h.syncer.start(syncerArgs(db, { start: { gtid: 'nonsense' } }))).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT', field: 'start.gtid' });
    await expect(h.syncer.start(syncerArgs(db, { mysql_addr: 'nohostport' }))).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT', field: 'mysql_addr' });
    expect(h.syncer.status().status).toBe('stopped');
  });
});
