/**
 * TransactionTracker on synthetic streams: every group shape of §4.6 for MySQL, MariaDB and GTID-less files,
 * control events, heartbeats, illegal sequences and reset().
 */
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../protocol/errors.js';
import {
  ANONYMOUS_GTID_LOG_EVENT,
  BINLOG_CHECKSUM_ALG_CRC32,
  BinlogEvent,
  FL_ALLOW_PARALLEL,
  FL_COMPLETED_XA,
  FL_DDL,
  FL_PREPARED_XA,
  FL_STANDALONE,
  FL_TRANSACTIONAL,
  GTID_LOG_EVENT,
  INTVAR_EVENT,
  QUERY_COMPRESSED_EVENT,
  QUERY_EVENT,
  RAND_EVENT,
  ROWS_QUERY_LOG_EVENT,
  STOP_EVENT,
  TABLE_MAP_EVENT,
  TRANSACTION_PAYLOAD_EVENT,
  TransactionTracker,
  USER_VAR_EVENT,
  WRITE_ROWS_EVENT,
  WRITE_ROWS_EVENT_V1,
  XA_PREPARE_LOG_EVENT,
  XID_EVENT,
  ANNOTATE_ROWS_EVENT,
  buildEvent,
  buildFakeRotate,
  buildHeartbeat,
  buildMariadbGtidList,
  encodeBinlogCheckpoint,
  encodeMariadbGtid,
  encodeMysqlGtid,
  encodePreviousGtids,
  readBinlogFile,
  type MysqlGtidEvent,
  type TrackerResult,
} from '../../../protocol/binlog/index.js';
import { MysqlGtidSet } from '../../../protocol/gtid/mysql.js';
import { readFixture } from './_fixtures.js';

const CRC = BINLOG_CHECKSUM_ALG_CRC32;
const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';

function ev(raw: Buffer): BinlogEvent {
  return new BinlogEvent(raw);
}

function query(sql: string, compressed = false): BinlogEvent {
  let text = Buffer.from(sql);
  if (compressed) text = Buffer.concat([Buffer.from([0x82, text.length >> 8, text.length & 0xff]), deflateSync(text)]);
  const post = Buffer.alloc(13);
  post.writeUInt32LE(9, 0); // thread id
  const body = Buffer.concat([post, Buffer.from([0]), text]); // no status vars, empty db + NUL
  return ev(buildEvent({ typeCode: compressed ? QUERY_COMPRESSED_EVENT : QUERY_EVENT, serverId: 1 }, body, true));
}

function simple(typeCode: number, body: Buffer = Buffer.alloc(8)): BinlogEvent {
  return ev(buildEvent({ typeCode, serverId: 1 }, body, true));
}

function mysqlGtid(gno: bigint, anonymous = false): BinlogEvent {
  const g: MysqlGtidEvent = {
    typeCode: anonymous ? ANONYMOUS_GTID_LOG_EVENT : GTID_LOG_EVENT,
    anonymous,
    flags: 0,
    uuid: anonymous ? '00000000-0000-0000-0000-000000000000' : UUID,
    gno: anonymous ? 0n : gno,
    tag: '',
    gtid: undefined,
    lastCommitted: 0n,
    sequenceNumber: 1n,
    immediateCommitTimestamp: 1n,
    originalCommitTimestamp: 1n,
    transactionLength: undefined,
    immediateServerVersion: undefined,
    originalServerVersion: undefined,
    commitGroupTicket: undefined,
  };
  return ev(encodeMysqlGtid(g, { serverId: 1 }, true));
}

function mariaGtid(seqNo: bigint, flags2: number, domainId = 0): BinlogEvent {
  const xid = flags2 & (FL_PREPARED_XA | FL_COMPLETED_XA) ? { formatId: 1, gtrid: Buffer.from('x1'), bqual: Buffer.alloc(0) } : undefined;
  return ev(encodeMariadbGtid({ seqNo, domainId, serverId: 7, flags2, xid }, {}, true));
}

function xaPrepare(onePhase: boolean): BinlogEvent {
  const body = Buffer.alloc(15);
  body[0] = onePhase ? 1 : 0;
  body.writeInt32LE(1, 1);
  body.writeUInt32LE(2, 5);
  body.write('x1', 13);
  return simple(XA_PREPARE_LOG_EVENT, body);
}

