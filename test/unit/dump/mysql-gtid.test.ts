// COM_BINLOG_DUMP_GTID against the MySQL 8.0.45 GTID fixture (and the tagged 9.6 one): start file from the
// replica's set, skipped transactions, heartbeats over the skipped bytes, FDE `created`, and the refusals.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  BINLOG_CHECKSUM_ALG_CRC32,
  FDE_CREATED_EVENT_OFFSET,
  GTID_LOG_EVENT,
  HEARTBEAT_LOG_EVENT,
  HEARTBEAT_LOG_EVENT_V2,
  LOG_POS_OFFSET,
  ROTATE_EVENT,
  decodeHeartbeat,
  verifyEventChecksum,
} from '../../../protocol/binlog/index.js';
import type { BinlogStore } from '../../../storage/index.js';
import { runDump } from '../../../src/server/dump/index.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { CaptureOutput, ctxOf, fixture, gtidDump, sameBytes, storeOf, unitsOf, vars } from './_helpers.js';

const UUID = '396e294c-1ca4-11f1-9ae7-00155da79c6b';
const G1 = fixture('mysql-8.0.45-gtid/binlog.000001');
const G2 = fixture('mysql-8.0.45-gtid/binlog.000002');
const BOTH: Array<[string, string]> = [
  ['mysql-8.0.45-gtid/binlog.000001', 'binlog.000001'],
  ['mysql-8.0.45-gtid/binlog.000002', 'binlog.000002'],
];

let dir: string;
let store: BinlogStore;
/** Only binlog.000002 kept: gtid_purged = its PREVIOUS_GTIDS (uuid:1-4). */
let purgedStore: BinlogStore;
let taggedStore: BinlogStore;
let anonStore: BinlogStore;

beforeAll(async () => {
  dir = await makeTempDir('dump-my-');
  store = await storeOf(`${dir}/a`, 'mysql', unitsOf(BOTH).units);
  purgedStore = await storeOf(`${dir}/b`, 'mysql', unitsOf([BOTH[1]!]).units);
  taggedStore = await storeOf(`${dir}/c`, 'mysql', unitsOf([['mysql-8-9-misc/binlog_transaction_with_GTID_TAG.000001', 'binlog.000001']]).units);
  anonStore = await storeOf(`${dir}/d`, 'mysql', unitsOf([['mysql-8.0.45-position/binlog.000001', 'binlog.000001']]).units);
});

afterAll(async () => {
  for (const s of [store, purgedStore, taggedStore, anonStore]) await s.close();
  await removeTempDir(dir);
});

async function dump(set: string, s: BinlogStore = store, flags = 0x01, fileName = '', position = 4n): Promise<CaptureOutput> {
  const out = new CaptureOutput();
  await runDump(ctxOf(vars('mysql'), gtidDump(set, flags, fileName, position), out), s);
  return out;
}

function fileOfRotate(e: Buffer): string {
  return e.subarray(27, e.length - 4).toString();
}

function gnos(events: Buffer[]): bigint[] {
  return events.filter((e) => e[4] === GTID_LOG_EVENT).map((e) => e.readBigInt64LE(19 + 17));
}

function heartbeats(events: Buffer[]): Array<{ file: string; pos: bigint; index: number }> {
  const out: Array<{ file: string; pos: bigint; index: number }> = [];
  events.forEach((e, index) => {
    if (e[4] === HEARTBEAT_LOG_EVENT || e[4] === HEARTBEAT_LOG_EVENT_V2) {
      verifyEventChecksum(e, BINLOG_CHECKSUM_ALG_CRC32);
      const h = decodeHeartbeat(e, BINLOG_CHECKSUM_ALG_CRC32);
      out.push({ file: h.fileName, pos: h.position, index });
    }
  });
  return out;
}

