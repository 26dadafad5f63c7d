// MariaDB GTID connect (@slave_connect_state, strict mode, @slave_until_gtid) against the MariaDB 10.11 fixture:
// start file, skipped groups, the fake GTID_LIST, and the primary's error wording.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BINLOG_CHECKSUM_ALG_CRC32,
  FDE_CREATED_EVENT_OFFSET,
  GTID_LIST_FLAG_UNTIL_REACHED,
  LOG_EVENT_ARTIFICIAL_F,
  LOG_POS_OFFSET,
  MARIADB_GTID_LIST_EVENT,
  ROTATE_EVENT,
  decodeMariadbGtidList,
  verifyEventChecksum,
  withRecomputedChecksum,
} from '../../../protocol/binlog/index.js';
import type { MariadbGtid } from '../../../protocol/gtid/mariadb.js';
import type { AppendUnit, BinlogStore } from '../../../storage/index.js';
import { runDump } from '../../../src/server/dump/index.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { CaptureOutput, IDENTITY, ctxOf, fileDump, fixture, sameBytes, storeOf, unitsOf, vars } from './_helpers.js';

const FILES: Array<[string, string]> = [
  ['mariadb-10.11-crc32/bin.000001', 'bin.000001'],
  ['mariadb-10.11-crc32/bin.000002', 'bin.000002'],
];
const F1 = fixture('mariadb-10.11-crc32/bin.000001');
const F2 = fixture('mariadb-10.11-crc32/bin.000002');

let dir: string;
let store: BinlogStore;
let holeStore: BinlogStore;

/** bin.000001 with every seq_no of domain 0 doubled: 0-7-2, 0-7-4, ... (so 0-7-5 is a hole). */
function doubled(units: AppendUnit[]): AppendUnit[] {
  return units.map((u) => {
    const g = u.gtid as MariadbGtid | null | undefined;
    if (u.kind !== 'transaction' || g === null || g === undefined || g.domainId !== 0) return u;
    const ev = Buffer.from(u.events[0]!);
    ev.writeBigUInt64LE(g.seqNo * 2n, 19);
    return { ...u, events: [withRecomputedChecksum(ev), ...u.events.slice(1)], gtid: { ...g, seqNo: g.seqNo * 2n } };
  });
}

beforeAll(async () => {
  dir = await makeTempDir('dump-mg-');
  store = await storeOf(`${dir}/a`, 'mariadb', unitsOf(FILES).units);
  holeStore = await storeOf(`${dir}/b`, 'mariadb', doubled(unitsOf([FILES[0]!]).units));
});

afterAll(async () => {
  await store.close();
  await holeStore.close();
  await removeTempDir(dir);
});

interface Run {
  out: CaptureOutput;
  events: Buffer[];
}

async function connect(state: string, v: Parameters<typeof vars>[1] = {}, s: BinlogStore = store, flags = 0x03): Promise<Run> {
  const out = new CaptureOutput();
  // MariaDB replicas send COM_BINLOG_DUMP with whatever file/position; the GTID state decides.
  await runDump(ctxOf(vars('mariadb', { slaveConnectState: state, ...v }), fileDump('', 4, flags), out), s);
  return { out, events: out.events };
}

function isFakeRotate(e: Buffer): boolean {
  return e[4] === ROTATE_EVENT && e.readUInt32LE(0) === 0;
}

function fakeLists(events: Buffer[]): Array<{ logPos: number; flags: number; gtids: string[] }> {
  return events
    .filter((e) => e[4] === MARIADB_GTID_LIST_EVENT && (e.readUInt16LE(17) & LOG_EVENT_ARTIFICIAL_F) !== 0)
    .map((e) => {
      verifyEventChecksum(e, BINLOG_CHECKSUM_ALG_CRC32);
      const l = decodeMariadbGtidList(e, BINLOG_CHECKSUM_ALG_CRC32);
      return { logPos: e.readUInt32LE(LOG_POS_OFFSET), flags: l.flags, gtids: l.gtids.map((g) => `${g.domainId}-${g.serverId}-${g.seqNo}`) };
    });
}

/** The real events after the FDE of the first file, up to the next fake ROTATE (fake GTID_LISTs left out). */
function firstFileBody(events: Buffer[]): Buffer[] {
  const next = events.findIndex((e, i) => i > 0 && isFakeRotate(e));
  return events
    .slice(2, next < 0 ? undefined : next)
    .filter((e) => !(e[4] === MARIADB_GTID_LIST_EVENT && (e.readUInt16LE(17) & LOG_EVENT_ARTIFICIAL_F) !== 0));
}

