/**
 * Byte-exact artificial events (§3.4, §3.6), FDE restamp and the in-use CRC quirk, truncated files, header
 * validation, QUERY classification and the mysql::serialization varlen codec.
 */
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ProtocolError, ChecksumError } from '../../../protocol/errors.js';
import {
  BINLOG_CHECKSUM_ALG_CRC32,
  BINLOG_CHECKSUM_ALG_OFF,
  BinlogEvent,
  FDE_CREATED_EVENT_OFFSET,
  GTID_LIST_FLAG_UNTIL_REACHED,
  HEARTBEAT_LOG_EVENT_V2,
  LOG_EVENT_ARTIFICIAL_F,
  LOG_EVENT_BINLOG_IN_USE_F,
  buildEvent,
  buildFakeRotate,
  buildHeartbeat,
  buildHeartbeatV2,
  buildMariadbGtidList,
  computeEventChecksum,
  decodeFormatDescription,
  decodeHeartbeat,
  decodeMariadbGtidList,
  decodeQuery,
  decodeRotate,
  encodeVarlenUint,
  queryKind,
  readBinlogFile,
  readEventHeader,
  readVarlenUint,
  restampFde,
  uncompressMariadbBlock,
  uncompressMariadbBlockPrefix,
  verifyEventChecksum,
  withRecomputedChecksum,
  zigzagDecode,
  zigzagEncode,
  QUERY_EVENT,
  FL_COMMIT_ALTER_E1,
  FL_COMPLETED_XA,
  FL_DDL,
  FL_EXTRA_MULTI_ENGINE_E1,
  FL_GROUP_COMMIT_ID,
  FL_PREPARED_XA,
  FL_STANDALONE,
  FL_START_ALTER_E1,
  FL_TRANSACTIONAL,
  GTID_LOG_EVENT,
  GTID_TAGGED_LOG_EVENT,
  decodeMariadbGtid,
  decodeMysqlGtid,
  encodeGtidTagged,
  encodeMariadbGtid,
  encodeMysqlGtid,
  type MysqlGtidEvent,
  type QueryKind,
} from '../../../protocol/binlog/index.js';
import { readFixture } from './_fixtures.js';
import { deflateSync } from 'node:zlib';

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('artificial events, byte-exact (protocol brief §3.4, §3.6)', () => {
  it('fake ROTATE for binlog.000001 pos 4, server_id 1, CRC32', () => {
    const ev = buildFakeRotate({ serverId: 1, position: 4n, fileName: 'binlog.000001', checksum: true });
    expect(ev.toString('hex')).toBe(
      hex(`00 00 00 00 04 01 00 00 00 2c 00 00 00 00 00 00 00 20 00
           04 00 00 00 00 00 00 00 62 69 6e 6c 6f 67 2e 30 30 30 30 30 31 | e9 d2 ca 6e`).toString('hex'),
    );
    expect(decodeRotate(ev, BINLOG_CHECKSUM_ALG_CRC32)).toEqual({ position: 4n, nextFile: 'binlog.000001' });
  });

  it('fake ROTATE without CRC when the client did not negotiate one', () => {
    const ev = buildFakeRotate({ serverId: 1, position: 12345n, fileName: 'binlog.000001', checksum: false });
    expect(ev.length).toBe(19 + 8 + 13);
    expect(new BinlogEvent(ev).flags).toBe(LOG_EVENT_ARTIFICIAL_F);
    expect(decodeRotate(ev, BINLOG_CHECKSUM_ALG_OFF)).toEqual({ position: 12345n, nextFile: 'binlog.000001' });
  });

  it('HEARTBEAT v1 for binlog.000002 at 1234, server_id 1, CRC32', () => {
    const ev = buildHeartbeat({ serverId: 1, fileName: 'binlog.000002', position: 1234n, checksum: true });
    expect(ev.toString('hex')).toBe(
      hex(`00 00 00 00 1b 01 00 00 00 24 00 00 00 d2 04 00 00 00 00
           62 69 6e 6c 6f 67 2e 30 30 30 30 30 32 | 4e 03 87 68`).toString('hex'),
    );
    expect(decodeHeartbeat(ev, BINLOG_CHECKSUM_ALG_CRC32)).toEqual({ version: 1, fileName: 'binlog.000002', position: 1234n });
  });

  it('HEARTBEAT v2: name field, lenenc position field, end mark; log_pos = low 32 bits', () => {
    const ev = buildHeartbeatV2({ serverId: 1, fileName: 'binlog.000002', position: 1234n, checksum: true });
    const body = hex(`01 0d 62 69 6e 6c 6f 67 2e 30 30 30 30 30 32 | 02 03 fc d2 04 | 00`);
    const head = hex(`00 00 00 00 29 01 00 00 00 2c 00 00 00 d2 04 00 00 00 00`);
    const expected = Buffer.concat([head, body, Buffer.alloc(4)]);
    expected.writeUInt32LE(crc32(expected.subarray(0, expected.length - 4)) >>> 0, expected.length - 4);
    expect(ev.toString('hex')).toBe(expected.toString('hex'));
    expect(decodeHeartbeat(ev, BINLOG_CHECKSUM_ALG_CRC32)).toEqual({ version: 2, fileName: 'binlog.000002', position: 1234n });
  });

  it('HEARTBEAT v2 past 4 GiB: 9-byte position, header log_pos truncated', () => {
    const pos = 0x1_0000_0010n;
    const ev = buildHeartbeatV2({ serverId: 7, fileName: 'b.1', position: pos, checksum: false });
    expect(new BinlogEvent(ev).logPos).toBe(0x10);
    expect(ev.subarray(19 + 5, 19 + 5 + 11).toString('hex')).toBe('0209fe1000000001000000');
    expect(decodeHeartbeat(ev, BINLOG_CHECKSUM_ALG_OFF).position).toBe(pos);
  });

  it('HEARTBEAT v2 decoder skips unknown fields and rejects an overlong one', () => {
    const body = hex('07 02 aa bb 01 01 78 00');
    const ev = buildEvent({ typeCode: HEARTBEAT_LOG_EVENT_V2, serverId: 1, logPos: 99 }, body, false);
    expect(decodeHeartbeat(ev, 0)).toEqual({ version: 2, fileName: 'x', position: 99n });
    const bad = buildEvent({ typeCode: HEARTBEAT_LOG_EVENT_V2, serverId: 1 }, hex('01 05 78 00'), false);
    expect((thrown(() => decodeHeartbeat(bad, 0)) as ProtocolError).code).toBe('ERR_TRUNCATED');
  });

  it('fake GTID_LIST: ARTIFICIAL, log_pos = current position, flags in the count word', () => {
    const gtids = [
      { domainId: 0, serverId: 1, seqNo: 10n },
      { domainId: 2, serverId: 7, seqNo: 1n },
    ];
    const ev = buildMariadbGtidList({ serverId: 1, logPos: 4242, gtids, flags: GTID_LIST_FLAG_UNTIL_REACHED, checksum: true });
    const e = new BinlogEvent(ev);
    expect([e.timestamp, e.logPos, e.flags, e.eventSize]).toEqual([0, 4242, LOG_EVENT_ARTIFICIAL_F, 19 + 4 + 32 + 4]);
    verifyEventChecksum(ev, BINLOG_CHECKSUM_ALG_CRC32);
    expect(ev.readUInt32LE(19)).toBe((GTID_LIST_FLAG_UNTIL_REACHED | 2) >>> 0);
    expect(decodeMariadbGtidList(ev, BINLOG_CHECKSUM_ALG_CRC32)).toEqual({ flags: GTID_LIST_FLAG_UNTIL_REACHED, gtids });
    // An empty list carries MariaDB's 2 bytes of padding (29 bytes with CRC, as in the 10.5 and 10.11 files).
    expect(buildMariadbGtidList({ serverId: 1, logPos: 0, gtids: [], flags: 0, checksum: true }).length).toBe(29);
  });
});

