// What a MariaDB source changes for a replica: ANNOTATE_ROWS only on request, capability-based rewriting for
// old replicas (same-size dummies when they cannot tolerate holes, GTID -> BEGIN), skip_replication.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANNOTATE_ROWS_EVENT,
  BINLOG_CHECKPOINT_EVENT,
  BINLOG_CHECKSUM_ALG_CRC32,
  LOG_EVENT_SKIP_REPLICATION_F,
  LOG_POS_OFFSET,
  MARIADB_GTID_EVENT,
  MARIADB_GTID_LIST_EVENT,
  QUERY_EVENT,
  ROTATE_EVENT,
  USER_VAR_EVENT,
  decodeQuery,
  readBinlogFile,
  verifyEventChecksum,
  withRecomputedChecksum,
} from '../../../protocol/binlog/index.js';
import type { AppendUnit, BinlogStore } from '../../../storage/index.js';
import { runDump } from '../../../src/server/dump/index.js';
import { beginEvent, dummyEvent } from '../../../src/server/dump/rewrite.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { CaptureOutput, ctxOf, fileDump, fixture, sameBytes, storeOf, unitsOf, vars } from './_helpers.js';

const F1 = fixture('mariadb-10.11-crc32/bin.000001');
const STORED: Array<[string, string]> = [['mariadb-10.11-crc32/bin.000001', 'bin.000001']];

let dir: string;
let store: BinlogStore;
let skipStore: BinlogStore;

/** The same file with LOG_EVENT_SKIP_REPLICATION_F set on every event of the 0-7-3 group. */
function flagged(units: AppendUnit[]): AppendUnit[] {
  return units.map((u) => {
    const g = u.gtid as { seqNo?: bigint } | null | undefined;
    if (u.kind !== 'transaction' || g?.seqNo !== 3n) return u;
    const events = u.events.map((e) => {
      const c = Buffer.from(e);
      c.writeUInt16LE(c.readUInt16LE(17) | LOG_EVENT_SKIP_REPLICATION_F, 17);
      return withRecomputedChecksum(c);
    });
    return { ...u, events };
  });
}

beforeAll(async () => {
  dir = await makeTempDir('dump-mf-');
  store = await storeOf(`${dir}/a`, 'mariadb', unitsOf(STORED).units);
  skipStore = await storeOf(`${dir}/b`, 'mariadb', flagged(unitsOf(STORED).units));
});

afterAll(async () => {
  await store.close();
  await skipStore.close();
  await removeTempDir(dir);
});

/** The events of bin.000001 as sent after the FDE (fake ROTATE and FDE left out). */
async function body(v: Parameters<typeof vars>[1], flags: number, s = store): Promise<Buffer[]> {
  const out = new CaptureOutput();
  await runDump(ctxOf(vars('mariadb', v), fileDump('bin.000001', 4, flags), out), s);
  expect(out.error).toBeUndefined();
  return out.events.slice(2);
}

const fileEvents = [...readBinlogFile(F1)].slice(1).map((e) => ({ pos: e.pos, raw: e.event.raw }));

describe('MariaDB capability and filters', () => {
  it('ANNOTATE_ROWS is sent only with dump flag 0x02; a replica that tolerates holes just misses it', async () => {
    const withFlag = await body({}, 0x03);
    expect(sameBytes(Buffer.concat(withFlag), F1.subarray(256))).toBe('equal');
    const without = await body({}, 0x01);
    expect(without.some((e) => e[4] === ANNOTATE_ROWS_EVENT)).toBe(false);
    expect(without).toEqual(fileEvents.filter((e) => e.raw[4] !== ANNOTATE_ROWS_EVENT).map((e) => e.raw));
  });

  it('capability 1 (ANNOTATE) gets ANNOTATE_ROWS as is even without the flag', async () => {
    const ev = await body({ mariadbSlaveCapability: 1 }, 0x01);
    expect(ev.filter((e) => e[4] === ANNOTATE_ROWS_EVENT)).toEqual(fileEvents.filter((e) => e.raw[4] === ANNOTATE_ROWS_EVENT).map((e) => e.raw));
  });

  it('capability 0 and 1: no holes, every event keeps its size and position; GTIDs become BEGIN', async () => {
    for (const cap of [0, 1]) {
      const ev = await body({ mariadbSlaveCapability: cap }, 0x01);
      expect(ev).toHaveLength(fileEvents.length);
      let pos = 256;
      for (let i = 0; i < ev.length; i++) {
        const e = ev[i]!;
        const orig = fileEvents[i]!.raw;
        expect(e.length).toBe(orig.length);
        pos += e.length;
        expect(e.readUInt32LE(LOG_POS_OFFSET)).toBe(pos);
        verifyEventChecksum(e, BINLOG_CHECKSUM_ALG_CRC32);
        const t = orig[4]!;
        if (t === MARIADB_GTID_EVENT) {
          const standalone = (orig[19 + 12]! & 1) !== 0;
          expect(e[4]).toBe(QUERY_EVENT);
          const q = decodeQuery(e, BINLOG_CHECKSUM_ALG_CRC32).text;
          expect(q).toBe(standalone ? `# Dummy event replacing event type 162 that slave cannot handle.`.slice(0, q.length).padEnd(q.length, ' ') : 'BEGIN');
        } else if (t === MARIADB_GTID_LIST_EVENT || t === BINLOG_CHECKPOINT_EVENT || (t === ANNOTATE_ROWS_EVENT && cap === 0)) {
          expect([QUERY_EVENT, USER_VAR_EVENT]).toContain(e[4]);
        } else {
          expect(e).toEqual(orig);
        }
      }
    }
  });

  it('capability 2 and 3 tolerate holes: dropped rather than replaced; 3 understands BINLOG_CHECKPOINT', async () => {
    const c2 = await body({ mariadbSlaveCapability: 2 }, 0x01);
    expect(c2.some((e) => e[4] === BINLOG_CHECKPOINT_EVENT || e[4] === MARIADB_GTID_LIST_EVENT)).toBe(false);
    const c3 = await body({ mariadbSlaveCapability: 3 }, 0x01);
    expect(c3.filter((e) => e[4] === BINLOG_CHECKPOINT_EVENT)).toHaveLength(1);
    expect(c3.some((e) => e[4] === MARIADB_GTID_LIST_EVENT)).toBe(false);
    // Transactional GTIDs still become BEGIN; standalone ones (DDL) are dropped.
    const begins = c3.filter((e) => e[4] === QUERY_EVENT && decodeQuery(e, BINLOG_CHECKSUM_ALG_CRC32).text === 'BEGIN');
    const transactional = fileEvents.filter((e) => e.raw[4] === MARIADB_GTID_EVENT && (e.raw[31]! & 1) === 0);
    expect(begins).toHaveLength(transactional.length);
    expect(c3.some((e) => e[4] === MARIADB_GTID_EVENT)).toBe(false);
  });

  it('SET skip_replication=1 drops the events flagged LOG_EVENT_SKIP_REPLICATION_F', async () => {
    const all = await body({}, 0x03, skipStore);
    const kept = await body({ skipReplication: true }, 0x03, skipStore);
    const flaggedCount = all.filter((e) => (e.readUInt16LE(17) & LOG_EVENT_SKIP_REPLICATION_F) !== 0).length;
    expect(flaggedCount).toBeGreaterThan(0);
    expect(kept.length).toBe(all.length - flaggedCount);
    expect(kept.some((e) => (e.readUInt16LE(17) & LOG_EVENT_SKIP_REPLICATION_F) !== 0)).toBe(false);
    expect(all.at(-1)![4]).toBe(ROTATE_EVENT);
  });
});

