/**
 * Golden tests over every real binlog file in ../shared/fixtures/binlog (except truncated/): decode every
 * event, verify every CRC, chain positions, re-encode control events byte for byte, track transactions, and
 * compare with the mysqlbinlog / mariadb-binlog decodes shipped beside the files.
 */
import { describe, expect, it } from 'vitest';
import { MysqlGtidSet } from '../../../protocol/gtid/mysql.js';
import { formatMariadbGtid, type MariadbGtid } from '../../../protocol/gtid/mariadb.js';
import { formatMysqlGtid, type MysqlGtid } from '../../../protocol/gtid/mysql.js';
import {
  ANONYMOUS_GTID_LOG_EVENT,
  BINLOG_CHECKPOINT_EVENT,
  BINLOG_CHECKSUM_ALG_CRC32,
  FORMAT_DESCRIPTION_EVENT,
  GTID_LOG_EVENT,
  GTID_TAGGED_LOG_EVENT,
  MARIADB_GTID_EVENT,
  MARIADB_GTID_LIST_EVENT,
  PREVIOUS_GTIDS_LOG_EVENT,
  QUERY_COMPRESSED_EVENT,
  QUERY_EVENT,
  ROTATE_EVENT,
  STOP_EVENT,
  TransactionTracker,
  XA_PREPARE_LOG_EVENT,
  XID_EVENT,
  decodeBinlogCheckpoint,
  decodeFormatDescription,
  decodeMariadbGtid,
  decodeMariadbGtidList,
  decodeMysqlGtid,
  decodePreviousGtids,
  decodeQuery,
  decodeRotate,
  decodeXaPrepare,
  decodeXid,
  encodeBinlogCheckpoint,
  encodeFormatDescription,
  encodeGtidTagged,
  encodeMariadbGtid,
  encodeMariadbGtidList,
  encodeMysqlGtid,
  encodePreviousGtids,
  encodeRotate,
  formatXaXid,
  readBinlogFile,
  storedEventChecksum,
  computeEventChecksum,
  type BinlogFileEvent,
  type GroupComplete,
  type GroupKind,
} from '../../../protocol/binlog/index.js';
import { decodeAny, fixtureFiles, readFixture, type FixtureFile } from './_fixtures.js';

interface Analysis {
  events: BinlogFileEvent[];
  gtids: string[];
  groups: GroupComplete[];
  endsInGroup: boolean;
}

function gtidText(g: MysqlGtid | MariadbGtid): string {
  return 'uuid' in g ? formatMysqlGtid(g) : formatMariadbGtid(g);
}

function analyse(buf: Buffer): Analysis {
  const events = [...readBinlogFile(buf)];
  const gtids: string[] = [];
  const groups: GroupComplete[] = [];
  const tracker = new TransactionTracker();
  for (const e of events) {
    const t = e.event.typeCode;
    if (t === GTID_LOG_EVENT || t === GTID_TAGGED_LOG_EVENT) gtids.push(gtidText(decodeMysqlGtid(e.event, e.fde).gtid!));
    if (t === MARIADB_GTID_EVENT) gtids.push(formatMariadbGtid(decodeMariadbGtid(e.event, e.fde).gtid));
    if (t === ANONYMOUS_GTID_LOG_EVENT) gtids.push('anonymous');
    const r = tracker.push(e.event, e.fde);
    if (r.complete) groups.push(r);
  }
  return { events, gtids, groups, endsInGroup: tracker.inGroup };
}

const files = fixtureFiles();
const cache = new Map<string, Analysis>();
function analysisOf(name: string): Analysis {
  let a = cache.get(name);
  if (a === undefined) {
    a = analyse(readFixture(name));
    cache.set(name, a);
  }
  return a;
}

/** Header fields of one event as re-encoders take them. */
function headerOf(e: BinlogFileEvent): { timestamp: number; serverId: number; logPos: number; flags: number } {
  return { timestamp: e.event.timestamp, serverId: e.event.serverId, logPos: e.event.logPos, flags: e.event.flags };
}