describe('MySQL GTID dump', () => {
  it('an empty set starts at the first file and sends everything', async () => {
    const out = await dump('');
    expect(out.error).toBeUndefined();
    const ev = out.events;
    expect(fileOfRotate(ev[0]!)).toBe('binlog.000001');
    expect(gnos(ev)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
    // Nothing skipped: the FDE goes as stored (created untouched), no heartbeat.
    expect(sameBytes(Buffer.concat(ev.slice(1, ev.findIndex((e, i) => i > 0 && e[4] === ROTATE_EVENT && e.readUInt32LE(0) === 0))), G1.subarray(4))).toBe('equal');
    expect(heartbeats(ev)).toEqual([]);
    expect(out.packets.at(-1)).toEqual({ kind: 'eof' });
  });

  it('skips the transactions the replica has, with a heartbeat carrying the position after them', async () => {
    const out = await dump(`${UUID}:1-2`);
    const ev = out.events;
    // binlog.000002 starts with uuid:1-4, not contained: the dump starts at binlog.000001.
    expect(fileOfRotate(ev[0]!)).toBe('binlog.000001');
    expect(gnos(ev)).toEqual([3n, 4n, 5n, 6n]);
    // The first transaction of the start file is skipped: the FDE's created is zeroed, log_pos kept.
    expect(ev[1]!.readUInt32LE(FDE_CREATED_EVENT_OFFSET)).toBe(0);
    expect(ev[1]!.readUInt32LE(LOG_POS_OFFSET)).toBe(126);
    verifyEventChecksum(ev[1]!, BINLOG_CHECKSUM_ALG_CRC32);
    const hb = heartbeats(ev);
    expect(hb).toEqual([{ file: 'binlog.000001', pos: 642n, index: 3 }]);
    // FDE, PREVIOUS_GTIDS, heartbeat(642), then the file from 642 on.
    const next = ev.findIndex((e, i) => i > 0 && e[4] === ROTATE_EVENT && e.readUInt32LE(0) === 0);
    expect(sameBytes(Buffer.concat(ev.slice(4, next)), G1.subarray(642))).toBe('equal');
  });

  it('a set that covers the first file starts at the newest file whose PREVIOUS_GTIDS it contains', async () => {
    const out = await dump(`${UUID}:1-4`);
    const ev = out.events;
    expect(fileOfRotate(ev[0]!)).toBe('binlog.000002');
    expect(sameBytes(Buffer.concat(ev.slice(1)), G2.subarray(4))).toBe('equal');
    // gno 5, the file's first transaction, is not skipped: created as stored.
    expect(ev[1]!.readUInt32LE(FDE_CREATED_EVENT_OFFSET)).toBe(G2.readUInt32LE(4 + FDE_CREATED_EVENT_OFFSET));
  });

  it('heartbeat v2 when the replica asked for it (dump flag 0x02)', async () => {
    const out = await dump(`${UUID}:1-5`, store, 0x03);
    const ev = out.events;
    expect(gnos(ev)).toEqual([6n]);
    const i = ev.findIndex((e) => e[4] === HEARTBEAT_LOG_EVENT_V2);
    expect(decodeHeartbeat(ev[i]!, BINLOG_CHECKSUM_ALG_CRC32)).toEqual({ version: 2, fileName: 'binlog.000002', position: 529n });
    expect(ev[i + 1]![4]).toBe(GTID_LOG_EVENT);
  });

  it('skipping to the end sends the heartbeat before the STOP-free end of data, then EOF', async () => {
    const out = await dump(`${UUID}:1-6`);
    const ev = out.events;
    expect(gnos(ev)).toEqual([]);
    // Nothing left after gno 6 but STOP, which MySQL skips too (it follows a skipped group): one heartbeat
    // at the end of the data.
    expect(heartbeats(ev).map((h) => [h.file, h.pos])).toEqual([['binlog.000002', 847n]]);
    expect(out.packets.at(-1)).toEqual({ kind: 'eof' });
  });

  it('refuses a replica with more GTIDs of our source than we have', async () => {
    const out = await dump(`${UUID}:1-10`);
    expect(out.events).toEqual([]);
    expect(out.error?.errno).toBe(1236);
    expect(out.error?.message).toMatch(/^Replica has more GTIDs than the source has, using the source's SERVER_UUID\./);
    // GTIDs of another server are none of our business.
    const other = await dump(`${UUID}:1-4,aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee:1-100`);
    expect(other.error).toBeUndefined();
  });

  it('refuses when GTIDs the replica needs were purged, naming both sets', async () => {
    const out = await dump('', purgedStore);
    expect(out.error?.message).toBe(
      "Cannot replicate because the source purged required binary logs. Replicate the missing transactions from elsewhere, or provision a new replica from backup. Consider increasing the source's binary log expiration period. The GTID set sent by the replica is '', and the missing transactions are '" +
        `${UUID}:1-4'.`,
    );
    const ok = await dump(`${UUID}:1-4`, purgedStore);
    expect(ok.error).toBeUndefined();
    expect(gnos(ok.events)).toEqual([5n, 6n]);
  });

  it('with a file name (mysqlbinlog --exclude-gtids) starts there and still skips the set', async () => {
    const out = await dump(`${UUID}:5`, store, 0x01, 'binlog.000002', 4n);
    expect(fileOfRotate(out.events[0]!)).toBe('binlog.000002');
    expect(gnos(out.events)).toEqual([6n]);
    // No purge or ahead checks on this path; created is not touched.
    expect(out.events[1]!.readUInt32LE(FDE_CREATED_EVENT_OFFSET)).toBe(G2.readUInt32LE(4 + FDE_CREATED_EVENT_OFFSET));
  });

  it('tagged GTIDs (9.6): a tagged set skips the tagged transaction, the untagged GTID of the same number does not', async () => {
    const tagUuid = '55778904-0299-11f1-b1b8-4ef0c4956feb';
    // The file's PREVIOUS_GTIDS (= gtid_purged here) is uuid:1-13 plus uuid:mytag:1-2.
    const skipped = await dump(`${tagUuid}:1-13:mytag:1-3`, taggedStore);
    expect(skipped.error).toBeUndefined();
    expect(skipped.events.filter((e) => e[4] === 42)).toEqual([]);
    // uuid:3 untagged is in the set, uuid:mytag:3 is not: the transaction is sent.
    const sent = await dump(`${tagUuid}:1-13:mytag:1-2`, taggedStore);
    expect(sent.error).toBeUndefined();
    expect(sent.events.filter((e) => e[4] === 42)).toHaveLength(1);
  });

  it('the packed path (runs of transactions checked against the set) sends what the per-unit path sends', async () => {
    const tagUuid = '55778904-0299-11f1-b1b8-4ef0c4956feb';
    const cases: Array<[string, BinlogStore]> = [
      ['', store],
      [`${UUID}:1-2`, store],
      [`${UUID}:1-3:5`, store],
      [`${UUID}:2:4:6`, store],
      [`${tagUuid}:1-13:mytag:1-2`, taggedStore],
      [`${tagUuid}:1-13:mytag:1-3`, taggedStore],
    ];
    for (const [set, s] of cases) {
      const packed = new CaptureOutput();
      await runDump(ctxOf(vars('mysql'), gtidDump(set), packed), s);
      const perUnit = new CaptureOutput();
      await runDump({ ...ctxOf(vars('mysql'), gtidDump(set), perUnit), packed: false }, s);
      // Every transaction sent went the packed way (none when the set covers them all).
      const sent = packed.events.some((e) => e[4] === GTID_LOG_EVENT || e[4] === 42);
      expect(packed.rangeCalls + packed.framedCalls > 0, set).toBe(sent);
      expect(perUnit.rangeCalls + perUnit.framedCalls, set).toBe(0);
      expect(packed.packets, set).toEqual(perUnit.packets);
    }
  });

  it('an anonymous transaction met while streaming a GTID dump ends it with 1236 and its position', async () => {
    const out = await dump('', anonStore, 0x01, 'binlog.000001', 4n);
    expect(out.error?.message).toBe(
      "Cannot replicate anonymous transaction when AUTO_POSITION = 1, at file binlog.000001, position 157.; the first event 'binlog.000001' at 4, " +
        "the last event read from 'binlog.000001' at 234, the last byte read from 'binlog.000001' at 234.",
    );
    // fake ROTATE, FDE, PREVIOUS_GTIDS went out before it
    expect(out.events).toHaveLength(3);
  });

  it('while skipping for longer than the heartbeat period, a heartbeat goes out after each skipped transaction', async () => {
    let now = 1_000_000;
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => (now += 10));
    try {
      const out = new CaptureOutput();
      await runDump(ctxOf(vars('mysql', { heartbeatPeriodNs: 5_000_000n }), gtidDump(`${UUID}:1-3`), out), store);
      expect(gnos(out.events)).toEqual([4n, 5n, 6n]);
      // The idle timer may also fire (a real timer) before the first event when the machine is busy: such a
      // heartbeat carries the start position, 4. The skip heartbeats are the ones after each skipped group.
      const positions = heartbeats(out.events).map((h) => h.pos);
      expect(positions.filter((p) => p !== 4n)).toEqual([365n, 642n, 919n]);
    } finally {
      spy.mockRestore();
    }
  });

  it('a binlog without GTIDs (GTID_MODE=OFF) refuses auto-position', async () => {
    const out = await dump('', anonStore);
    expect(out.error?.message).toBe(
      'The replication sender thread cannot start in AUTO_POSITION mode: this server has GTID_MODE = OFF instead of ON.',
    );
  });
});
