/**
 * The binlog codecs against a live MariaDB primary (log-bin, ROW, CRC32): run a varied workload, read the
 * binlog files from the datadir with readBinlogFile, track transactions across the files, and check the last
 * GTID per domain against @@gtid_binlog_pos, the number of groups against the number of GTID events, and our
 * GTIDs against mariadb-binlog's decode of the same files.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BINLOG_CHECKSUM_ALG_CRC32,
  LOG_EVENT_BINLOG_IN_USE_F,
  MARIADB_GTID_EVENT,
  MARIADB_GTID_LIST_EVENT,
  QUERY_COMPRESSED_EVENT,
  ROTATE_EVENT,
  TransactionTracker,
  XA_PREPARE_LOG_EVENT,
  decodeMariadbGtid,
  decodeMariadbGtidList,
  FL_COMMIT_ALTER_E1,
  FL_START_ALTER_E1,
  decodeQuery,
  decodeRotate,
  readBinlogFile,
  type BinlogFileEvent,
  type GroupComplete,
} from '../../protocol/binlog/index.js';
import { MariadbGtidPosition, formatMariadbGtid, type MariadbGtid } from '../../protocol/gtid/mariadb.js';
import { requireMariaDBBinaries, startMariaDB, type MariaDBInstance } from '../helpers/mariadb.js';
import { decodeAny } from '../unit/binlog/_fixtures.js';

const run = promisify(execFile);

let primary: MariaDBInstance;
const files: Array<{ name: string; buf: Buffer; events: BinlogFileEvent[] }> = [];
const groups: GroupComplete[] = [];
const gtidEvents: MariadbGtid[] = [];
let trackerEndsInGroup = true;

/** The workload, one statement (or one multi-statement string) per entry, on one connection. */
const WORKLOAD: string[] = [
  'CREATE DATABASE w',
  'USE w',
  'CREATE TABLE items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(64) NOT NULL, price DECIMAL(10,2), tags JSON, created DATETIME(6), big LONGBLOB) ENGINE=InnoDB',
  'CREATE TABLE legacy (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=MyISAM',
  // Multi-row DML.
  "INSERT INTO items (name, price, tags, created) VALUES ('a', 1.5, '[1]', NOW(6)), ('b', 2.5, '{\"k\":1}', NOW(6)), ('c', 3, NULL, NOW(6))",
  'UPDATE items SET price = price * 2 WHERE id <= 2',
  "DELETE FROM items WHERE name = 'c'",
  // A large row (300 KB).
  "INSERT INTO items (name, big) VALUES ('large', REPEAT('L', 300000))",
  // Explicit transactions, a savepoint rolled back inside a committed transaction.
  "BEGIN; INSERT INTO items (name) VALUES ('t1'); SAVEPOINT s1; INSERT INTO items (name) VALUES ('t2'); ROLLBACK TO SAVEPOINT s1; INSERT INTO items (name) VALUES ('t3'); COMMIT",
  // MyISAM in STATEMENT format, with a user variable (USER_VAR event) and INSERT_ID / RAND (INTVAR, RAND).
  "SET SESSION binlog_format = 'STATEMENT'",
  "SET @u = 'uservar'",
  'INSERT INTO legacy VALUES (1, @u)',
  "INSERT INTO items (name, price) VALUES (CONCAT('rand', RAND() * 0), 1)",
  "SET SESSION binlog_format = 'ROW'",
  'INSERT INTO legacy VALUES (2, "row format myisam")',
  // Mixed engines rolled back. In ROW format MariaDB logs only the MyISAM change, as its own committed group;
  // in STATEMENT format the whole transaction is logged and ends with a ROLLBACK query.
  "BEGIN; INSERT INTO items (name) VALUES ('gone'); INSERT INTO legacy VALUES (3, 'kept'); ROLLBACK",
  "SET SESSION binlog_format = 'STATEMENT'",
  "BEGIN; INSERT INTO items (name) VALUES ('gone too'); INSERT INTO legacy VALUES (4, 'kept too'); ROLLBACK",
  "SET SESSION binlog_format = 'ROW'",
  // XA: prepare + commit, prepare + rollback, one phase.
  "XA START 'xa1'; INSERT INTO items (name) VALUES ('xa1'); XA END 'xa1'; XA PREPARE 'xa1'",
  "XA COMMIT 'xa1'",
  "XA START 'xa2'; INSERT INTO items (name) VALUES ('xa2'); XA END 'xa2'; XA PREPARE 'xa2'",
  "XA ROLLBACK 'xa2'",
  "XA START 'xa3'; INSERT INTO items (name) VALUES ('xa3'); XA END 'xa3'; XA COMMIT 'xa3' ONE PHASE",
  // A second GTID domain.
  'SET SESSION gtid_domain_id = 2',
  "INSERT INTO items (name) VALUES ('domain2-a')",
  'CREATE TABLE d2 (id INT PRIMARY KEY) ENGINE=InnoDB',
  'SET SESSION gtid_domain_id = 0',
  // DDL, including a two-phase ALTER (START ALTER / COMMIT ALTER groups).
  'ALTER TABLE items ADD COLUMN extra INT DEFAULT 7',
  'SET SESSION binlog_alter_two_phase = ON',
  'ALTER TABLE items ADD COLUMN extra2 INT DEFAULT 8',
  'SET SESSION binlog_alter_two_phase = OFF',
  // Compressed events (log_bin_compress is dynamic), then a rotation.
  'SET GLOBAL log_bin_compress = ON',
  `INSERT INTO items (name, big) VALUES ('compressed', REPEAT('compress me ', 200))`,
  `CREATE TABLE cmp (id INT PRIMARY KEY) ENGINE=InnoDB COMMENT '${'compressed DDL '.repeat(30)}'`,
  "SET SESSION binlog_format = 'STATEMENT'",
  `INSERT INTO legacy VALUES (10, 'compressed statement') /* ${'padding '.repeat(60)} */`,
  "BEGIN; INSERT INTO legacy VALUES (11, 'x'); COMMIT",
  "SET SESSION binlog_format = 'ROW'",
  'SET GLOBAL log_bin_compress = OFF',
  'FLUSH BINARY LOGS',
  "INSERT INTO items (name) VALUES ('after-rotate')",
  'SET SESSION gtid_domain_id = 2',
  "INSERT INTO items (name) VALUES ('domain2-b')",
  'SET SESSION gtid_domain_id = 0',
  'DROP TABLE d2',
];