describe('FDE: the BINLOG_IN_USE CRC quirk and restamping', () => {
  const inUseFiles = ['mariadb-10.5-misc/mariadb-bin.000001', 'mysql-5.7.23-gtid/mysql_bin.000013', 'mysql-8-9-misc/json.binlog.000001'];

  it.each(inUseFiles)('%s: the FDE has BINLOG_IN_USE set and verifies only with the flag cleared', (name) => {
    const file = readFixture(name);
    const size = file.readUInt32LE(4 + 9);
    const fde = file.subarray(4, 4 + size);
    expect(fde.readUInt16LE(17) & LOG_EVENT_BINLOG_IN_USE_F).toBe(LOG_EVENT_BINLOG_IN_USE_F);
    // A plain CRC over the bytes as stored does not match ...
    expect(crc32(fde.subarray(0, size - 4)) >>> 0).not.toBe(fde.readUInt32LE(size - 4));
    // ... the quirk-aware check does, and so does a plain CRC once the flag is cleared.
    verifyEventChecksum(fde, BINLOG_CHECKSUM_ALG_CRC32);
    const cleared = restampFde(fde, { clearInUse: true, zeroLogPosAndCreated: false });
    expect(cleared.readUInt16LE(17) & LOG_EVENT_BINLOG_IN_USE_F).toBe(0);
    expect(crc32(cleared.subarray(0, size - 4)) >>> 0).toBe(cleared.readUInt32LE(size - 4));
    expect(cleared.subarray(size - 4).equals(fde.subarray(size - 4))).toBe(true);
    expect(fde.readUInt16LE(17) & LOG_EVENT_BINLOG_IN_USE_F).toBe(LOG_EVENT_BINLOG_IN_USE_F); // input untouched
  });

  it('restamped with log_pos 0 and created 0: valid CRC, other fields kept', () => {
    const file = readFixture('mysql-8.0.45-gtid/binlog.000001');
    const fde = file.subarray(4, 4 + file.readUInt32LE(13));
    const before = decodeFormatDescription(fde);
    expect(before.createTimestamp).not.toBe(0);
    const out = restampFde(fde, { clearInUse: true, zeroLogPosAndCreated: true });
    const e = new BinlogEvent(out);
    expect(e.logPos).toBe(0);
    expect(out.readUInt32LE(FDE_CREATED_EVENT_OFFSET)).toBe(0);
    const after = decodeFormatDescription(out);
    expect(after.createTimestamp).toBe(0);
    expect({ ...after, createTimestamp: before.createTimestamp }).toEqual(before);
    expect(crc32(out.subarray(0, out.length - 4)) >>> 0).toBe(out.readUInt32LE(out.length - 4));
    verifyEventChecksum(out, BINLOG_CHECKSUM_ALG_CRC32);
    expect(() => verifyEventChecksum(fde.subarray(0), BINLOG_CHECKSUM_ALG_CRC32)).not.toThrow();
  });

  it('restamping an alg-OFF FDE leaves its CRC field alone (as the servers do)', () => {
    const file = readFixture('mysql-5.7-checksum-none/mysql-bin.checksum-none');
    const fde = file.subarray(4, 4 + file.readUInt32LE(13));
    const out = restampFde(fde, { clearInUse: true, zeroLogPosAndCreated: true });
    expect(out.subarray(out.length - 4).equals(fde.subarray(fde.length - 4))).toBe(true);
    expect(new BinlogEvent(out).logPos).toBe(0);
  });

  it('a flipped body byte fails the CRC check with ChecksumError', () => {
    const file = readFixture('mariadb-10.11-crc32/bin.000001');
    const ev = Buffer.from(file.subarray(256, 256 + 29));
    verifyEventChecksum(ev, BINLOG_CHECKSUM_ALG_CRC32);
    ev[20]! ^= 0x01;
    const err = thrown(() => verifyEventChecksum(ev, BINLOG_CHECKSUM_ALG_CRC32));
    expect(err).toBeInstanceOf(ChecksumError);
    expect((err as ChecksumError).code).toBe('ERR_CHECKSUM');
    verifyEventChecksum(withRecomputedChecksum(ev), BINLOG_CHECKSUM_ALG_CRC32);
    expect(computeEventChecksum(withRecomputedChecksum(ev))).toBe(withRecomputedChecksum(ev).readUInt32LE(25));
  });
});

