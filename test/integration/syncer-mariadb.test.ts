/**
 * The syncer against a real MariaDB primary: a workload of every kind stored byte for byte, and exact
 * resumption after a proxy restart, a KILL of its dump thread, a network cut (also in the middle of a 100+ MB
 * transaction), a primary restart and a primary crash; PURGE BINARY LOGS on the primary.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDB, type MariaDBInstance } from '../helpers/mariadb.js';
import {
  compareWithPrimary,
  makeHarness,
  statusLine,
  syncerArgs,
  TcpRelay,
  waitCaughtUp,
  waitFor,
  type Harness,
} from './syncer-helpers.js';

let db: MariaDBInstance;
let h: Harness;
let relay: TcpRelay;
/** Copies of files purged on the primary, for the final comparison. */
const purgedCopies = new Map<string, string>();

async function gtidSeqCount(): Promise<number> {
  const rows = await db.query<Array<{ n: number }>>('SELECT COUNT(*) AS n FROM w.seq');
  return Number(rows[0]!.n);
}

beforeAll(async () => {
  db = await startMariaDB({ extraArgs: ['--innodb-log-file-size=256M'] });
  await db.createReplicationUser('repl', 'replpw');
  relay = new TcpRelay({ host: db.host, port: db.port });
  await relay.listen();
  h = await makeHarness({ largeTransactionBytes: 8 * 1024 * 1024, connectTimeoutMs: 2000 });
}, 120_000);

afterAll(async () => {
  await h?.destroy();
  await relay?.close();
  await db?.destroy();
});

function relayArgs(): ReturnType<typeof syncerArgs> {
  return syncerArgs(db, { mysql_addr: `127.0.0.1:${relay.port}` });
}

