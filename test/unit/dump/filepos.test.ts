// COM_BINLOG_DUMP by file/position against stores built from the real fixture files: what the replica gets
// must be the primary's bytes (fake ROTATE, FDE rules, then the stored events, rotations into the next file).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BINLOG_CHECKSUM_ALG_CRC32,
  FDE_CREATED_EVENT_OFFSET,
  LOG_POS_OFFSET,
  ROTATE_EVENT,
  buildFakeRotate,
  verifyEventChecksum,
} from '../../../protocol/binlog/index.js';
import type { BinlogStore } from '../../../storage/index.js';
import { runDump } from '../../../src/server/dump/index.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { CaptureOutput, IDENTITY, ctxOf, fileDump, fixture, sameBytes, storeOf, unitsOf, vars } from './_helpers.js';

const MARIA = unitsOf([
  ['mariadb-10.11-crc32/bin.000001', 'bin.000001'],
  ['mariadb-10.11-crc32/bin.000002', 'bin.000002'],
]);
const F1 = fixture('mariadb-10.11-crc32/bin.000001');
const F2 = fixture('mariadb-10.11-crc32/bin.000002');

let dir: string;
let store: BinlogStore;

beforeAll(async () => {
  dir = await makeTempDir('dump-fp-');
  store = await storeOf(dir, 'mariadb', MARIA.units);
});

afterAll(async () => {
  await store.close();
  await removeTempDir(dir);
});

function fakeRotate(pos: bigint, name: string, checksum = true): Buffer {
  return buildFakeRotate({ serverId: IDENTITY.serverId, position: pos, fileName: name, checksum });
}

/** Splits the captured events at the fake ROTATEs: [rotate, ...events] per file. */
function byFile(events: Buffer[]): Array<{ rotate: Buffer; events: Buffer[] }> {
  const out: Array<{ rotate: Buffer; events: Buffer[] }> = [];
  for (const e of events) {
    if (e[4] === ROTATE_EVENT && e.readUInt32LE(0) === 0) out.push({ rotate: e, events: [] });
    else out[out.length - 1]!.events.push(e);
  }
  return out;
}

describe('file/position dump, MariaDB 10.11 fixture', () => {
  it('from 4 of the first file: fake ROTATE, then the file bytes from offset 4, then the next file, then EOF', async () => {
    const out = new CaptureOutput();
    await runDump(ctxOf(vars('mariadb'), fileDump('bin.000001', 4, 0x03), out), store);
    expect(out.packets.at(-1)).toEqual({ kind: 'eof' });
    const files = byFile(out.events);
    expect(files).toHaveLength(2);
    expect(files[0]!.rotate).toEqual(fakeRotate(4n, 'bin.000001'));
    expect(sameBytes(Buffer.concat(files[0]!.events), F1.subarray(4))).toBe('equal');
    expect(files[1]!.rotate).toEqual(fakeRotate(4n, 'bin.000002'));
    expect(sameBytes(Buffer.concat(files[1]!.events), F2.subarray(4))).toBe('equal');
  });

  it('an empty file name starts at the first stored file', async () => {
    const out = new CaptureOutput();
    await runDump(ctxOf(vars('mariadb'), fileDump('', 4, 0x03), out), store);
    expect(byFile(out.events)[0]!.rotate).toEqual(fakeRotate(4n, 'bin.000001'));
  });

  it('from every event boundary: FDE with log_pos and created zeroed, then the exact bytes from there on', async () => {
    const bounds = MARIA.boundaries.get('bin.000001')!;
    expect(bounds.length).toBeGreaterThan(50);
    for (const b of bounds) {
      const out = new CaptureOutput();
      await runDump(ctxOf(vars('mariadb'), fileDump('bin.000001', Number(b), 0x03), out), store);
      expect(out.error).toBeUndefined();
      const files = byFile(out.events);
      expect(files[0]!.rotate).toEqual(fakeRotate(b, 'bin.000001'));
      const [fde, ...rest] = files[0]!.events;
      verifyEventChecksum(fde!, BINLOG_CHECKSUM_ALG_CRC32);
      if (b > 4n) {
        expect(fde!.readUInt32LE(LOG_POS_OFFSET)).toBe(0);
        expect(fde!.readUInt32LE(FDE_CREATED_EVENT_OFFSET)).toBe(0);
        expect(sameBytes(Buffer.concat(rest), F1.subarray(Number(b)))).toBe('equal');
      } else {
        expect(sameBytes(Buffer.concat([fde!, ...rest]), F1.subarray(4))).toBe('equal');
      }
      expect(sameBytes(Buffer.concat(files[1]!.events), F2.subarray(4))).toBe('equal');
    }
  });
});