describe('truncated files', () => {
  it('a file cut inside the first event header: ERR_TRUNCATED naming offset 4', () => {
    const buf = readFixture('truncated/binlog_truncated_event.000001');
    const err = thrown(() => [...readBinlogFile(buf)]);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('ERR_TRUNCATED');
    expect((err as ProtocolError).message).toContain('offset 4');
  });

  it('a file cut inside PREVIOUS_GTIDS: the FDE is yielded, then ERR_TRUNCATED naming offset 120', () => {
    const buf = readFixture('truncated/binlog_truncated_prev_gtid_event.000001');
    const seen: number[] = [];
    const err = thrown(() => {
      for (const e of readBinlogFile(buf)) seen.push(e.pos);
    });
    expect(seen).toEqual([4]);
    expect((err as ProtocolError).code).toBe('ERR_TRUNCATED');
    expect((err as ProtocolError).message).toContain('offset 120');
  });

  it('every prefix of a real file either reads cleanly to an event boundary or raises ProtocolError', () => {
    const buf = readFixture('mariadb-10.11-crc32/bin.000002');
    const boundaries = new Set([...readBinlogFile(buf)].map((e) => e.pos + e.event.eventSize));
    boundaries.add(4);
    for (let n = 0; n <= buf.length; n++) {
      const cut = buf.subarray(0, n);
      let err: unknown;
      try {
        for (const e of readBinlogFile(cut)) expect(e.pos).toBeLessThan(n);
      } catch (e) {
        err = e;
      }
      if (boundaries.has(n)) expect(err, `cut at ${n}`).toBeUndefined();
      else expect(err, `cut at ${n}`).toBeInstanceOf(ProtocolError);
    }
  });

  it('bad magic and a file without FDE are rejected', () => {
    expect((thrown(() => [...readBinlogFile(Buffer.from('nope'))]) as ProtocolError).code).toBe('ERR_MALFORMED');
    const rotate = buildFakeRotate({ serverId: 1, position: 4n, fileName: 'x', checksum: false });
    const noFde = Buffer.concat([Buffer.from([0xfe, 0x62, 0x69, 0x6e]), rotate]);
    expect((thrown(() => [...readBinlogFile(noFde)]) as ProtocolError).message).toContain('FORMAT_DESCRIPTION_EVENT');
  });
});