const tableMap = (): BinlogEvent => simple(TABLE_MAP_EVENT, Buffer.alloc(20));
const rows = (): BinlogEvent => simple(WRITE_ROWS_EVENT, Buffer.alloc(20));
const xid = (): BinlogEvent => simple(XID_EVENT, Buffer.alloc(8, 1));

function run(events: BinlogEvent[], tracker = new TransactionTracker()): TrackerResult[] {
  return events.map((e) => tracker.push(e, CRC));
}

function summary(results: TrackerResult[]): string[] {
  return results.map((r) => (r.complete ? `end:${r.kind}:${r.events}` : r.role));
}

function malformed(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('ERR_MALFORMED');
    return err as ProtocolError;
  }
  throw new Error('expected ERR_MALFORMED');
}

describe('TransactionTracker: MySQL', () => {
  it('GTID → BEGIN → TABLE_MAP → rows → XID is one transaction with its GTID and size', () => {
    const events = [mysqlGtid(5n), query('BEGIN'), tableMap(), rows(), xid()];
    const r = run(events);
    expect(summary(r)).toEqual(['start', 'inside', 'inside', 'inside', 'end:transaction:5']);
    const done = r[4]!;
    expect(done.complete && done.gtid).toEqual({ uuid: UUID, tag: '', gno: 5n });
    expect(done.complete && done.bytes).toBe(events.reduce((n, e) => n + e.eventSize, 0));
  });

  it('GTID → DDL is one group; a statement may be preceded by INTVAR / RAND / USER_VAR / ROWS_QUERY', () => {
    expect(summary(run([mysqlGtid(1n), query('CREATE TABLE t (a int)')]))).toEqual(['start', 'end:ddl:2']);
    const pre = [INTVAR_EVENT, RAND_EVENT, USER_VAR_EVENT, ROWS_QUERY_LOG_EVENT].map((t) => simple(t));
    expect(summary(run([mysqlGtid(1n), ...pre, query('CREATE TABLE t2 SELECT 1')]))).toEqual([
      'start',
      'inside',
      'inside',
      'inside',
      'inside',
      'end:ddl:6',
    ]);
  });

  it('non-transactional BEGIN … QUERY COMMIT and BEGIN … ROLLBACK; ROLLBACK TO SAVEPOINT does not end it', () => {
    expect(summary(run([mysqlGtid(1n), query('BEGIN'), query('INSERT INTO m VALUES (1)'), query('COMMIT')]))).toEqual([
      'start',
      'inside',
      'inside',
      'end:transaction:4',
    ]);
    const sp = [mysqlGtid(2n), query('BEGIN'), query('SAVEPOINT a'), rows(), query('ROLLBACK TO a'), query('ROLLBACK')];
    expect(summary(run(sp))).toEqual(['start', 'inside', 'inside', 'inside', 'inside', 'end:rollback:6']);
  });

  it('XA: PREPARE ends its group at XA_PREPARE_LOG_EVENT; XA COMMIT / ROLLBACK are groups of their own', () => {
    const prepare = [mysqlGtid(1n), query("XA START X'7831',X'',1"), tableMap(), rows(), query("XA END X'7831',X'',1"), xaPrepare(false)];
    expect(summary(run(prepare))).toEqual(['start', 'inside', 'inside', 'inside', 'inside', 'end:xa_prepare:6']);
    expect(summary(run([mysqlGtid(2n), query("XA COMMIT X'7831',X'',1")]))).toEqual(['start', 'end:xa_commit:2']);
    expect(summary(run([mysqlGtid(3n), query("XA ROLLBACK X'7831',X'',1")]))).toEqual(['start', 'end:xa_rollback:2']);
    const onePhase = [mysqlGtid(4n), query("XA START X'32',X'',1"), rows(), query("XA END X'32',X'',1"), xaPrepare(true)];
    expect(summary(run(onePhase))).toEqual(['start', 'inside', 'inside', 'inside', 'end:transaction:5']);
  });

  it('GTID → TRANSACTION_PAYLOAD is a complete transaction', () => {
    expect(summary(run([mysqlGtid(1n), simple(TRANSACTION_PAYLOAD_EVENT, Buffer.from('020100000000', 'hex'))]))).toEqual([
      'start',
      'end:transaction:2',
    ]);
  });

  it('ANONYMOUS_GTID groups have no GTID', () => {
    const r = run([mysqlGtid(0n, true), query('BEGIN'), rows(), xid()]);
    const last = r[3]!;
    expect(last.complete && last.kind).toBe('transaction');
    expect(last.complete && last.gtid).toBeUndefined();
  });

  it('control events between groups; heartbeats anywhere, without disturbing the open group', () => {
    const hb = ev(buildHeartbeat({ serverId: 1, fileName: 'b.1', position: 100n, checksum: true }));
    const controls = [
      ev(buildFakeRotate({ serverId: 1, position: 4n, fileName: 'b.1', checksum: true })),
      ev(encodePreviousGtids(MysqlGtidSet.parse(`${UUID}:1-4`), { serverId: 1 }, true)),
      hb,
      simple(STOP_EVENT, Buffer.alloc(0)),
    ];
    expect(summary(run(controls))).toEqual(['control', 'control', 'control', 'control']);
    expect(summary(run([mysqlGtid(5n), hb, query('BEGIN'), hb, rows(), xid(), hb]))).toEqual([
      'start',
      'control',
      'inside',
      'control',
      'inside',
      'end:transaction:4',
      'control',
    ]);
  });
});