beforeAll(async () => {
  primary = await startMariaDB({ binlogFormat: 'ROW', binlogChecksum: 'CRC32', extraArgs: ['--binlog-annotate-row-events=ON'] });
  const conn = await primary.connect({ multipleStatements: true });
  try {
    for (const sql of WORKLOAD) await conn.query(sql);
  } finally {
    await conn.end();
  }
  const tracker = new TransactionTracker();
  for (const file of await primary.binlogFiles()) {
    const buf = await readFile(file);
    const events = [...readBinlogFile(buf)];
    files.push({ name: path.basename(file), buf, events });
    for (const e of events) {
      decodeAny(e.event, e.fde);
      if (e.event.typeCode === MARIADB_GTID_EVENT) gtidEvents.push(decodeMariadbGtid(e.event, e.fde).gtid);
      const r = tracker.push(e.event, e.fde);
      if (r.complete) groups.push(r);
    }
  }
  trackerEndsInGroup = tracker.inGroup;
}, 180_000);

afterAll(async () => {
  await primary?.destroy();
});

describe('binlog codecs on a live MariaDB primary', () => {
  it('reads every binlog file to its end with every CRC verified (the active FDE has BINLOG_IN_USE)', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) {
      const last = f.events[f.events.length - 1]!;
      expect(last.pos + last.event.eventSize).toBe(f.buf.length);
      expect(f.events.every((e) => e.checksumAlg === BINLOG_CHECKSUM_ALG_CRC32)).toBe(true);
    }
    const active = files[files.length - 1]!;
    expect(active.events[0]!.event.flags & LOG_EVENT_BINLOG_IN_USE_F).toBe(LOG_EVENT_BINLOG_IN_USE_F);
  });

  it('chains files by their ROTATE events', () => {
    for (let i = 0; i + 1 < files.length; i++) {
      const evs = files[i]!.events;
      const last = evs[evs.length - 1]!;
      expect(last.event.typeCode).toBe(ROTATE_EVENT);
      expect(decodeRotate(last.event, last.fde)).toEqual({ position: 4n, nextFile: files[i + 1]!.name });
    }
  });

  it('one complete group per GTID event; the stream ends between groups', () => {
    expect(gtidEvents.length).toBeGreaterThan(25);
    expect(groups.length).toBe(gtidEvents.length);
    expect(groups.map((g) => formatMariadbGtid(g.gtid as MariadbGtid))).toEqual(gtidEvents.map(formatMariadbGtid));
    expect(trackerEndsInGroup).toBe(false);
  });

  it('the last GTID per domain equals @@gtid_binlog_pos', async () => {
    const ours = MariadbGtidPosition.fromList(gtidEvents);
    const pos = MariadbGtidPosition.parse(await primary.gtidBinlogPos());
    expect(ours.toString()).toBe(pos.toString());
    expect(pos.get(2)).toBeDefined();
    // The second file's GTID_LIST is the state at its start.
    const second = files[1]!.events.find((e) => e.event.typeCode === MARIADB_GTID_LIST_EVENT)!;
    const list = decodeMariadbGtidList(second.event, second.fde).gtids;
    const before = MariadbGtidPosition.fromList(gtidEvents.slice(0, groups.length - 3));
    expect(MariadbGtidPosition.fromList(list).toString()).toBe(before.toString());
  });

  it('classifies the workload: XA prepare/commit/rollback, rollback, ddl and transactions', () => {
    const kinds = groups.map((g) => g.kind);
    expect(kinds.filter((k) => k === 'xa_prepare')).toHaveLength(2);
    expect(kinds).toContain('xa_commit');
    expect(kinds).toContain('xa_rollback');
    expect(kinds).toContain('rollback'); // the STATEMENT-format mixed-engine transaction
    expect(kinds.filter((k) => k === 'ddl').length).toBeGreaterThanOrEqual(6);
    expect(kinds.filter((k) => k === 'transaction').length).toBeGreaterThanOrEqual(10);
    const all = files.flatMap((f) => f.events);
    expect(all.filter((e) => e.event.typeCode === XA_PREPARE_LOG_EVENT)).toHaveLength(2);
    const compressed = all.filter((e) => e.event.typeCode === QUERY_COMPRESSED_EVENT).map((e) => decodeQuery(e.event, e.fde).text);
    expect(compressed.some((t) => t.startsWith('CREATE TABLE cmp'))).toBe(true);
    expect(compressed.some((t) => t.startsWith("INSERT INTO legacy VALUES (10, 'compressed statement')"))).toBe(true);
  });

  it("agrees with mariadb-binlog's decode of the same files: GTIDs and event positions", async () => {
    const bins = requireMariaDBBinaries();
    const paths = await primary.binlogFiles();
    const theirGtids: string[] = [];
    for (const [i, p] of paths.entries()) {
      const { stdout } = await run(bins.binlog, ['--no-defaults', p], { maxBuffer: 64 * 1024 * 1024 });
      theirGtids.push(...[...stdout.matchAll(/\tGTID (\d+-\d+-\d+)/g)].map((m) => m[1]!));
      const at = new Set([...stdout.matchAll(/^# at (\d+)$/gm)].map((m) => Number(m[1])));
      expect(at).toEqual(new Set(files[i]!.events.map((e) => e.pos)));
    }
    expect(gtidEvents.map(formatMariadbGtid)).toEqual(theirGtids);
  });

  it('decodes the two-phase ALTER: START ALTER and COMMIT ALTER GTIDs, each a ddl group', () => {
    const all = files.flatMap((f) => f.events);
    const gtids = all.filter((e) => e.event.typeCode === MARIADB_GTID_EVENT).map((e) => decodeMariadbGtid(e.event, e.fde));
    const start = gtids.find((g) => (g.flagsExtra & FL_START_ALTER_E1) !== 0)!;
    const commit = gtids.find((g) => (g.flagsExtra & FL_COMMIT_ALTER_E1) !== 0)!;
    expect(start).toBeDefined();
    expect(commit.saSeqNo).toBe(start.seqNo);
    const kindOf = (seq: bigint): string | undefined => groups.find((g) => (g.gtid as MariadbGtid).seqNo === seq && (g.gtid as MariadbGtid).domainId === 0)?.kind;
    expect([kindOf(start.seqNo), kindOf(commit.seqNo)]).toEqual(['ddl', 'ddl']);
  });
});