describe('header and BinlogEvent', () => {
  it('reads the six header fields', () => {
    const ev = buildEvent({ timestamp: 0x01020304, typeCode: 0x22, serverId: 7, logPos: 999, flags: 0x8001 }, hex('aabb'), false);
    expect(readEventHeader(ev)).toEqual({ timestamp: 0x01020304, typeCode: 0x22, serverId: 7, eventSize: 21, logPos: 999, flags: 0x8001 });
    const e = new BinlogEvent(ev);
    expect([e.timestamp, e.typeCode, e.serverId, e.eventSize, e.logPos, e.flags]).toEqual([0x01020304, 0x22, 7, 21, 999, 0x8001]);
    expect(e.body(BINLOG_CHECKSUM_ALG_OFF).toString('hex')).toBe('aabb');
  });

  it('rejects short buffers and a size mismatch with ProtocolError', () => {
    expect((thrown(() => new BinlogEvent(Buffer.alloc(18))) as ProtocolError).code).toBe('ERR_TRUNCATED');
    const ev = buildEvent({ typeCode: 2, serverId: 1 }, hex('00'), false);
    expect((thrown(() => new BinlogEvent(Buffer.concat([ev, hex('00')]))) as ProtocolError).code).toBe('ERR_MALFORMED');
    expect((thrown(() => new BinlogEvent(ev.subarray(0, 19))) as ProtocolError).code).toBe('ERR_TRUNCATED');
    expect((thrown(() => readEventHeader(ev, 5)) as ProtocolError).code).toBe('ERR_TRUNCATED');
    const tiny = buildEvent({ typeCode: 2, serverId: 1 }, Buffer.alloc(0), false);
    expect((thrown(() => new BinlogEvent(tiny).body(BINLOG_CHECKSUM_ALG_CRC32)) as ProtocolError).code).toBe('ERR_TRUNCATED');
  });
});

