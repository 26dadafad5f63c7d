// Refusals of a dump with the primary's wording (ERR 1236), and checksum negotiation per replica.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BINLOG_CHECKSUM_ALG_CRC32,
  FLAGS_OFFSET,
  LOG_EVENT_BINLOG_IN_USE_F,
  ROTATE_EVENT,
  buildFakeRotate,
  verifyEventChecksum,
} from '../../../protocol/binlog/index.js';
import type { BinlogStore } from '../../../storage/index.js';
import { openStore } from '../../../storage/index.js';
import { runDump } from '../../../src/server/dump/index.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { CaptureOutput, IDENTITY, ctxOf, fileDump, fixture, gtidDump, sameBytes, storeOf, unitsOf, vars } from './_helpers.js';

let dir: string;
let maria: BinlogStore;
let mysql: BinlogStore;
let mysql57: BinlogStore;
let misc105: BinlogStore;
let empty: BinlogStore;

beforeAll(async () => {
  dir = await makeTempDir('dump-err-');
  maria = await storeOf(`${dir}/m`, 'mariadb', unitsOf([['mariadb-10.11-crc32/bin.000001', 'bin.000001'], ['mariadb-10.11-crc32/bin.000002', 'bin.000002']]).units);
  mysql = await storeOf(`${dir}/y`, 'mysql', unitsOf([['mysql-8.0.45-gtid/binlog.000001', 'binlog.000001'], ['mysql-8.0.45-gtid/binlog.000002', 'binlog.000002']]).units);
  mysql57 = await storeOf(`${dir}/5`, 'mysql', unitsOf([['mysql-5.7.23-gtid/mysql_bin.000011', 'mysql_bin.000011']]).units);
  misc105 = await storeOf(`${dir}/x`, 'mariadb', unitsOf([['mariadb-10.5-misc/mariadb-bin.000001', 'mariadb-bin.000001']]).units);
  empty = await openStore(`${dir}/e`, { flavor: 'mysql' });
});

afterAll(async () => {
  for (const s of [maria, mysql, mysql57, misc105, empty]) await s.close();
  await removeTempDir(dir);
});

async function run(store: BinlogStore, flavor: 'mysql' | 'mariadb', request: Parameters<typeof ctxOf>[1], v: Parameters<typeof vars>[1] = {}): Promise<CaptureOutput> {
  const out = new CaptureOutput();
  await runDump(ctxOf(vars(flavor, v), request, out), store);
  return out;
}

describe('file and position checks', () => {
  it('a file that is not stored', async () => {
    const out = await run(mysql, 'mysql', fileDump('binlog.000009', 4));
    expect(out.packets).toEqual([{ kind: 'error', errno: 1236, sqlState: 'HY000', message: 'Could not find first log file name in binary log index file' }]);
    const m = await run(maria, 'mariadb', fileDump('bin.000000', 4));
    expect(m.error?.message).toBe('Could not find first log file name in binary log index file');
  });

  it('positions below 4 and past the end: MySQL 8.0.26+ words, without location', async () => {
    expect((await run(mysql, 'mysql', fileDump('binlog.000001', 3))).error?.message).toBe(
      'Client requested source to start replication from position < 4.',
    );
    expect((await run(mysql, 'mysql', fileDump('binlog.000001', 1517))).error?.message).toBe(
      'Client requested source to start replication from position > file size',
    );
    // The end of a file is a valid start (the next event goes there).
    const atEnd = await run(mysql, 'mysql', fileDump('binlog.000001', 1516));
    expect(atEnd.error).toBeUndefined();
  });

  it('MySQL 5.7 binlogs get the master/slave wording', async () => {
    expect((await run(mysql57, 'mysql', fileDump('mysql_bin.000011', 999999))).error?.message).toBe(
      'Client requested master to start replication from position > file size',
    );
  });

  it('MariaDB calls any impossible position so, with the location suffix', async () => {
    const out = await run(maria, 'mariadb', fileDump('bin.000002', 9999));
    expect(out.error?.message).toBe(
      "Client requested master to start replication from impossible position; the first event 'bin.000002' at 9999, " +
        "the last event read from 'bin.000002' at 4, the last byte read from 'bin.000002' at 4.",
    );
  });

  it('a position inside an event: MySQL fails reading it, MariaDB calls it impossible', async () => {
    const my = await run(mysql, 'mysql', fileDump('binlog.000001', 200));
    expect(my.error?.message).toBe(
      "bogus data in log event; the first event 'binlog.000001' at 200, the last event read from 'binlog.000001' at 200, " +
        "the last byte read from 'binlog.000001' at 200.",
    );
    expect(my.events).toEqual([]);
    const ma = await run(maria, 'mariadb', fileDump('bin.000001', 300));
    expect(ma.error?.message).toMatch(/^Client requested master to start replication from impossible position; /);
  });

  it('nothing stored yet', async () => {
    const out = await run(empty, 'mysql', fileDump('', 4));
    expect(out.error?.message).toBe('Binary log is not open');
    const g = await run(empty, 'mysql', gtidDump(''));
    expect(g.error?.message).toBe('Binary log is not open');
  });

  it('MariaDB refuses COM_BINLOG_DUMP_GTID as an unknown command', async () => {
    const out = await run(maria, 'mariadb', gtidDump(''));
    expect(out.error).toMatchObject({ errno: 1047, message: 'Unknown command' });
  });
});