describe('TransactionTracker: MariaDB', () => {
  it('standalone GTID: the group ends at the first event not in {INTVAR, RAND, USER_VAR, TABLE_MAP, ANNOTATE_ROWS}', () => {
    expect(summary(run([mariaGtid(1n, FL_STANDALONE | FL_DDL), query('CREATE TABLE t (a int)')]))).toEqual(['start', 'end:ddl:2']);
    const r = run([mariaGtid(2n, FL_STANDALONE), simple(INTVAR_EVENT), simple(USER_VAR_EVENT), query('INSERT INTO m VALUES (1)')]);
    expect(summary(r)).toEqual(['start', 'inside', 'inside', 'end:ddl:4']);
    const last = r[3]!;
    expect(last.complete && last.gtid).toEqual({ domainId: 0, serverId: 7, seqNo: 2n });
  });

  it('transactional GTID: no BEGIN, ends at XID or QUERY COMMIT (also inside QUERY_COMPRESSED)', () => {
    const f = FL_TRANSACTIONAL | FL_ALLOW_PARALLEL;
    const ann = simple(ANNOTATE_ROWS_EVENT, Buffer.from('INSERT ...'));
    expect(summary(run([mariaGtid(1n, f, 2), ann, tableMap(), simple(WRITE_ROWS_EVENT_V1, Buffer.alloc(12)), xid()]))).toEqual([
      'start',
      'inside',
      'inside',
      'inside',
      'end:transaction:5',
    ]);
    expect(summary(run([mariaGtid(2n, FL_ALLOW_PARALLEL), tableMap(), rows(), query('COMMIT', true)]))).toEqual([
      'start',
      'inside',
      'inside',
      'end:transaction:4',
    ]);
  });

  it('FL_PREPARED_XA: … QUERY XA END → XA_PREPARE; FL_COMPLETED_XA standalone → XA COMMIT', () => {
    const prep = [mariaGtid(14n, FL_PREPARED_XA | FL_TRANSACTIONAL | FL_ALLOW_PARALLEL), tableMap(), rows(), query("XA END X'7831',X'',1"), xaPrepare(false)];
    expect(summary(run(prep))).toEqual(['start', 'inside', 'inside', 'inside', 'end:xa_prepare:5']);
    const commit = [mariaGtid(15n, FL_COMPLETED_XA | FL_STANDALONE | FL_TRANSACTIONAL), query("XA COMMIT X'7831',X'',1")];
    expect(summary(run(commit))).toEqual(['start', 'end:xa_commit:2']);
    // A QUERY "XA PREPARE" (instead of the event) is accepted as the end too.
    const viaQuery = [mariaGtid(16n, FL_PREPARED_XA), rows(), query("XA END X'33',X'',1"), query("XA PREPARE X'33',X'',1")];
    expect(summary(run(viaQuery))).toEqual(['start', 'inside', 'inside', 'end:xa_prepare:4']);
  });

  it('GTID_LIST and BINLOG_CHECKPOINT are control events', () => {
    const list = ev(buildMariadbGtidList({ serverId: 7, logPos: 0, gtids: [], flags: 0, checksum: true }));
    const cp = ev(encodeBinlogCheckpoint({ fileName: 'bin.000001' }, { serverId: 7 }, true));
    expect(summary(run([list, cp, mariaGtid(1n, FL_STANDALONE), query('DROP TABLE t'), cp]))).toEqual([
      'control',
      'control',
      'start',
      'end:ddl:2',
      'control',
    ]);
  });
});