describe('QUERY text classification', () => {
  const cases: Array<[string, QueryKind]> = [
    ['BEGIN', 'BEGIN'],
    ['begin', 'BEGIN'],
    ['  \n\tBEGIN', 'BEGIN'],
    ['/* a comment */ BEGIN', 'BEGIN'],
    ['-- hello\nBEGIN', 'BEGIN'],
    ['# hash\nCOMMIT', 'COMMIT'],
    ['START TRANSACTION', 'BEGIN'],
    ['COMMIT', 'COMMIT'],
    ['COMMIT;', 'COMMIT'],
    ['COMMITTED', 'OTHER'],
    ['ROLLBACK', 'ROLLBACK'],
    ['ROLLBACK TO `sp1`', 'SAVEPOINT'],
    ['rollback work to savepoint sp', 'SAVEPOINT'],
    ['SAVEPOINT `sp1`', 'SAVEPOINT'],
    ['RELEASE SAVEPOINT sp', 'SAVEPOINT'],
    ["XA START X'7831',X'',1", 'XA_START'],
    ["XA BEGIN 'x'", 'XA_START'],
    ["XA END X'7831',X'',1", 'XA_END'],
    ["XA PREPARE X'7831',X'',1", 'XA_PREPARE'],
    ["xa commit X'7831',X'',1", 'XA_COMMIT'],
    ["XA COMMIT X'7831',X'',1 ONE PHASE", 'XA_COMMIT'],
    ["XA ROLLBACK X'7831',X'',1", 'XA_ROLLBACK'],
    ['XA RECOVER', 'OTHER'],
    ['CREATE TABLE t (id int)', 'OTHER'],
    ['INSERT INTO t VALUES (1)', 'OTHER'],
    ['BEGINNING', 'OTHER'],
    ['', 'OTHER'],
    ['/* unterminated', 'OTHER'],
    ['--not a comment', 'OTHER'],
  ];
  it.each(cases)('%j → %s', (sql, kind) => {
    expect(queryKind(sql)).toBe(kind);
    expect(queryKind(Buffer.from(`xx${sql}yy`), 2, 2 + Buffer.byteLength(sql))).toBe(kind);
  });

  it('decodes a QUERY event and classifies it from the event', () => {
    const status = hex('00 00 00 00 00');
    const db = Buffer.from('shop');
    const sql = Buffer.from('COMMIT');
    const body = Buffer.concat([hex('05000000 00000000'), Buffer.from([db.length]), hex('0000'), hex('0500'), status, db, hex('00'), sql]);
    const ev = buildEvent({ typeCode: QUERY_EVENT, serverId: 3 }, body, true);
    const q = decodeQuery(ev, BINLOG_CHECKSUM_ALG_CRC32);
    expect(q).toMatchObject({ threadId: 5, execTime: 0, errorCode: 0, database: 'shop', text: 'COMMIT', compressed: false });
    expect(q.statusVars.equals(status)).toBe(true);
  });
});