/** Re-encodes a control event from its decoded value; undefined for types without an encoder. */
function reencode(e: BinlogFileEvent): Buffer | undefined {
  const crc = e.checksumAlg === BINLOG_CHECKSUM_ALG_CRC32;
  const h = headerOf(e);
  switch (e.event.typeCode) {
    case FORMAT_DESCRIPTION_EVENT:
      return encodeFormatDescription(decodeFormatDescription(e.event), h);
    case ROTATE_EVENT:
      return encodeRotate(decodeRotate(e.event, e.fde), h, crc);
    case PREVIOUS_GTIDS_LOG_EVENT:
      return encodePreviousGtids(decodePreviousGtids(e.event, e.fde).gtidSet, h, crc);
    case MARIADB_GTID_LIST_EVENT:
      return encodeMariadbGtidList(decodeMariadbGtidList(e.event, e.fde), h, crc);
    case BINLOG_CHECKPOINT_EVENT:
      return encodeBinlogCheckpoint(decodeBinlogCheckpoint(e.event, e.fde), h, crc);
    case MARIADB_GTID_EVENT:
      return encodeMariadbGtid(decodeMariadbGtid(e.event, e.fde), h, crc);
    case GTID_LOG_EVENT:
    case ANONYMOUS_GTID_LOG_EVENT:
      return encodeMysqlGtid(decodeMysqlGtid(e.event, e.fde), h, crc);
    case GTID_TAGGED_LOG_EVENT:
      return encodeGtidTagged(decodeMysqlGtid(e.event, e.fde), h, crc);
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// .txt decodes (mysqlbinlog 5.7 / mariadb-binlog 10.11 output)

interface TxtEventLine {
  serverId: number;
  endLogPos: number;
  crc: number | undefined;
  description: string;
}

const HEADER_LINE = /^#\d{6}\s+\d{1,2}:\d{2}:\d{2} server id (\d+)\s+end_log_pos (\d+)(?: CRC32 0x([0-9a-f]{8}))?\s+(.*)$/gm;

function txtEventLines(txt: string): TxtEventLine[] {
  return [...txt.matchAll(HEADER_LINE)].map((m) => ({
    serverId: Number(m[1]),
    endLogPos: Number(m[2]),
    crc: m[3] === undefined ? undefined : parseInt(m[3], 16),
    description: m[4]!.trim(),
  }));
}

function txtGtids(txt: string): string[] {
  const out: string[] = [];
  for (const m of txt.matchAll(/GTID_NEXT= '([^']+)'|\tGTID (\d+-\d+-\d+)/g)) {
    const g = m[1] ?? m[2]!;
    if (g !== 'AUTOMATIC') out.push(g);
  }
  return out;
}

/** Words mysqlbinlog / mariadb-binlog start each event's description with, by type code. */
const TXT_KEYWORD: Record<number, string> = {
  2: 'Query',
  3: 'Stop',
  4: 'Rotate to',
  5: 'Intvar',
  13: 'Rand',
  15: 'Start: binlog v 4',
  16: 'Xid = ',
  19: 'Table_map',
  23: 'Write_rows',
  24: 'Update_rows',
  25: 'Delete_rows',
  30: 'Write_rows',
  31: 'Update_rows',
  32: 'Delete_rows',
  33: 'GTID',
  35: 'Previous-GTIDs',
  38: 'XID = ',
  160: 'Annotate_rows',
  161: 'Binlog checkpoint',
  162: 'GTID ',
  163: 'Gtid list [',
  165: 'Query_compressed',
  166: 'Write_compressed_rows',
  167: 'Update_compressed_rows',
  168: 'Delete_compressed_rows',
};

// ---------------------------------------------------------------------------------------------------------

describe('golden: every fixture binlog file', () => {
  it('finds the fixture files', () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
    expect(files.filter((f) => f.txt !== undefined).length).toBe(7);
  });

  describe.each(files.map((f) => [f.name, f] as [string, FixtureFile]))('%s', (name, file) => {
    it('decodes every event to the end of the file; CRCs verify; positions chain', () => {
      const buf = readFixture(name);
      const { events } = analysisOf(name);
      expect(events.length).toBeGreaterThan(1);
      expect(events[0]!.pos).toBe(4);
      expect(events[0]!.event.typeCode).toBe(FORMAT_DESCRIPTION_EVENT);
      let expectedPos = 4;
      for (const e of events) {
        expect(e.pos).toBe(expectedPos);
        if (e.event.logPos !== 0) expect(e.event.logPos).toBe(e.pos + e.event.eventSize);
        expectedPos += e.event.eventSize;
        decodeAny(e.event, e.fde);
      }
      expect(expectedPos).toBe(buf.length);
    });

    it('re-encodes its control and GTID events to identical bytes', () => {
      const { events } = analysisOf(name);
      let count = 0;
      for (const e of events) {
        const again = reencode(e);
        if (again === undefined) continue;
        count++;
        expect(again.toString('hex'), `type ${e.event.typeCode} at ${e.pos}`).toBe(e.event.raw.toString('hex'));
      }
      expect(count).toBeGreaterThanOrEqual(1);
    });

    it('tracks one complete group per GTID event and ends between groups', () => {
      const { gtids, groups, endsInGroup, events } = analysisOf(name);
      expect(groups.length).toBe(gtids.length);
      expect(groups.map((g) => (g.gtid === undefined ? 'anonymous' : gtidText(g.gtid)))).toEqual(gtids);
      expect(endsInGroup).toBe(false);
      // MySQL: the group's bytes add up to the GTID's transaction_length (8.0.2+).
      let gi = 0;
      for (const e of events) {
        const t = e.event.typeCode;
        if (t !== GTID_LOG_EVENT && t !== ANONYMOUS_GTID_LOG_EVENT && t !== GTID_TAGGED_LOG_EVENT) {
          if (t === MARIADB_GTID_EVENT) gi++;
          continue;
        }
        const len = decodeMysqlGtid(e.event, e.fde).transactionLength;
        if (len !== undefined) expect(BigInt(groups[gi]!.bytes), `group ${gi}`).toBe(len);
        gi++;
      }
    });

    if (file.txt !== undefined) {
      const txt = file.txt;
      it('matches the .txt decode: event lines, positions, CRCs, GTIDs, rotates, lists, queries', () => {
        const { events, gtids } = analysisOf(name);
        const lines = txtEventLines(txt);
        expect(lines.length).toBe(events.length);
        const atPositions = [...txt.matchAll(/^# at (\d+)$/gm)].map((m) => Number(m[1]));
        expect(new Set(atPositions)).toEqual(new Set(events.map((e) => e.pos)));
        events.forEach((e, i) => {
          const line = lines[i]!;
          const where = `event ${i} at ${e.pos}`;
          expect(line.serverId, where).toBe(e.event.serverId);
          expect(line.endLogPos, where).toBe(e.event.logPos);
          if (line.crc !== undefined) expect(line.crc, where).toBe(storedEventChecksum(e.event.raw));
          const keyword = TXT_KEYWORD[e.event.typeCode];
          expect(keyword, `${where}: type ${e.event.typeCode}`).toBeDefined();
          expect(line.description.startsWith(keyword!), `${where}: '${line.description}'`).toBe(true);
          switch (e.event.typeCode) {
            case FORMAT_DESCRIPTION_EVENT:
              expect(line.description).toContain(`server v ${decodeFormatDescription(e.event).serverVersion} created`);
              break;
            case ROTATE_EVENT: {
              const r = decodeRotate(e.event, e.fde);
              expect(line.description).toMatch(new RegExp(`^Rotate to ${r.nextFile.replace(/\./g, '\\.')}\\s+pos: ${r.position}$`));
              break;
            }
            case XID_EVENT:
              expect(line.description).toBe(`Xid = ${decodeXid(e.event, e.fde).xid}`);
              break;
            case XA_PREPARE_LOG_EVENT:
              expect(line.description).toBe(`XID = ${formatXaXid(decodeXaPrepare(e.event, e.fde))}`);
              break;
            case BINLOG_CHECKPOINT_EVENT:
              expect(line.description).toBe(`Binlog checkpoint ${decodeBinlogCheckpoint(e.event, e.fde).fileName}`);
              break;
            case QUERY_EVENT:
            case QUERY_COMPRESSED_EVENT: {
              const q = decodeQuery(e.event, e.fde);
              expect(txt, where).toContain(`${q.text}\n/*!*/;`);
              break;
            }
          }
        });
        expect(gtids).toEqual(txtGtids(txt));
        // GTID_LIST lines (possibly wrapped over '# ' continuation lines).
        const lists = [...txt.matchAll(/Gtid list \[([^\]]*)\]/g)].map((m) =>
          m[1]!.replace(/[#\s]/g, '').split(',').filter((s) => s !== ''),
        );
        const ours = events
          .filter((e) => e.event.typeCode === MARIADB_GTID_LIST_EVENT)
          .map((e) => decodeMariadbGtidList(e.event, e.fde).gtids.map(formatMariadbGtid));
        expect(ours).toEqual(lists);
        // PREVIOUS_GTIDS: the set printed on the '# ' lines after the header line.
        const prev = [...txt.matchAll(/\tPrevious-GTIDs\n((?:# [0-9a-f]{8}-[^\n]*\n)+)/g)].map((m) =>
          m[1]!.replace(/#|\s/g, ''),
        );
        const ourPrev = events
          .filter((e) => e.event.typeCode === PREVIOUS_GTIDS_LOG_EVENT)
          .map((e) => decodePreviousGtids(e.event, e.fde).gtidSet.toString().replace(/\s/g, ''));
        expect(ourPrev).toEqual(prev);
      });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------

function previousGtidsOf(name: string): MysqlGtidSet {
  const e = analysisOf(name).events.find((x) => x.event.typeCode === PREVIOUS_GTIDS_LOG_EVENT)!;
  return decodePreviousGtids(e.event, e.fde).gtidSet;
}

function lastRotate(name: string): { position: bigint; nextFile: string } {
  const evs = analysisOf(name).events;
  const e = evs[evs.length - 1]!;
  expect(e.event.typeCode).toBe(ROTATE_EVENT);
  return decodeRotate(e.event, e.fde);
}

describe('golden: files of one server chain together', () => {
  it.each([
    ['mysql-5.7.23-gtid/mysql_bin.000011', 'mysql-5.7.23-gtid/mysql_bin.000012'],
    ['mysql-5.7.23-gtid/mysql_bin.000012', 'mysql-5.7.23-gtid/mysql_bin.000013'],
    ['mysql-8.0.45-gtid/binlog.000001', 'mysql-8.0.45-gtid/binlog.000002'],
  ])('MySQL: %s rotates into %s, whose PREVIOUS_GTIDS = previous ∪ GTIDs of the first', (a, b) => {
    const rotate = lastRotate(a);
    expect(rotate).toEqual({ position: 4n, nextFile: b.split('/')[1] });
    const expected = previousGtidsOf(a);
    for (const g of analysisOf(a).groups) expected.add(g.gtid as MysqlGtid);
    expect(previousGtidsOf(b).toString()).toBe(expected.toString());
    expect(previousGtidsOf(b).equals(expected)).toBe(true);
  });

  it.each([
    ['mariadb-10.11-crc32/bin.000001', 'mariadb-10.11-crc32/bin.000002'],
    ['mariadb-10.11-nochecksum-compressed/bin.000001', 'mariadb-10.11-nochecksum-compressed/bin.000002'],
  ])('MariaDB: %s rotates into %s, whose GTID_LIST = last GTID per domain of the first', (a, b) => {
    expect(lastRotate(a)).toEqual({ position: 4n, nextFile: 'bin.000002' });
    const state = new Map<number, string>();
    const firstList = analysisOf(a).events.find((e) => e.event.typeCode === MARIADB_GTID_LIST_EVENT)!;
    for (const g of decodeMariadbGtidList(firstList.event, firstList.fde).gtids) state.set(g.domainId, formatMariadbGtid(g));
    for (const g of analysisOf(a).groups) {
      const m = g.gtid as MariadbGtid;
      state.set(m.domainId, formatMariadbGtid(m));
    }
    const list = analysisOf(b).events.find((e) => e.event.typeCode === MARIADB_GTID_LIST_EVENT)!;
    const got = decodeMariadbGtidList(list.event, list.fde).gtids.map(formatMariadbGtid);
    expect(got.sort()).toEqual([...state.values()].sort());
  });

  it('closed files end with ROTATE or STOP; the active ones end after a complete group', () => {
    for (const f of files) {
      const evs = analysisOf(f.name).events;
      const last = evs[evs.length - 1]!.event;
      const inUse = (evs[0]!.event.flags & 1) !== 0;
      if (!inUse) expect([ROTATE_EVENT, STOP_EVENT], f.name).toContain(last.typeCode);
    }
  });
});

describe('golden: transaction kinds', () => {
  it('mariadb-10.11-crc32/bin.000001: DDL, standalone, InnoDB, MyISAM COMMIT, statement, XA PREPARE/COMMIT, domain 2', () => {
    const { groups } = analysisOf('mariadb-10.11-crc32/bin.000001');
    // From the .txt: GTIDs flagged "ddl" or without "trans" are standalone; 0-7-11 is MyISAM (QUERY COMMIT);
    // 0-7-13 is the STATEMENT-format insert (Intvar, Rand, Query, Xid); 0-7-14 ends at XA_PREPARE.
    const expected: Array<[string, GroupKind]> = [
      ['0-7-1', 'ddl'],
      ['0-7-2', 'ddl'],
      ['0-7-3', 'ddl'],
      ['0-7-4', 'ddl'],
      ['0-7-5', 'ddl'],
      ['0-7-6', 'ddl'],
      ['0-7-7', 'transaction'],
      ['0-7-8', 'transaction'],
      ['0-7-9', 'transaction'],
      ['0-7-10', 'transaction'],
      ['0-7-11', 'transaction'],
      ['0-7-12', 'transaction'],
      ['0-7-13', 'transaction'],
      ['0-7-14', 'xa_prepare'],
      ['0-7-15', 'xa_commit'],
      ['2-7-1', 'transaction'],
      ['0-7-16', 'ddl'],
      ['0-7-17', 'ddl'],
      ['0-7-18', 'transaction'],
    ];
    expect(groups.map((g) => [gtidText(g.gtid!), g.kind])).toEqual(expected);
    // The XA PREPARE group: GTID, ANNOTATE_ROWS, TABLE_MAP, WRITE_ROWS, QUERY "XA END", XA_PREPARE.
    expect(groups[13]!.events).toBe(6);
    expect(groups[13]!.bytes).toBe(4461 - 4128);
  });

  it('mariadb 10.11 XA: the GTIDs carry the XID and the XA_PREPARE event decodes', () => {
    const { events } = analysisOf('mariadb-10.11-crc32/bin.000001');
    const prep = events.find((e) => e.pos === 4128)!;
    const g = decodeMariadbGtid(prep.event, prep.fde);
    expect(g.flags2 & 0x40).toBe(0x40);
    expect(formatXaXid(g.xid!)).toBe("X'7831',X'',1");
    const xa = events.find((e) => e.pos === 4423)!;
    expect(decodeXaPrepare(xa.event, xa.fde)).toMatchObject({ onePhase: false, formatId: 1 });
    const commit = events.find((e) => e.pos === 4461)!;
    const c = decodeMariadbGtid(commit.event, commit.fde);
    expect(c.flags2 & 0x81).toBe(0x81);
    expect(formatXaXid(c.xid!)).toBe("X'7831',X'',1");
  });

  it('compressed MariaDB binlog: QUERY_COMPRESSED inflates; groups are ddl ×5 then transaction ×3', () => {
    const { groups, events } = analysisOf('mariadb-10.11-nochecksum-compressed/bin.000001');
    expect(groups.map((g) => g.kind)).toEqual(['ddl', 'ddl', 'ddl', 'ddl', 'ddl', 'transaction', 'transaction', 'transaction']);
    const q = decodeQuery(events.find((e) => e.event.typeCode === QUERY_COMPRESSED_EVENT)!.event, events[0]!.fde);
    expect(q.compressed).toBe(true);
    expect(q.text).toBe("CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY 'replpass'");
  });

  it('MySQL 8.0.45: the first GTID decodes as in the protocol brief worked example', () => {
    const { events, groups } = analysisOf('mysql-8.0.45-gtid/binlog.000001');
    const e = events.find((x) => x.event.typeCode === GTID_LOG_EVENT)!;
    expect(e.event.eventSize).toBe(77);
    const g = decodeMysqlGtid(e.event, e.fde);
    expect(g).toMatchObject({
      flags: 1,
      uuid: '396e294c-1ca4-11f1-9ae7-00155da79c6b',
      gno: 1n,
      lastCommitted: 0n,
      sequenceNumber: 1n,
      transactionLength: 208n,
      immediateServerVersion: 80045,
      originalServerVersion: 80045,
    });
    expect(g.immediateCommitTimestamp).toBe(0x064cae9db79307n);
    expect(g.originalCommitTimestamp).toBe(g.immediateCommitTimestamp);
    const second = events.filter((x) => x.event.typeCode === GTID_LOG_EVENT)[1]!;
    expect(second.event.eventSize).toBe(79);
    expect(decodeMysqlGtid(second.event, second.fde).transactionLength).toBe(277n);
    expect(groups.map((x) => x.kind)).toEqual(['ddl', 'transaction', 'transaction', 'transaction']);
  });

  it('MySQL 8.0.45 without GTIDs: ANONYMOUS_GTID groups have no GTID', () => {
    const { groups } = analysisOf('mysql-8.0.45-position/binlog.000001');
    expect(groups.length).toBe(4);
    expect(groups.every((g) => g.gtid === undefined)).toBe(true);
  });

  it('MySQL 9.6 GTID_TAGGED decodes as in the protocol brief worked example', () => {
    const { events, groups } = analysisOf('mysql-8-9-misc/binlog_transaction_with_GTID_TAG.000001');
    const e = events.find((x) => x.event.typeCode === GTID_TAGGED_LOG_EVENT)!;
    expect(e.event.eventSize).toBe(83);
    const g = decodeMysqlGtid(e.event, e.fde);
    expect(g).toMatchObject({
      flags: 0,
      uuid: '55778904-0299-11f1-b1b8-4ef0c4956feb',
      gno: 3n,
      tag: 'mytag',
      lastCommitted: 0n,
      sequenceNumber: 1n,
      transactionLength: 296n,
      immediateServerVersion: 90600,
      formatVersion: 2,
      lastNonIgnorableFieldId: 0,
    });
    expect(groups).toHaveLength(1);
    expect(groups[0]!.gtid).toEqual({ uuid: '55778904-0299-11f1-b1b8-4ef0c4956feb', tag: 'mytag', gno: 3n });
    expect(groups[0]!.bytes).toBe(296);
    expect(previousGtidsOf('mysql-8-9-misc/binlog_transaction_with_GTID_TAG.000001').hasTags()).toBe(true);
  });

  it('MySQL 8.0 compressed transactions: GTID + TRANSACTION_PAYLOAD is one group', () => {
    for (const name of ['mysql-8-9-misc/transaction_compression.000001', 'mysql-8-9-misc/mysql-bin.compressed-8.0.28']) {
      const { groups } = analysisOf(name);
      expect(groups.map((g) => [g.kind, g.events])).toEqual([['transaction', 2]]);
    }
  });

  it('MySQL 5.7 checksum NONE: alg 0, no trailers, the FDE still carries its real CRC', () => {
    const { events } = analysisOf('mysql-5.7-checksum-none/mysql-bin.checksum-none');
    const fde = decodeFormatDescription(events[0]!.event);
    expect(fde.checksumAlg).toBe(0);
    expect(fde.serverVersion).toBe('5.7.20-log');
    expect(events.every((e) => e.checksumAlg === 0)).toBe(true);
    // Not zeros, as the protocol brief says: both MySQL 5.7 and MariaDB 10.11 store the real CRC32 there.
    for (const name of ['mysql-5.7-checksum-none/mysql-bin.checksum-none', 'mariadb-10.11-nochecksum-compressed/bin.000001']) {
      const fdeEvent = analysisOf(name).events[0]!.event;
      expect(storedEventChecksum(fdeEvent.raw)).toBe(computeEventChecksum(fdeEvent.raw));
    }
  });
});