describe('MariaDB GTID connect', () => {
  it("starts at the file holding the position, skips the groups up to it, then sends a fake GTID_LIST", async () => {
    const { out, events } = await connect('0-7-5');
    expect(out.error).toBeUndefined();
    expect(out.packets.at(-1)).toEqual({ kind: 'eof' });
    // bin.000002's GTID_LIST (0-7-18) is past 0-7-5: the dump starts at bin.000001.
    expect(events[0]!.subarray(27, events[0]!.length - 4).toString()).toBe('bin.000001');
    // Position not reached at the FDE: created is zeroed so the replica keeps its temporary tables.
    expect(events[1]!.readUInt32LE(FDE_CREATED_EVENT_OFFSET)).toBe(0);
    expect(F1.readUInt32LE(4 + FDE_CREATED_EVENT_OFFSET)).not.toBe(0);
    verifyEventChecksum(events[1]!, BINLOG_CHECKSUM_ALG_CRC32);
    // Control events, then everything from the end of 0-7-5's group (1168).
    const body = firstFileBody(events);
    expect(sameBytes(Buffer.concat(body), Buffer.concat([F1.subarray(256, 322), F1.subarray(1168)]))).toBe('equal');
    expect(fakeLists(events)).toEqual([{ logPos: 1168, flags: 0, gtids: ['0-7-5'] }]);
    // The fake GTID_LIST comes right after the last skipped event, before 0-7-6.
    const i = events.findIndex((e) => e[4] === MARIADB_GTID_LIST_EVENT && (e.readUInt16LE(17) & LOG_EVENT_ARTIFICIAL_F) !== 0);
    expect(events[i + 1]!.readBigUInt64LE(19)).toBe(6n);
    expect(events[i]!.readUInt32LE(5)).toBe(IDENTITY.serverId);
  });

  it('a position equal to the newest GTID_LIST starts at that file without skipping', async () => {
    const { out, events } = await connect('0-7-18,2-7-1');
    expect(out.error).toBeUndefined();
    expect(events[0]!.subarray(27, events[0]!.length - 4).toString()).toBe('bin.000002');
    // Every domain starts at this file's first group: position reached, created kept.
    expect(events[1]!.readUInt32LE(FDE_CREATED_EVENT_OFFSET)).toBe(F2.readUInt32LE(4 + FDE_CREATED_EVENT_OFFSET));
    expect(sameBytes(Buffer.concat(events.slice(1)), F2.subarray(4))).toBe('equal');
    expect(fakeLists(events)).toEqual([]);
  });

  it('skips inside the newest file and reports the position reached', async () => {
    const { events } = await connect('0-7-19,2-7-1');
    expect(events[0]!.subarray(27, events[0]!.length - 4).toString()).toBe('bin.000002');
    expect(fakeLists(events)).toEqual([{ logPos: 612, flags: 0, gtids: ['0-7-19'] }]);
    const real = events.slice(1).filter((e) => (e.readUInt16LE(17) & LOG_EVENT_ARTIFICIAL_F) === 0);
    expect(sameBytes(Buffer.concat(real.slice(1)), Buffer.concat([F2.subarray(256, 352), F2.subarray(612)]))).toBe('equal');
  });

  it('a domain missing from the state starts from its first group; other domains are skipped to their position', async () => {
    // Domain 2 is not in the state: its only group (2-7-1) is sent; domain 0 up to 0-7-17 is skipped.
    const { events } = await connect('0-7-17');
    const gtids = firstFileBody(events)
      .filter((e) => e[4] === 162)
      .map((e) => `${e.readUInt32LE(27)}-${e.readUInt32LE(5)}-${e.readBigUInt64LE(19)}`);
    expect(gtids).toEqual(['2-7-1', '0-7-18']);
    const all = connect('0-7-14');
    const g2 = firstFileBody((await all).events)
      .filter((e) => e[4] === 162)
      .map((e) => `${e.readUInt32LE(27)}-${e.readBigUInt64LE(19)}`);
    expect(g2).toEqual(['0-15', '2-1', '0-16', '0-17', '0-18']);
  });

  it('a GTID of another server in a known domain is refused with the "diverged" wording', async () => {
    const { out, events } = await connect('0-8-3');
    expect(events).toEqual([]);
    expect(out.error).toEqual({
      kind: 'error',
      errno: 1236,
      sqlState: 'HY000',
      message:
        "Error: connecting slave requested to start from GTID 0-8-3, which is not in the master's binlog. Since the " +
        "master's binlog contains GTIDs with higher sequence numbers, it probably means that the slave has diverged " +
        'due to executing extra erroneous transactions',
    });
  });

  it('a GTID beyond our binlog is refused, unless @slave_gtid_ignore_duplicates', async () => {
    const { out } = await connect('0-7-30');
    expect(out.error?.message).toBe("Error: connecting slave requested to start from GTID 0-7-30, which is not in the master's binlog");
    const dup = await connect('0-7-30', { slaveGtidIgnoreDuplicates: true });
    expect(dup.out.error).toBeUndefined();
    const sent = firstFileBody(dup.events).filter((e) => e[4] === 162).map((e) => e.readUInt32LE(27));
    expect(sent).toEqual([2]);
  });

  it('strict mode refuses a position in a hole of the binlog; without it the next group is sent', async () => {
    const strict = await connect('0-7-5', { slaveGtidStrictMode: true }, holeStore);
    expect(strict.out.error?.message).toBe(
      'The binlog on the master is missing the GTID 0-7-5 requested by the slave (even though both a prior and a ' +
        'subsequent sequence number does exist), and GTID strict mode is enabled',
    );
    expect(strict.out.error?.errno).toBe(1236);
    const loose = await connect('0-7-5', {}, holeStore);
    expect(loose.out.error).toBeUndefined();
    // 0-7-6 is the first group past the hole: sent, with the fake GTID_LIST right after its GTID event.
    const i = loose.events.findIndex((e) => e[4] === 162);
    expect(loose.events[i]!.readBigUInt64LE(19)).toBe(6n);
    expect(loose.events[i + 1]![4]).toBe(MARIADB_GTID_LIST_EVENT);
    expect(fakeLists(loose.events)[0]!.gtids).toEqual(['0-7-6']);
  });

  it('@slave_until_gtid ends the dump after that group with a GTID_LIST flagged UNTIL_REACHED, then EOF', async () => {
    const { out, events } = await connect('0-7-5', { slaveUntilGtid: '0-7-7' });
    expect(out.error).toBeUndefined();
    expect(out.packets.at(-1)).toEqual({ kind: 'eof' });
    const lists = fakeLists(events);
    expect(lists.at(-1)).toEqual({ logPos: 2074, flags: GTID_LIST_FLAG_UNTIL_REACHED, gtids: ['0-7-7'] });
    const last = events.at(-2)!;
    expect(last.readUInt32LE(LOG_POS_OFFSET)).toBe(2074);
  });

  it('an UNTIL position already passed at the start stops after the first event that is not part of a group', async () => {
    const { out, events } = await connect('0-7-18,2-7-1', { slaveUntilGtid: '0-7-10' });
    expect(out.packets.at(-1)).toEqual({ kind: 'eof' });
    // fake ROTATE, FDE, the file's GTID_LIST, then the UNTIL GTID_LIST carrying the file's state.
    expect(events).toHaveLength(4);
    expect(events[2]).toEqual(F2.subarray(256, 315));
    expect(fakeLists(events)).toEqual([{ logPos: 315, flags: GTID_LIST_FLAG_UNTIL_REACHED, gtids: ['0-7-18', '2-7-1'] }]);
  });

  it('a malformed state is ER_UNKNOWN_ERROR (1105), as MariaDB answers it', async () => {
    const { out } = await connect('0-7-5,0-7-6');
    expect(out.error).toMatchObject({ errno: 1105, message: 'Out of memory or malformed slave request when obtaining start position from GTID state' });
    const bad = await connect('garbage');
    expect(bad.out.error?.errno).toBe(1105);
  });

  it('a requested domain we never logged does not block reaching the position', async () => {
    const { out, events } = await connect('0-7-18,2-7-1,5-1-3');
    expect(out.error).toBeUndefined();
    expect(events[1]!.readUInt32LE(FDE_CREATED_EVENT_OFFSET)).toBe(F2.readUInt32LE(4 + FDE_CREATED_EVENT_OFFSET));
  });
});