describe('MariaDB compressed blocks', () => {
  it('inflates a block with 1..4 length bytes (big-endian)', () => {
    const sql = Buffer.from('INSERT INTO t VALUES ' + '(1),'.repeat(100) + '(2)');
    for (let lenLen = 2; lenLen <= 4; lenLen++) {
      const len = Buffer.alloc(lenLen);
      len.writeUIntBE(sql.length, 0, lenLen);
      const block = Buffer.concat([Buffer.from([0x80 | lenLen]), len, deflateSync(sql)]);
      expect(uncompressMariadbBlock(block).equals(sql)).toBe(true);
    }
  });

  it('inflates only the start of a large block when asked for a prefix', () => {
    const sql = Buffer.from(`/* ${'c'.repeat(300)} */ XA COMMIT X'01',X'',1 ` + 'z'.repeat(500_000));
    const len = Buffer.alloc(3);
    len.writeUIntBE(sql.length, 0, 3);
    const block = Buffer.concat([Buffer.from([0x83]), len, deflateSync(sql)]);
    const prefix = uncompressMariadbBlockPrefix(block);
    expect(prefix.length).toBeLessThan(sql.length);
    expect(sql.subarray(0, prefix.length).equals(prefix)).toBe(true);
    expect(queryKind(prefix)).toBe('XA_COMMIT');
  });

  it('rejects a wrong length, a missing flag bit and garbage with ProtocolError', () => {
    const z = deflateSync(Buffer.from('abc'));
    expect((thrown(() => uncompressMariadbBlock(Buffer.concat([hex('8104'), z]))) as ProtocolError).code).toBe('ERR_MALFORMED');
    expect((thrown(() => uncompressMariadbBlock(Buffer.concat([hex('0103'), z]))) as ProtocolError).code).toBe('ERR_MALFORMED');
    expect((thrown(() => uncompressMariadbBlock(hex('8103 00 01 02'))) as ProtocolError).code).toBe('ERR_MALFORMED');
    expect((thrown(() => uncompressMariadbBlock(hex('9103'))) as ProtocolError).code).toBe('ERR_UNSUPPORTED');
  });
});

describe('mysql::serialization varlen integers', () => {
  it('encodes the protocol brief examples', () => {
    expect(encodeVarlenUint(60n).toString('hex')).toBe('78');
    expect(encodeVarlenUint(0x89n).toString('hex')).toBe('2502');
    expect(encodeVarlenUint(296n).toString('hex')).toBe('a104');
    expect(encodeVarlenUint(90600n).toString('hex')).toBe('430f0b');
    expect(encodeVarlenUint(0xffffffffffffffffn).toString('hex')).toBe('ff' + 'ff'.repeat(8));
    expect(zigzagEncode(3n)).toBe(6n);
    expect(zigzagEncode(-1n)).toBe(1n);
  });

  it('round-trips values at every size boundary', () => {
    const values: bigint[] = [0n, 1n, 0xffffffffffffffffn];
    for (let n = 1; n <= 9; n++) values.push((1n << BigInt(7 * n)) - 1n, 1n << BigInt(7 * n));
    for (const v of values.filter((x) => x <= 0xffffffffffffffffn)) {
      const enc = encodeVarlenUint(v);
      expect(readVarlenUint(enc, 0)).toEqual({ value: v, next: enc.length });
    }
    for (const x of [0n, 1n, -1n, 123456789n, -987654321n, 0x7fffffffffffffffn, -0x8000000000000000n]) {
      expect(zigzagDecode(zigzagEncode(x))).toBe(x);
    }
  });

  it('a truncated varlen is ERR_TRUNCATED', () => {
    expect((thrown(() => readVarlenUint(hex('7f0000'), 0)) as ProtocolError).code).toBe('ERR_TRUNCATED');
  });
});