describe('syncer against MariaDB', () => {
  it('stores a workload of every kind byte for byte (DDL, multi-row DML, >16 MiB row, 100+ MB transaction, MyISAM, XA, two domains, STATEMENT, FLUSH)', async () => {
    await h.syncer.start(relayArgs());
    const c = await db.connect();
    try {
      await c.query('CREATE DATABASE w');
      await c.query('CREATE TABLE w.t (id INT PRIMARY KEY, a VARCHAR(100), b BIGINT) ENGINE=InnoDB');
      await c.query('CREATE TABLE w.seq (id INT PRIMARY KEY AUTO_INCREMENT, v INT) ENGINE=InnoDB');
      const rows = Array.from({ length: 200 }, (_, i) => [i + 1, `row-${i}`, i]);
      await c.query('INSERT INTO w.t VALUES ?', [rows]);
      await c.query('UPDATE w.t SET b = b + 1 WHERE id <= 150');
      await c.query('DELETE FROM w.t WHERE id > 180');
      await c.query('ALTER TABLE w.t ADD COLUMN j JSON');
      await c.query('CREATE TABLE w.m (id INT PRIMARY KEY, v TEXT) ENGINE=MyISAM');
      await c.query('BEGIN');
      await c.query("INSERT INTO w.m VALUES (1, 'x'), (2, 'y')");
      await c.query("INSERT INTO w.m VALUES (3, 'z')");
      await c.query('COMMIT');
      await c.query("XA START 'xa1'");
      await c.query("INSERT INTO w.t (id, a, b) VALUES (1000, 'xa', 0)");
      await c.query("XA END 'xa1'");
      await c.query("XA PREPARE 'xa1'");
      await c.query("XA COMMIT 'xa1'");
      await c.query('SET SESSION gtid_domain_id = 2');
      await c.query("INSERT INTO w.t (id, a, b) VALUES (2000, 'domain 2', 2), (2001, 'domain 2', 3)");
      await c.query('SET SESSION gtid_domain_id = 0');
      await c.query("SET SESSION binlog_format = 'STATEMENT'");
      await c.query("INSERT INTO w.t (id, a, b) VALUES (3000, 'statement', 1)");
      await c.query('UPDATE w.t SET b = b * 2 WHERE id < 10');
      await c.query("SET SESSION binlog_format = 'ROW'");
      await c.query('FLUSH BINARY LOGS');
      await c.query('CREATE TABLE w.big (id INT PRIMARY KEY, v LONGBLOB) ENGINE=InnoDB');
      const huge = Buffer.alloc(17 * 1024 * 1024, 0x61);
      huge.write('one row larger than 16 MiB', 0);
      await c.query('INSERT INTO w.big VALUES (1, ?)', [huge]);
      await c.query('BEGIN');
      await c.query("INSERT INTO w.big SELECT seq + 1, REPEAT(CHAR(65 + seq % 26), 1048576) FROM w.seq_1_to_105");
      await c.query('COMMIT');
      await c.query('FLUSH BINARY LOGS');
      await c.query('INSERT INTO w.seq (v) VALUES (1)');
    } finally {
      await c.end();
    }
    await waitCaughtUp(h, db, 120_000);
    const files = await db.binlogFiles();
    expect(files.length).toBe(3);
    const bytes = await compareWithPrimary(h.store, files);
    expect(bytes).toBeGreaterThan(120 * 1024 * 1024);
    const st = h.syncer.status();
    expect(st.status).toBe('running');
    expect(st.executed_gtid_set).toBe(await db.gtidBinlogPos());
    expect(st.flavor).toBe('mariadb');
    expect(h.store.getState().flavor).toBe('mariadb'); // the syncer fixed the flavour of the new store
    expect(st.master_server_id).toBe(db.serverId);
    expect(st.counters.transactions_stored).toBeGreaterThan(15);
    expect(st.last_binlog_file).toBe(path.basename(files.at(-1)!));
    expect(h.store.listFiles().map((f) => f.name)).toEqual(files.map((f) => path.basename(f)));
  }, 240_000);

  it('resumes exactly after a proxy restart, a KILL of its dump thread and network cuts, under a running workload', async () => {
    let stop = false;
    const writer = (async () => {
      const c = await db.connect();
      try {
        while (!stop) await c.query('INSERT INTO w.seq (v) VALUES (1), (2), (3)');
      } finally {
        await c.end();
      }
    })();
    try {
      const reconnects = (): number => h.syncer.status().counters.reconnects;
      // Proxy restart.
      await new Promise((r) => setTimeout(r, 300));
      await h.restart();
      await h.syncer.start(relayArgs());
      await new Promise((r) => setTimeout(r, 300));
      // KILL of the dump thread on the primary.
      const before = reconnects();
      const threads = await db.query<Array<{ Id: number; Command: string }>>('SHOW PROCESSLIST');
      const dump = threads.filter((t) => t.Command === 'Binlog Dump');
      expect(dump.length).toBe(1);
      await db.query(`KILL ${dump[0]!.Id}`);
      await waitFor('a reconnect after KILL', () => reconnects() > before && h.syncer.status().status === 'running');
      // Network cut (connection reset).
      const before2 = reconnects();
      relay.cut();
      await waitFor('a reconnect after the cut', () => reconnects() > before2 && h.syncer.status().status === 'running');
      // Silent network failure: the idle timeout (2.5 heartbeats) notices.
      const before3 = reconnects();
      relay.blackhole();
      await waitFor('the dead connection to be noticed', () => reconnects() > before3, 10_000);
      relay.heal();
      await waitFor('running again', () => h.syncer.status().status === 'running', 20_000, () => statusLine(h.syncer.status()));
    } finally {
      stop = true;
      await writer;
    }
    await waitCaughtUp(h, db);
    await compareWithPrimary(h.store, await db.binlogFiles());
    expect(h.syncer.status().executed_gtid_set).toBe(await db.gtidBinlogPos());
    expect(await gtidSeqCount()).toBeGreaterThan(3);
  }, 120_000);

  it('a cut in the middle of a 100+ MB transaction loses nothing and stores nothing twice', async () => {
    const c = await db.connect();
    const start = relay.downstreamBytes;
    const done = (async () => {
      await c.query('BEGIN');
      await c.query('DELETE FROM w.big WHERE id > 1');
      await c.query("INSERT INTO w.big SELECT seq + 1, REPEAT(CHAR(97 + seq % 26), 1048576) FROM w.seq_1_to_110");
      await c.query('COMMIT');
    })();
    try {
      await waitFor('the big transaction to be half sent', () => relay.downstreamBytes - start > 60 * 1024 * 1024, 90_000);
      const before = h.syncer.status().counters.reconnects;
      relay.cut();
      await waitFor('a reconnect', () => h.syncer.status().counters.reconnects > before);
    } finally {
      await done;
      await c.end();
    }
    await waitCaughtUp(h, db, 120_000);
    await compareWithPrimary(h.store, await db.binlogFiles());
    expect(h.syncer.status().executed_gtid_set).toBe(await db.gtidBinlogPos());
    // The cut really came while the transaction was being streamed into storage (and that part was dropped).
    const dropped = h.logs
      .map((l) => JSON.parse(l) as { msg: string; streamedBytes?: number })
      .filter((l) => l.msg.startsWith('the connection ended inside a transaction'));
    expect(dropped.some((l) => (l.streamedBytes ?? 0) > 8 * 1024 * 1024)).toBe(true);
  }, 180_000);

  it('a byte corrupted on the wire fails the CRC check: reconnect, and nothing corrupt is stored', async () => {
    const before = h.syncer.status().counters;
    relay.corruptAfter(2_500_000);
    const c = await db.connect();
    try {
      await c.query('BEGIN');
      await c.query("INSERT INTO w.big SELECT seq + 1000, REPEAT('q', 1048576) FROM w.seq_1_to_5");
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
    await waitFor('the corruption to pass', () => !relay.corruptionPending);
    await waitCaughtUp(h, db);
    const after = h.syncer.status().counters;
    expect(after.checksum_errors).toBe(before.checksum_errors + 1);
    expect(after.reconnects).toBe(before.reconnects + 1);
    await expect(h.metrics.registry.getSingleMetricAsString('binlog_proxy_errors_total')).resolves.toMatch(/code="ERR_CHECKSUM"\} 1/);
    await compareWithPrimary(h.store, await db.binlogFiles());
  }, 60_000);

  it('PURGE BINARY LOGS on the primary does not disturb the stream; storage keeps the purged files', async () => {
    const filesBefore = await db.binlogFiles();
    // A dump thread of an earlier, dropped connection still reading an old file would keep PURGE from removing
    // it: wait until only the live dump remains.
    await waitFor('one dump thread on the primary', async () => {
      const threads = await db.query<Array<{ Command: string }>>('SHOW PROCESSLIST');
      return threads.filter((t) => t.Command === 'Binlog Dump').length === 1;
    });
    await db.query('FLUSH BINARY LOGS');
    // Our dump thread must have moved on to the new file too, or PURGE keeps the file it is reading; MariaDB
    // also keeps a file until the binlog checkpoint has moved past it (crash recovery): retry the purge.
    await waitCaughtUp(h, db);
    const last = path.basename((await db.binlogFiles()).at(-1)!);
    await waitFor('the purge on the primary', async () => {
      await db.query(`PURGE BINARY LOGS TO '${last}'`);
      return (await db.binlogFiles()).length === 1;
    });
    await db.query('INSERT INTO w.seq (v) VALUES (7)');
    await waitCaughtUp(h, db);
    await compareWithPrimary(h.store, await db.binlogFiles());
    const stored = h.store.listFiles().map((f) => f.name);
    for (const f of filesBefore) expect(stored).toContain(path.basename(f));
    for (const f of filesBefore) purgedCopies.set(path.basename(f), f);
    // And a proxy restart after the purge resumes from the stored state.
    await h.restart();
    await h.syncer.start(relayArgs());
    await db.query('INSERT INTO w.seq (v) VALUES (8)');
    await waitCaughtUp(h, db);
    await compareWithPrimary(h.store, await db.binlogFiles());
  }, 60_000);

  it('resumes exactly after a primary restart and after a primary crash', async () => {
    await db.query('INSERT INTO w.seq (v) VALUES (9)');
    await waitCaughtUp(h, db);
    await db.stop();
    await waitFor('the syncer to report the refused connection', () => {
      const s = h.syncer.status();
      return s.status === 'connecting' && s.last_error !== null && /ERR_UPSTREAM_(REFUSED|CLOSED|IO|KILLED)/.test(s.last_error.code);
    }, 20_000, () => statusLine(h.syncer.status()));
    await db.start();
    await db.query('INSERT INTO w.seq (v) VALUES (10)');
    await waitCaughtUp(h, db);
    await compareWithPrimary(h.store, await db.binlogFiles());

    await db.query('INSERT INTO w.seq (v) VALUES (11)');
    await db.kill();
    await db.start();
    await db.query('INSERT INTO w.seq (v) VALUES (12)');
    await waitCaughtUp(h, db);
    await compareWithPrimary(h.store, await db.binlogFiles());
    expect(h.syncer.status().executed_gtid_set).toBe(await db.gtidBinlogPos());
    expect(h.syncer.status().status).toBe('running');
  }, 120_000);
});