describe('checksum negotiation', () => {
  it('a replica that never set @master_binlog_checksum gets the fake ROTATE, then ERR 1236 at the CRC32 FDE', async () => {
    const my = await run(mysql, 'mysql', fileDump('binlog.000001', 4), { clientChecksum: null });
    expect(my.events).toEqual([buildFakeRotate({ serverId: IDENTITY.serverId, position: 4n, fileName: 'binlog.000001', checksum: false })]);
    expect(my.error?.message).toBe(
      "Replica can not handle replication events with the checksum that source is configured to log; the first event 'binlog.000001' at 4, " +
        "the last event read from 'binlog.000001' at 126, the last byte read from 'binlog.000001' at 126.",
    );
    const ma = await run(maria, 'mariadb', fileDump('bin.000001', 4), { clientChecksum: null });
    expect(ma.error?.message).toBe(
      "Slave can not handle replication events with the checksum that master is configured to log; the first event 'bin.000001' at 4, " +
        "the last event read from 'bin.000001' at 4, the last byte read from 'bin.000001' at 256.",
    );
  });

  it("NONE: the first fake ROTATE has no CRC, real events keep theirs, later fake ROTATEs follow the binlog's CRC32", async () => {
    const out = await run(maria, 'mariadb', fileDump('bin.000001', 4, 0x03), { clientChecksum: 'NONE' });
    const rotates = out.events.filter((e) => e[4] === ROTATE_EVENT && e.readUInt32LE(0) === 0);
    expect(rotates).toEqual([
      buildFakeRotate({ serverId: IDENTITY.serverId, position: 4n, fileName: 'bin.000001', checksum: false }),
      buildFakeRotate({ serverId: IDENTITY.serverId, position: 4n, fileName: 'bin.000002', checksum: true }),
    ]);
    const f1 = fixture('mariadb-10.11-crc32/bin.000001');
    expect(sameBytes(Buffer.concat(out.events.slice(1, out.events.indexOf(rotates[1]!))), f1.subarray(4))).toBe('equal');
  });

  it('a binlog without checksums is served to a replica that never asked', async () => {
    const dir2 = `${dir}/nc`;
    const s = await storeOf(dir2, 'mariadb', unitsOf([['mariadb-10.11-nochecksum-compressed/bin.000001', 'bin.000001']]).units);
    try {
      const out = await run(s, 'mariadb', fileDump('bin.000001', 4, 0x03), { clientChecksum: null });
      expect(out.error).toBeUndefined();
      expect(sameBytes(Buffer.concat(out.events.slice(1)), fixture('mariadb-10.11-nochecksum-compressed/bin.000001').subarray(4))).toBe('equal');
    } finally {
      await s.close();
    }
  });

  it('an FDE stored with LOG_EVENT_BINLOG_IN_USE_F goes out with the flag cleared and a valid CRC', async () => {
    const raw = fixture('mariadb-10.5-misc/mariadb-bin.000001');
    expect(raw.readUInt16LE(4 + FLAGS_OFFSET) & LOG_EVENT_BINLOG_IN_USE_F).toBe(LOG_EVENT_BINLOG_IN_USE_F);
    const out = await run(misc105, 'mariadb', fileDump('mariadb-bin.000001', 4, 0x03));
    const fde = out.events[1]!;
    expect(fde.readUInt16LE(FLAGS_OFFSET) & LOG_EVENT_BINLOG_IN_USE_F).toBe(0);
    verifyEventChecksum(fde, BINLOG_CHECKSUM_ALG_CRC32);
    // Only the flag differs from the stored bytes (its CRC was computed with the flag clear).
    const expected = Buffer.from(raw.subarray(4, 4 + fde.length));
    expected.writeUInt16LE(expected.readUInt16LE(FLAGS_OFFSET) & ~LOG_EVENT_BINLOG_IN_USE_F, FLAGS_OFFSET);
    expect(fde).toEqual(expected);
  });
});