describe('GTID encoders round-trip every optional part', () => {
  it('MariaDB GTID: commit id, XA xid, multi-engine, COMMIT ALTER sa_seq_no, minimal padding', () => {
    const variants: Array<Parameters<typeof encodeMariadbGtid>[0]> = [
      { seqNo: 1n, domainId: 0, serverId: 1, flags2: FL_STANDALONE },
      { seqNo: 2n, domainId: 3, serverId: 9, flags2: FL_GROUP_COMMIT_ID | FL_TRANSACTIONAL, commitId: 77n },
      { seqNo: 3n, domainId: 0, serverId: 1, flags2: FL_PREPARED_XA, xid: { formatId: 1, gtrid: Buffer.from('gt'), bqual: Buffer.from('bq') } },
      { seqNo: 4n, domainId: 0, serverId: 1, flags2: FL_TRANSACTIONAL, flagsExtra: FL_EXTRA_MULTI_ENGINE_E1, extraEngines: 1 },
      { seqNo: 5n, domainId: 0, serverId: 1, flags2: FL_STANDALONE | FL_DDL, flagsExtra: FL_COMMIT_ALTER_E1, saSeqNo: 4n },
      { seqNo: 6n, domainId: 0, serverId: 1, flags2: FL_GROUP_COMMIT_ID | FL_COMPLETED_XA, commitId: 1n, xid: { formatId: -1, gtrid: Buffer.alloc(0), bqual: Buffer.alloc(0) }, flagsExtra: FL_START_ALTER_E1 },
    ];
    for (const v of variants) {
      const raw = encodeMariadbGtid(v, { timestamp: 5 }, true);
      expect(raw.length).toBeGreaterThanOrEqual(19 + 19 + 4);
      const d = decodeMariadbGtid(raw, BINLOG_CHECKSUM_ALG_CRC32);
      expect(d).toMatchObject({ ...v, gtid: { domainId: v.domainId, serverId: v.serverId, seqNo: v.seqNo } });
      expect(encodeMariadbGtid(d, { timestamp: 5 }, true).equals(raw)).toBe(true);
    }
    // The common case is exactly 42 bytes with CRC, 6 zero bytes of padding, header flags 0x08.
    const plain = encodeMariadbGtid(variants[0]!, {}, true);
    expect(plain.length).toBe(42);
    expect(new BinlogEvent(plain).flags).toBe(0x08);
  });

  it('MySQL GTID: original timestamp / server version flagged by bits 55 / 31, lenenc length, ticket', () => {
    const g: MysqlGtidEvent = {
      typeCode: GTID_LOG_EVENT,
      anonymous: false,
      flags: 1,
      uuid: '3e11fa47-71ca-11e1-9e33-c80aa9429562',
      gno: 42n,
      tag: '',
      gtid: { uuid: '3e11fa47-71ca-11e1-9e33-c80aa9429562', tag: '', gno: 42n },
      lastCommitted: 7n,
      sequenceNumber: 8n,
      immediateCommitTimestamp: 1_700_000_000_000_000n,
      originalCommitTimestamp: 1_600_000_000_000_000n,
      transactionLength: 70_000n,
      immediateServerVersion: 80400,
      originalServerVersion: 80036,
      commitGroupTicket: 3n,
    };
    const raw = encodeMysqlGtid(g, { serverId: 2 }, true);
    expect(raw.length).toBe(19 + 42 + 7 + 7 + 4 + 4 + 4 + 8 + 4);
    expect(decodeMysqlGtid(raw, BINLOG_CHECKSUM_ALG_CRC32)).toEqual(g);
    const tagged = encodeGtidTagged({ ...g, typeCode: GTID_TAGGED_LOG_EVENT, tag: 'blue', gtid: { ...g.gtid!, tag: 'blue' } }, { serverId: 2 }, true);
    expect(decodeMysqlGtid(tagged, BINLOG_CHECKSUM_ALG_CRC32)).toEqual({
      ...g,
      typeCode: GTID_TAGGED_LOG_EVENT,
      tag: 'blue',
      gtid: { ...g.gtid!, tag: 'blue' },
      formatVersion: 2,
      lastNonIgnorableFieldId: 0,
    });
  });

  it('MySQL GTID: gno 0 or negative is ERR_MALFORMED for GTID_LOG_EVENT', () => {
    const body = Buffer.alloc(25);
    body.writeBigInt64LE(-1n, 17);
    const raw = buildEvent({ typeCode: GTID_LOG_EVENT, serverId: 1 }, body, false);
    expect((thrown(() => decodeMysqlGtid(raw, 0)) as ProtocolError).code).toBe('ERR_MALFORMED');
  });
});