describe('TransactionTracker: files without GTIDs (5.6 style)', () => {
  it('BEGIN … XID; a lone QUERY is a group of one; context events belong to the next statement', () => {
    const r = run([query('BEGIN'), tableMap(), rows(), xid(), query('CREATE TABLE t (a int)'), simple(INTVAR_EVENT), simple(RAND_EVENT), query('INSERT INTO m VALUES (RAND())')]);
    expect(summary(r)).toEqual(['start', 'inside', 'inside', 'end:transaction:4', 'end:ddl:1', 'start', 'inside', 'end:ddl:3']);
    expect(r.every((x) => !x.complete || x.gtid === undefined)).toBe(true);
  });
});

describe('TransactionTracker: illegal sequences throw ERR_MALFORMED', () => {
  const cases: Array<[string, () => BinlogEvent[]]> = [
    ['a GTID while a transaction is open', () => [mysqlGtid(1n), query('BEGIN'), rows(), mysqlGtid(2n)]],
    ['a MariaDB GTID while a transaction is open', () => [mariaGtid(1n, FL_TRANSACTIONAL), rows(), mariaGtid(2n, FL_TRANSACTIONAL)]],
    ['a GTID right after a GTID', () => [mysqlGtid(1n), mysqlGtid(2n)]],
    ['an XID outside any group', () => [xid()]],
    ['a rows event outside any group', () => [rows()]],
    ['an XA_PREPARE outside any group', () => [xaPrepare(false)]],
    ['a COMMIT query outside any group', () => [query('COMMIT')]],
    ['a COMMIT right after a GTID', () => [mysqlGtid(1n), query('COMMIT')]],
    ['a TABLE_MAP right after a MySQL GTID', () => [mysqlGtid(1n), tableMap()]],
    ['an XID right after a MySQL GTID', () => [mysqlGtid(1n), xid()]],
    ['a ROTATE inside a transaction', () => [mysqlGtid(1n), query('BEGIN'), ev(buildFakeRotate({ serverId: 1, position: 4n, fileName: 'x', checksum: true }))]],
    ['a STOP inside a standalone group', () => [mariaGtid(1n, FL_STANDALONE), simple(STOP_EVENT, Buffer.alloc(0))]],
    ['a nested BEGIN', () => [query('BEGIN'), query('BEGIN')]],
    ['a TRANSACTION_PAYLOAD inside a transaction', () => [mysqlGtid(1n), query('BEGIN'), simple(TRANSACTION_PAYLOAD_EVENT)]],
    ['a rows event after statement context events', () => [simple(USER_VAR_EVENT), rows()]],
  ];
  it.each(cases)('%s', (_name, make) => {
    const events = make();
    const tracker = new TransactionTracker();
    for (const e of events.slice(0, -1)) tracker.push(e, CRC);
    const err = malformed(() => tracker.push(events[events.length - 1]!, CRC));
    expect(err.message).toContain('cannot occur');
  });

  it('reset() abandons an open group (reconnect), after which a new GTID is fine', () => {
    const t = new TransactionTracker();
    run([mysqlGtid(1n), query('BEGIN'), rows()], t);
    expect(t.inGroup).toBe(true);
    t.reset();
    expect(t.inGroup).toBe(false);
    expect(summary(run([mysqlGtid(2n), query('DROP TABLE t')], t))).toEqual(['start', 'end:ddl:2']);
  });
});

describe('TransactionTracker: long real streams', () => {
  // Speed is measured in the benchmark (npm run bench), never asserted here.
  it('keeps finding exactly one group per GTID over thousands of repetitions of a real stream', () => {
    const buf = readFixture('mysql-5.7.23-gtid/mysql_bin.000012');
    const stream = [...readBinlogFile(buf)].filter((e) => e.event.typeCode !== 4 && e.event.typeCode !== 15 && e.event.typeCode !== 35);
    const events = stream.map((e) => e.event);
    const fde = stream[0]!.fde;
    const t = new TransactionTracker();
    const rounds = 2000;
    let completes = 0;
    for (let i = 0; i < rounds; i++) for (const e of events) if (t.push(e, fde).complete) completes++;
    expect(completes).toBe(rounds * 10);
    expect(t.inGroup).toBe(false);
  });
});