describe('rewrite.ts byte layouts', () => {
  const gtid = fileEvents.find((e) => e.raw[4] === MARIADB_GTID_EVENT && (e.raw[31]! & 1) === 0)!.raw;

  it('BEGIN from a 42-byte GTID event: empty status vars, empty db, "BEGIN"', () => {
    const b = beginEvent(gtid, BINLOG_CHECKSUM_ALG_CRC32)!;
    expect(b.length).toBe(gtid.length);
    expect(b.subarray(0, 4)).toEqual(gtid.subarray(0, 4));
    expect(b.subarray(5, 17)).toEqual(gtid.subarray(5, 17));
    expect(b.subarray(19, 38).toString('hex')).toBe('00000000' + '00000000' + '00' + '0000' + '0000' + '00' + Buffer.from('BEGIN').toString('hex'));
    verifyEventChecksum(b, BINLOG_CHECKSUM_ALG_CRC32);
  });

  it('BEGIN pads an even longer GTID event with empty time zone variables; odd sizes cannot be rewritten', () => {
    const longer = Buffer.concat([gtid.subarray(0, 38), Buffer.alloc(4), gtid.subarray(38)]);
    longer.writeUInt32LE(longer.length, 9);
    const b = beginEvent(withRecomputedChecksum(longer), BINLOG_CHECKSUM_ALG_CRC32)!;
    expect(decodeQuery(b, BINLOG_CHECKSUM_ALG_CRC32)).toMatchObject({ text: 'BEGIN', database: '' });
    expect(b.subarray(19 + 11, 19 + 13 + 4).toString('hex')).toBe('0400' + '0500' + '0500');
    const odd = Buffer.concat([gtid.subarray(0, 38), Buffer.alloc(1), gtid.subarray(38)]);
    odd.writeUInt32LE(odd.length, 9);
    expect(beginEvent(odd, BINLOG_CHECKSUM_ALG_CRC32)).toBeNull();
  });

  it('dummy events: a comment QUERY, or a NULL user variable for 25..33 data bytes, null below', () => {
    const q = dummyEvent(gtid, BINLOG_CHECKSUM_ALG_CRC32)!;
    expect(decodeQuery(q, BINLOG_CHECKSUM_ALG_CRC32).text).toBe('# Dum');
    const small = Buffer.alloc(19 + 10 + 4);
    small[4] = 163;
    small.writeUInt32LE(small.length, 9);
    const u = dummyEvent(withRecomputedChecksum(small), BINLOG_CHECKSUM_ALG_CRC32)!;
    expect(u[4]).toBe(USER_VAR_EVENT);
    expect(u.readUInt32LE(19)).toBe(5);
    expect(u.subarray(23, 28).toString()).toBe('!dumm');
    expect(u[28]).toBe(1);
    verifyEventChecksum(u, BINLOG_CHECKSUM_ALG_CRC32);
    const tiny = Buffer.alloc(19 + 5 + 4);
    tiny.writeUInt32LE(tiny.length, 9);
    expect(dummyEvent(tiny, BINLOG_CHECKSUM_ALG_CRC32)).toBeNull();
  });
});
