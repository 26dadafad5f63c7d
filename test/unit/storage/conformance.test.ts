// Conformance suite of the storage interface (storage/index.ts), against real LevelDB stores in temp dirs.
import { crc32 } from 'node:zlib';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { MariadbGtidPosition } from '../../../protocol/gtid/mariadb.js';
import { MysqlGtidSet, type MysqlGtid } from '../../../protocol/gtid/mysql.js';
import {
  FORMAT_VERSION,
  migrate,
  openStore as openStoreWithOptions,
  splitEvents,
  StorageError,
  unpackUnit,
  type AppendUnit,
  type BinlogStore,
  type ReadItem,
  type StoredUnit,
  type StoreOptions,
} from '../../../storage/index.js';
import { checkpointKey, decodeLogKey, fileKey, formatKey, logKey, SUB_CHECKPOINT } from '../../../storage/keys.js';
import { mergeSmallSegments } from '../../../storage/reader.js';
import { SegmentFiles } from '../../../storage/segment-files.js';
import { encodeFormat, encodePointer } from '../../../storage/records.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { prng } from '../../helpers/prng.js';
import { procStatusBytes } from '../../../src/memory.js';

// ---- fixture builders -----------------------------------------------------------------------------------

const UUID_A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const UUID_B = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';


/** One binlog event with a correct v4 header (event_size, log_pos) and a CRC32 trailer. */
function makeEvent(type: number, bodyLen: number, pos: bigint, ts: number, rnd: () => number): Buffer {
  const size = 19 + bodyLen + 4;
  const b = Buffer.allocUnsafe(size);
  b.writeUInt32LE(ts, 0);
  b[4] = type;
  b.writeUInt32LE(1, 5);
  b.writeUInt32LE(size, 9);
  b.writeUInt32LE(Number((pos + BigInt(size)) & 0xffffffffn), 13);
  b.writeUInt16LE(0, 17);
  for (let i = 19; i < size - 4; i++) b[i] = (rnd() * 256) | 0;
  b.writeUInt32LE(crc32(b.subarray(0, size - 4)), size - 4);
  return b;
}

/** Builds a realistic sequence of units (files, FDE, start GTIDs, transactions, ROTATE) and remembers the bytes. */
class LogBuilder {
  file = '';
  pos = 4n;
  ts = 1_700_000_000;
  readonly rnd: () => number;
  /** All appended units, in order. */
  readonly units: AppendUnit[] = [];
  /** Bytes of every file as stored (from its first stored position). */
  readonly fileBytes = new Map<string, Buffer[]>();
  private gno = 0n;
  private mariaSeq: bigint;

  constructor(
    readonly flavor: 'mysql' | 'mariadb',
    seed = 1,
    mariaSeqStart = 0n,
  ) {
    this.rnd = prng(seed);
    this.mariaSeq = mariaSeqStart;
  }

  private push(u: AppendUnit): AppendUnit {
    this.units.push(u);
    let list = this.fileBytes.get(u.file);
    if (list === undefined) this.fileBytes.set(u.file, (list = []));
    list.push(...u.events);
    this.pos = u.pos + BigInt(u.events.reduce((a, e) => a + e.length, 0));
    return u;
  }

  private event(type: number, bodyLen: number, at: bigint): Buffer {
    return makeEvent(type, bodyLen, at, this.ts, this.rnd);
  }

  /** FDE unit opening `file` (at pos 4, or `startPos` for a mid-file start). */
  startFile(file: string, startGtids?: string, startPos = 4n): AppendUnit {
    this.file = file;
    const fde = this.event(15, 96, startPos);
    return this.push({
      file,
      pos: startPos,
      events: [fde],
      kind: 'control',
      timestamp: this.ts,
      newFile: startGtids === undefined ? { fde } : { fde, startGtids },
    });
  }

  /** PREVIOUS_GTIDS / GTID_LIST control unit carrying the file's start GTIDs. */
  startGtids(text: string): AppendUnit {
    return this.push({
      file: this.file,
      pos: this.pos,
      events: [this.event(this.flavor === 'mysql' ? 35 : 163, 40, this.pos)],
      kind: 'control',
      timestamp: this.ts,
      fileStartGtids: text,
    });
  }

  /** A transaction of `n` events (GTID, then row events, then XID), sizes around `avg`. */
  trx(opts: { n?: number; avg?: number; uuid?: string; domain?: number; anonymous?: boolean; tsStep?: number } = {}): AppendUnit {
    const n = opts.n ?? 4;
    const avg = opts.avg ?? 200;
    this.ts += opts.tsStep ?? 0;
    const events: Buffer[] = [];
    let at = this.pos;
    for (let i = 0; i < n; i++) {
      const type = i === 0 ? (this.flavor === 'mysql' ? 33 : 162) : i === n - 1 ? 16 : 30;
      const len = Math.max(8, Math.round(avg / 2 + this.rnd() * avg) - 23);
      const e = this.event(type, len, at);
      events.push(e);
      at += BigInt(e.length);
    }
    let gtid: AppendUnit['gtid'] = null;
    if (!opts.anonymous) {
      if (this.flavor === 'mysql') gtid = { uuid: opts.uuid ?? UUID_A, tag: '', gno: ++this.gno };
      else gtid = { domainId: opts.domain ?? 0, serverId: 1, seqNo: ++this.mariaSeq };
    }
    return this.push({ file: this.file, pos: this.pos, events, kind: 'transaction', gtid, timestamp: this.ts });
  }

  /** The real ROTATE at the end of the file. */
  rotate(next: string): AppendUnit {
    return this.push({ file: this.file, pos: this.pos, events: [this.event(4, 8 + next.length, this.pos)], kind: 'control', timestamp: this.ts });
  }

  /** Forgets the last unit (one that the store refused). */
  unpush(): AppendUnit {
    const u = this.units.pop()!;
    this.fileBytes.get(u.file)!.splice(-u.events.length, u.events.length);
    this.pos = u.pos;
    return u;
  }

  bytesOf(file: string): Buffer {
    return Buffer.concat(this.fileBytes.get(file) ?? []);
  }

  /** Every event of the log in order, with its file and position. */
  allEvents(): Array<{ file: string; pos: bigint; bytes: Buffer; unit: number }> {
    const out: Array<{ file: string; pos: bigint; bytes: Buffer; unit: number }> = [];
    this.units.forEach((u, i) => {
      let p = u.pos;
      for (const e of u.events) {
        out.push({ file: u.file, pos: p, bytes: e, unit: i + 1 });
        p += BigInt(e.length);
      }
    });
    return out;
  }
}

async function appendAll(store: BinlogStore, units: AppendUnit[]): Promise<void> {
  for (const u of units) await store.append(u);
}

/**
 * Reads everything from `from` to the current end (follow: false). Reads it a second time with a packed
 * reader and checks that its runs expand to exactly the same units, and hold only whole transactions.
 */
async function readAll(store: BinlogStore, from: Parameters<BinlogStore['openReader']>[0]['from'] = 'oldest'): Promise<StoredUnit[]> {
  const reader = await store.openReader({ from, follow: false });
  const out: StoredUnit[] = [];
  for await (const batch of reader) out.push(...batch);
  const expanded: StoredUnit[] = [];
  for await (const batch of await store.openReader({ from, follow: false, packed: true })) {
    for (const item of batch) {
      if (!('packed' in item)) {
        expanded.push(item);
        continue;
      }
      expect(item.records.length).toBeGreaterThan(0);
      for (let i = 0; i < item.records.length; i++) {
        const u = unpackUnit(item, i);
        expect([u.seq, u.kind, u.chunk, u.lastChunk, u.pos, u.file]).toEqual([item.firstSeq + i, 'transaction', 0, true, u.unitPos, item.file]);
        expanded.push(u);
      }
    }
  }
  expect(expanded).toEqual(out);
  return out;
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<StorageError> {
  let caught: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(StorageError);
  expect((caught as StorageError).code).toBe(code);
  return caught as StorageError;
}

/** This process's anonymous resident memory (RssAnon, Linux), bytes. */
function anonRss(): number {
  const bytes = procStatusBytes(readFileSync('/proc/self/status', 'utf8'), 'RssAnon');
  if (bytes === null) throw new Error('no RssAnon in /proc/self/status');
  return bytes;
}

/** Bytes of the files in `dir` and its subdirectories (the store's segment files). */
async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    // LevelDB may delete a file (an old log or table) between readdir and stat.
    total += e.isDirectory() ? await dirSize(p) : (await stat(p).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

// ---- the suite ------------------------------------------------------------------------------------------

/** bin.000001 with `trxs` two-event transactions of ~1 KB, one LevelDB batch (flush) every `flushEvery`. */
async function appendFlushing(store: BinlogStore, seed: number, trxs: number, flushEvery: number): Promise<LogBuilder> {
  const b = new LogBuilder('mysql', seed);
  await store.append(b.startFile('bin.000001', ''));
  for (let i = 0; i < trxs; i++) {
    await store.append(b.trx({ n: 2, avg: 1000 }));
    if (i % flushEvery === flushEvery - 1) await store.flush();
  }
  await store.flush();
  return b;
}

/**
 * The suite runs twice: with the default options, where groups of a catch-up (1 MiB and more) write their
 * segments to the segment files, and with every group doing so (externalGroupBytes 1), so that every read
 * path, the recovery, purges and damage checks see pointers too. A test's own options win.
 */
let suiteDefaults: StoreOptions = {};
function openStore(dir: string, opts: StoreOptions = {}): Promise<BinlogStore> {
  return openStoreWithOptions(dir, { ...suiteDefaults, ...opts });
}

for (const mode of ['default options', 'every group in segment files'] as const)
describe(`storage conformance (${mode})`, () => {
  beforeAll(() => {
    suiteDefaults = mode === 'default options' ? {} : { externalGroupBytes: 1 };
  });
  let dir: string;
  const open: BinlogStore[] = [];

  async function mk(opts: StoreOptions = { flavor: 'mysql' }, sub = 'db'): Promise<BinlogStore> {
    const s = await openStore(path.join(dir, sub), opts);
    open.push(s);
    return s;
  }

  beforeEach(async () => {
    dir = await makeTempDir('bp-store-');
  });

  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    await removeTempDir(dir);
  });

  describe('append and read back', () => {
    it('stores units byte for byte with their coordinates and state', async () => {
      const store = await mk();
      const b = new LogBuilder('mysql', 7);
      b.startFile('bin.000001', '');
      b.startGtids(`${UUID_B}:1-10`);
      for (let i = 0; i < 300; i++) b.trx({ n: 1 + (i % 6), avg: 100 + (i % 5) * 150, tsStep: i % 3 });
      b.rotate('bin.000002');
      b.startFile('bin.000002');
      b.startGtids(`${UUID_A}:1-300,${UUID_B}:1-10`);
      for (let i = 0; i < 50; i++) b.trx();
      await appendAll(store, b.units);
      await store.flush();

      const st = store.getState();
      expect(st.lastSeq).toBe(b.units.length);
      expect(st.durableSeq).toBe(b.units.length);
      expect(st.firstSeq).toBe(1);
      expect(st.lastFile).toBe('bin.000002');
      expect(st.lastPos).toBe(b.pos);
      expect(st.executedGtids).toBe(`${UUID_A}:1-350,${UUID_B}:1-10`);
      expect(st.purgedGtids).toBe(`${UUID_B}:1-10`);

      const units = await readAll(store);
      expect(units.map((u) => u.seq)).toEqual(b.units.map((_, i) => i + 1));
      units.forEach((u, i) => {
        const src = b.units[i]!;
        expect(u.file).toBe(src.file);
        expect(u.pos).toBe(src.pos);
        expect(u.unitPos).toBe(src.pos);
        expect(u.kind).toBe(src.kind);
        expect(u.gtid).toEqual(src.gtid ?? null);
        expect(u.timestamp).toBe(src.timestamp);
        expect(u.chunk).toBe(0);
        expect(u.lastChunk).toBe(true);
        expect(u.data.equals(Buffer.concat(src.events))).toBe(true);
        expect(u.endPos).toBe(src.pos + BigInt(u.data.length));
        expect(splitEvents(u.data).map((e) => e.toString('hex'))).toEqual(src.events.map((e) => e.toString('hex')));
      });
    });

    it('copies the events at append time, and reused write memory never corrupts stored units', async () => {
      const store = await mk({ flavor: 'mysql', groupCommitBytes: 16 << 10, segmentBytes: 4096 });
      const b = new LogBuilder('mysql', 13);
      await store.append(b.startFile('bin.000001'));
      const want: string[] = [Buffer.concat(b.units[0]!.events).toString('hex')];
      for (let i = 0; i < 3000; i++) {
        const u = b.trx({ n: 1 + (i % 5), avg: 150 + (i % 7) * 60 });
        want.push(Buffer.concat(u.events).toString('hex'));
        await store.append(u);
        for (const e of u.events) e.fill(0xee); // the caller reuses its buffers
        if (i % 200 === 0) await store.flush(); // many groups, so slabs go round the pool
      }
      await store.flush();
      const units = await readAll(store);
      expect(units.length).toBe(want.length);
      units.forEach((u, i) => expect(u.data.toString('hex')).toBe(want[i]));
    });

    it('lists the files with their coordinates, FDE and GTID range', async () => {
      const store = await mk();
      const b = new LogBuilder('mysql');
      const fde1 = b.startFile('bin.000007', undefined, 4n).events[0]!;
      b.startGtids(`${UUID_B}:1-5`);
      b.trx();
      b.trx({ tsStep: 10 });
      b.rotate('bin.000008');
      const end1 = b.pos;
      b.startFile('bin.000008');
      b.startGtids(`${UUID_A}:1-2,${UUID_B}:1-5`);
      b.trx({ tsStep: 5 });
      await appendAll(store, b.units);
      await store.flush();
      const files = store.listFiles();
      expect(files.map((f) => f.name)).toEqual(['bin.000007', 'bin.000008']);
      const [f1, f2] = files as [(typeof files)[0], (typeof files)[0]];
      expect(f1.fde.equals(fde1)).toBe(true);
      expect(f1.firstPos).toBe(4n);
      expect(f1.endPos).toBe(end1);
      expect(f1.storedBytes).toBe(end1 - 4n);
      expect(f1.firstSeq).toBe(1);
      expect(f1.lastSeq).toBe(5);
      expect(f1.active).toBe(false);
      expect(f1.startGtids).toBe(`${UUID_B}:1-5`);
      expect(f1.gtidsAtStart).toBe(`${UUID_B}:1-5`);
      expect(f1.gtidsAtEnd).toBe(`${UUID_A}:1-2,${UUID_B}:1-5`);
      expect(f1.firstTimestamp).toBe(1_700_000_000);
      expect(f1.lastTimestamp).toBe(1_700_000_010);
      expect(f2.active).toBe(true);
      expect(f2.gtidsAtEnd).toBeNull();
      expect(f2.firstSeq).toBe(6);
      expect(f2.lastSeq).toBe(8);
      expect(f2.endPos).toBe(b.pos);
      expect(f2.lastTimestamp).toBe(1_700_000_015);
      expect(store.getFile('bin.000008')?.fileNo).toBe(f2.fileNo);
      expect(store.getFile('nope')).toBeUndefined();
    });

    it('starts mid-file when the first unit is not at position 4', async () => {
      const store = await mk();
      const b = new LogBuilder('mysql');
      b.startFile('bin.000042', `${UUID_A}:1-99`, 123456n);
      b.trx({ uuid: UUID_B });
      await appendAll(store, b.units);
      await store.flush();
      expect(store.listFiles()[0]!.firstPos).toBe(123456n);
      expect(store.getState().executedGtids).toBe(`${UUID_A}:1-99,${UUID_B}:1`);
      expect(store.getState().purgedGtids).toBe(`${UUID_A}:1-99`);
      await expectCode(store.locate({ file: 'bin.000042', pos: 4n }), 'ERR_STORAGE_POSITION');
      const loc = await store.locate({ file: 'bin.000042', pos: 123456n });
      expect(loc.seq).toBe(1);
    });
  });

  describe('validation', () => {
    it('refuses units that do not continue the log and leaves the state unchanged', async () => {
      const store = await mk();
      const b = new LogBuilder('mysql');
      const orphan = b.trx();
      await expectCode(store.append(orphan), 'ERR_STORAGE_APPEND'); // no file yet
      b.unpush();
      const first = b.startFile('bin.000001');
      await store.append(first);
      const before = store.getState();
      const next = b.trx();
      await expectCode(store.append({ ...next, pos: next.pos + 1n }), 'ERR_STORAGE_APPEND');
      await expectCode(store.append({ ...next, file: 'bin.000002' }), 'ERR_STORAGE_APPEND');
      await expectCode(store.append({ ...next, events: [] }), 'ERR_STORAGE_APPEND');
      const broken = Buffer.from(next.events[0]!);
      broken.writeUInt32LE(broken.length + 1, 9);
      await expectCode(store.append({ ...next, events: [broken] }), 'ERR_STORAGE_APPEND');
      await expectCode(store.append({ ...next, events: [Buffer.alloc(10)] }), 'ERR_STORAGE_APPEND');
      await expectCode(store.append({ ...next, kind: 'control' }), 'ERR_STORAGE_APPEND'); // control with a GTID
      await expectCode(store.append({ ...next, gtid: { uuid: 'not-a-uuid', tag: '', gno: 1n } }), 'ERR_STORAGE_APPEND');
      await expectCode(store.append({ ...next, gtid: { uuid: UUID_A, tag: '', gno: 0n } }), 'ERR_STORAGE_APPEND');
      await expectCode(store.append({ ...next, newFile: { fde: first.events[0]! }, file: 'bin.000001' }), 'ERR_STORAGE_APPEND'); // duplicate file
      await expectCode(store.append({ ...next, fileStartGtids: 'garbage' }), 'ERR_STORAGE_APPEND');
      expect(store.getState()).toEqual(before);
      await store.append(next);
      expect(store.getState().lastSeq).toBe(before.lastSeq + 1);
    });

    it('fixes the flavour at open and refuses a mismatch', async () => {
      const store = await mk({ flavor: 'mysql' });
      const b = new LogBuilder('mysql');
      await store.append(b.startFile('bin.000001'));
      const t = b.trx();
      await expectCode(store.append({ ...t, gtid: { domainId: 0, serverId: 1, seqNo: 1n } }), 'ERR_STORAGE_FLAVOR');
      await store.close();
      await expectCode(openStore(path.join(dir, 'db'), { flavor: 'mariadb' }), 'ERR_STORAGE_FLAVOR');
      const again = await mk({});
      expect(again.getState().flavor).toBe('mysql');
    });

    it('needs a flavour before the first append', async () => {
      const store = await mk({});
      expect(store.getState().flavor).toBeNull();
      await expectCode(store.append(new LogBuilder('mysql').startFile('bin.000001')), 'ERR_STORAGE_FLAVOR');
      await store.close();
      const fixed = await mk({ flavor: 'mariadb' });
      expect(fixed.getState().flavor).toBe('mariadb');
    });
  });

  describe('look-ups', () => {
    let store: BinlogStore;
    let b: LogBuilder;

    beforeEach(async () => {
      store = await mk({ flavor: 'mysql', segmentBytes: 4096 });
      b = new LogBuilder('mysql', 3);
      b.startFile('bin.000001', '');
      b.startGtids('');
      for (let i = 0; i < 60; i++) b.trx({ n: 1 + (i % 5), tsStep: i % 4 === 0 ? 1 : 0 });
      b.rotate('bin.000002');
      b.startFile('bin.000002');
      b.startGtids(`${UUID_A}:1-60`);
      for (let i = 0; i < 40; i++) b.trx({ n: 3, uuid: i % 2 === 0 ? UUID_A : UUID_B, tsStep: 1 });
      await appendAll(store, b.units);
      await store.flush();
    });

    it('by sequence', async () => {
      for (let seq = 1; seq <= b.units.length; seq++) {
        const loc = await store.locate({ seq });
        expect(loc).toMatchObject({ seq, chunk: 0, skip: 0, file: b.units[seq - 1]!.file, pos: b.units[seq - 1]!.pos });
      }
      const end = await store.locate({ seq: b.units.length + 1 });
      expect(end).toMatchObject({ seq: b.units.length + 1, file: 'bin.000002', pos: b.pos });
      await expectCode(store.locate({ seq: b.units.length + 2 }), 'ERR_STORAGE_POSITION');
      await expectCode(store.locate({ seq: 0 }), 'ERR_STORAGE_ARGUMENT');
    });

    it('by file and position at every event boundary, and the reader resumes there byte for byte', async () => {
      const events = b.allEvents();
      for (const [i, e] of events.entries()) {
        const loc = await store.locate({ file: e.file, pos: e.pos });
        expect(loc.seq).toBe(e.unit);
        expect(loc.pos).toBe(e.pos);
        if (i % 7 === 0) {
          const units = await readAll(store, { file: e.file, pos: e.pos });
          const got = Buffer.concat(units.map((u) => u.data));
          const want = Buffer.concat(events.slice(i).map((x) => x.bytes));
          expect(got.equals(want)).toBe(true);
          expect(units[0]!.pos).toBe(e.pos);
          expect(units[0]!.seq).toBe(e.unit);
        }
      }
      // the end of each file
      const f1 = store.getFile('bin.000001')!;
      expect((await store.locate({ file: 'bin.000001', pos: f1.endPos })).seq).toBe(f1.lastSeq + 1);
      expect((await store.locate({ file: 'bin.000002', pos: b.pos })).seq).toBe(b.units.length + 1);
    });

    it('rejects positions inside events, outside the file, and unknown files', async () => {
      const e = b.allEvents()[10]!;
      const err = await expectCode(store.locate({ file: e.file, pos: e.pos + 1n }), 'ERR_STORAGE_POSITION');
      expect(err.message).toContain('inside an event');
      await expectCode(store.locate({ file: 'bin.000001', pos: 3n }), 'ERR_STORAGE_POSITION');
      await expectCode(store.locate({ file: 'bin.000002', pos: b.pos + 1n }), 'ERR_STORAGE_POSITION');
      await expectCode(store.locate({ file: 'bin.000009', pos: 4n }), 'ERR_STORAGE_NOT_FOUND');
      await expectCode(store.openReader({ from: { file: 'bin.000009', pos: 4n } }), 'ERR_STORAGE_NOT_FOUND');
    });

    it('by MySQL GTID set: the file to start from and the first transaction not contained', async () => {
      // Everything of file 1 executed: start at file 2.
      let loc = await store.locate({ gtids: `${UUID_A}:1-60` });
      expect(loc).toMatchObject({ file: 'bin.000002', pos: 4n, seq: 64 }); // 63 units in file 1
      // Only part of file 1: start at file 1.
      loc = await store.locate({ gtids: MysqlGtidSet.parse(`${UUID_A}:1-30`) });
      expect(loc).toMatchObject({ file: 'bin.000001', seq: 1 });
      const first = await store.findFirstNotContained(`${UUID_A}:1-30`);
      const unit31 = b.units.findIndex((u) => (u.gtid as MysqlGtid | null)?.gno === 31n);
      expect(first).toMatchObject({ seq: unit31 + 1, file: 'bin.000001', pos: b.units[unit31]!.pos });
      // Everything contained: the end of the log. (File 2 alternates UUID_A and UUID_B over gnos 61-100.)
      const all = await store.findFirstNotContained(`${UUID_A}:1-100,${UUID_B}:61-100`);
      expect(all.seq).toBe(b.units.length + 1);
      // A hole in the middle of file 2 (UUID_B's gno 62 missing).
      const hole = await store.findFirstNotContained(`${UUID_A}:1-100,${UUID_B}:61,${UUID_B}:63-100`);
      const u62 = b.units.findIndex((u) => (u.gtid as MysqlGtid | null)?.gno === 62n);
      expect(hole.seq).toBe(u62 + 1);
      // The wrong flavour.
      await expectCode(store.locate({ gtids: MariadbGtidPosition.parse('0-1-5') }), 'ERR_STORAGE_FLAVOR');
      await expectCode(store.locate({ gtids: 'zzz' }), 'ERR_STORAGE_ARGUMENT');
    });

    it('by timestamp: the first unit whose timestamp is at or after it', async () => {
      for (let i = 0; i < b.units.length; i += 3) {
        const t = b.units[i]!.timestamp;
        const want = b.units.findIndex((u) => u.timestamp >= t) + 1;
        expect((await store.locate({ timestamp: t })).seq).toBe(want);
      }
      expect((await store.locate({ timestamp: 0 })).seq).toBe(1);
      expect((await store.locate({ timestamp: 2_000_000_000 })).seq).toBe(b.units.length + 1);
    });
  });

  it('MariaDB: GTID positions per domain, GTID_LIST start state, look-ups', async () => {
    const store = await mk({ flavor: 'mariadb' });
    const b = new LogBuilder('mariadb', 5, 100n);
    b.startFile('mariadb-bin.000001', '0-1-100');
    b.startGtids('0-2-90,0-1-100'); // a GTID_LIST: the most recent GTID of a domain comes last
    for (let i = 0; i < 20; i++) b.trx({ domain: i % 2 }); // domain 0: 101,103..119; domain 1: 102..120
    b.rotate('mariadb-bin.000002');
    b.startFile('mariadb-bin.000002', '0-1-119,1-1-120');
    for (let i = 0; i < 10; i++) b.trx({ domain: 0 }); // 121..130
    await appendAll(store, b.units);
    await store.flush();
    const st = store.getState();
    expect(st.executedGtids).toBe('0-1-130,1-1-120');
    expect(st.purgedGtids).toBe('0-1-100');
    const files = store.listFiles();
    expect(files[0]!.gtidsAtEnd).toBe('0-1-119,1-1-120');
    expect(files[1]!.gtidsAtStart).toBe('0-1-119,1-1-120');
    // A replica at 0-1-119,1-1-120 starts in the newest file; one lacking domain 1 starts in the first.
    expect((await store.locate({ gtids: '0-1-119,1-1-120' })).file).toBe('mariadb-bin.000002');
    expect((await store.locate({ gtids: MariadbGtidPosition.parse('0-1-125,1-1-120') })).file).toBe('mariadb-bin.000002');
    expect((await store.locate({ gtids: MariadbGtidPosition.parse('0-1-100') })).file).toBe('mariadb-bin.000001');
    await expectCode(store.locate({ gtids: '0-1-5' }), 'ERR_STORAGE_PURGED');
    await expectCode(store.locate({ gtids: MysqlGtidSet.parse(`${UUID_A}:1`) }), 'ERR_STORAGE_FLAVOR');
    // Domain 0 contained up to 119, domain 1 up to 108: the first not contained is domain 1's 110.
    const first = await store.findFirstNotContained('0-1-119,1-1-108');
    const want = b.units.findIndex((u) => u.gtid != null && 'domainId' in u.gtid && u.gtid.domainId === 1 && u.gtid.seqNo === 110n);
    expect(want).toBeGreaterThan(0);
    expect(first.seq).toBe(want + 1);
    expect((await store.findFirstNotContained('0-1-200,1-1-200')).seq).toBe(b.units.length + 1);
  });

  describe('readers', () => {
    it('keeps at most 64 LevelDB tables memory-mapped after a full read, unless maxOpenFiles says otherwise', { timeout: 60_000 }, async () => {
      /** Distinct table files of `sub` mapped into this process. */
      const mappedTables = (sub: string): number => {
        const prefix = path.join(dir, sub) + '/';
        const files = new Set<string>();
        for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
          const at = line.indexOf(prefix);
          if (at >= 0 && line.endsWith('.ldb')) files.add(line.slice(at));
        }
        return files.size;
      };
      // Small memtables, and a flush (one LevelDB batch) every ~80 KiB: a table per flush, ~125 in all.
      const counts: Record<string, { tables: number; mapped: number }> = {};
      for (const [sub, maxOpenFiles] of [['bounded', undefined], ['classic', 1000]] as const) {
        // LevelDB's own tables: the segments stay in them (externalGroupBytes 0).
        const store = await mk({ flavor: 'mysql', externalGroupBytes: 0, leveldb: { writeBufferSize: 64 << 10, ...(maxOpenFiles ? { maxOpenFiles } : {}) } }, sub);
        const b = await appendFlushing(store, 11, 5000, 40);
        const read: Buffer[] = [];
        for await (const batch of await store.openReader({ from: 'oldest', follow: false })) for (const u of batch) read.push(u.data);
        expect(read.length).toBe(b.units.length);
        expect(Buffer.concat(read).equals(b.bytesOf('bin.000001'))).toBe(true);
        const tables = (await readdir(path.join(dir, sub))).filter((f) => f.endsWith('.ldb')).length;
        counts[sub] = { tables, mapped: mappedTables(sub) };
      }
      expect(counts.bounded!.tables).toBeGreaterThan(100);
      expect(counts.bounded!.mapped).toBeGreaterThan(0);
      expect(counts.bounded!.mapped).toBeLessThanOrEqual(64);
      // The mechanism the default relies on: with LevelDB's usual table cache every table read stays mapped.
      expect(counts.classic!.mapped).toBeGreaterThan(100);
    });

    it('writes LevelDB tables of about 1 MiB by default (64 mapped tables: ~64 MB of a long history)', { timeout: 60_000 }, async () => {
      const store = await mk({ flavor: 'mysql', externalGroupBytes: 0 }, 'tables');
      // A LevelDB batch every ~200 KB (a memtable is switched before a write, never inside one).
      await appendFlushing(store, 12, 3000, 100);
      const dirOf = path.join(dir, 'tables');
      const sizes = await Promise.all((await readdir(dirOf)).filter((f) => f.endsWith('.ldb')).map(async (f) => (await stat(path.join(dirOf, f))).size));
      // ~6 MB appended: with LevelDB's 4 MiB memtables this was a single table of ~4 MB.
      expect(sizes.length).toBeGreaterThanOrEqual(4);
      expect(Math.max(...sizes)).toBeLessThan(1.3 * (1 << 20));
    });

    it('follows the live tail: a waiting reader gets a new unit within a few ms', async () => {
      const store = await mk();
      const b = new LogBuilder('mysql');
      await store.append(b.startFile('bin.000001'));
      await store.flush();
      const reader = await store.openReader({ from: 'end' });
      for (let i = 0; i < 5; i++) {
        const pending = reader.next();
        await new Promise((r) => setTimeout(r, 20)); // the reader is now waiting on the notification
        const t0 = performance.now();
        const u = b.trx();
        await store.append(u);
        const res = await pending;
        const dt = performance.now() - t0;
        expect(res.done).toBe(false);
        expect(res.value![0]!.data.equals(Buffer.concat(u.events))).toBe(true);
        expect(dt).toBeLessThan(50);
      }
      await reader.return();
      expect(store.readerCount).toBe(0);
    });

    it('return() and the AbortSignal end a reader that is waiting', { timeout: 10_000 }, async () => {
      const store = await mk();
      await store.append(new LogBuilder('mysql').startFile('bin.000001'));
      await store.flush();
      const r1 = await store.openReader({ from: 'end' });
      const waiting = r1.next();
      await new Promise((r) => setTimeout(r, 10));
      await r1.return();
      expect((await waiting).done).toBe(true);

      // return() right after next(), before the reader has reached its wait (regression: it used to hang).
      for (let i = 0; i < 20; i++) {
        const r = await store.openReader({ from: 'end' });
        const pending = r.next();
        if (i % 2 === 0) await Promise.resolve();
        await r.return();
        expect((await pending).done).toBe(true);
      }

      const ac = new AbortController();
      const r2 = await store.openReader({ from: 'end', signal: ac.signal });
      const waiting2 = r2.next();
      setTimeout(() => ac.abort(), 10);
      expect((await waiting2).done).toBe(true);
      expect(store.readerCount).toBe(0);
    });

    it('many concurrent readers (from disk and from the tail cache) see the same complete log', async () => {
      const store = await mk({ flavor: 'mysql', tailCacheBytes: 256 << 10, segmentBytes: 8192 });
      const b = new LogBuilder('mysql', 11);
      await store.append(b.startFile('bin.000001'));
      for (let i = 0; i < 500; i++) await store.append(b.trx({ n: 1 + (i % 4) }));
      await store.flush();
      const total = 2001;
      const readers = await Promise.all([
        store.openReader({ from: 'oldest' }),
        store.openReader({ from: { seq: 250 } }),
        store.openReader({ from: 'end' }),
        store.openReader({ from: 'oldest', batchBytes: 4096 }),
      ]);
      const consume = async (r: (typeof readers)[0]): Promise<StoredUnit[]> => {
        const got: StoredUnit[] = [];
        for await (const batch of r) {
          for (const u of batch) {
            expect(u.lastChunk).toBe(true);
            got.push(u);
          }
          if (got[got.length - 1]!.seq >= total) break;
        }
        return got;
      };
      const consumers = readers.map(consume);
      for (let i = 500; i < 2000; i++) {
        await store.append(b.trx({ n: 1 + (i % 4) }));
        if (i % 100 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      const results = await Promise.all(consumers);
      const expected = (from: number): string => Buffer.concat(b.units.slice(from - 1).flatMap((u) => u.events)).toString('hex');
      expect(results[0]!.map((u) => u.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect(Buffer.concat(results[0]!.map((u) => u.data)).toString('hex')).toBe(expected(1));
      expect(Buffer.concat(results[1]!.map((u) => u.data)).toString('hex')).toBe(expected(250));
      expect(results[2]![0]!.seq).toBe(502);
      expect(Buffer.concat(results[2]!.map((u) => u.data)).toString('hex')).toBe(expected(502));
      expect(Buffer.concat(results[3]!.map((u) => u.data)).toString('hex')).toBe(expected(1));
      expect(store.readerCount).toBe(0);
    });
  });

  it('readers at nearby positions share the segments read from disk, and each still gets its exact log', async () => {
    const sdir = path.join(dir, 'shared');
    let store = await openStore(sdir, { flavor: 'mysql', segmentBytes: 4096, tailCacheBytes: 0 });
    const b = new LogBuilder('mysql', 12);
    await store.append(b.startFile('bin.000001'));
    for (let i = 0; i < 3000; i++) await store.append(b.trx({ n: 1 + (i % 5) }));
    await store.append(b.rotate('bin.000002'));
    await store.append(b.startFile('bin.000002'));
    for (let i = 0; i < 500; i++) await store.append(b.trx({ n: 2 }));
    await store.close();
    const events = b.allEvents();
    const want = (i: number): Buffer => Buffer.concat(events.slice(i).map((e) => e.bytes));
    const starts = [0, 0, 1, 7, 120, 121, 2000, events.length - 3];
    const readAllOf = async (s: BinlogStore, cache: boolean): Promise<void> => {
      const runs = starts.flatMap((start, k) => [false, true].map(async (packed) => {
        const e = events[start]!;
        const opts = { from: { file: e.file, pos: e.pos }, follow: false, batchBytes: 1024 + k * 3000 };
        const reader: AsyncIterable<ReadItem[]> = packed ? await s.openReader({ ...opts, packed: true }) : await s.openReader(opts);
        const parts: Buffer[] = [];
        for await (const batch of reader) {
          for (const item of batch) {
            if ('packed' in item) for (let i = 0; i < item.records.length; i++) parts.push(unpackUnit(item, i).data);
            else parts.push(item.data);
          }
        }
        expect(Buffer.concat(parts).equals(want(start)), `start ${start} packed ${packed} cache ${cache}`).toBe(true);
      }));
      await Promise.all(runs);
    };
    let reads = 0;
    for (const readCacheBytes of [0, 64 << 10, 16 << 20]) {
      let evicted = 0;
      store = await openStore(sdir, { readCacheBytes, tailCacheBytes: 0, onReadCacheEvict: (bytes) => (evicted += bytes) });
      // Bytes of segments the readers take from disk: every batch a reader takes from LevelDB goes through the
      // segment files' resolve (which reads what pointers name and passes inline segments on).
      const segs = (store as unknown as { segs: SegmentFiles }).segs;
      const resolve = segs.resolve.bind(segs);
      let n = 0;
      segs.resolve = async (entries) => {
        const out = await resolve(entries);
        for (const [, v] of out) n += v.length;
        return out;
      };
      try {
        await readAllOf(store, readCacheBytes > 0);
      } finally {
        await store.close();
      }
      if (readCacheBytes === 0) reads = n;
      else expect(n, `bytes read from disk with a ${readCacheBytes}-byte cache vs none`).toBeLessThan(reads);
      // The host hears of the segments the cache lets go (the history is a few MB: the big cache keeps it all).
      if (readCacheBytes === 64 << 10) expect(evicted).toBeGreaterThan(256 << 10);
      else expect(evicted).toBe(0);
    }
  });

  describe('small segments (history written live, one group commit at a time)', () => {
    /** One unit per group commit, a chunked unit at 300 and a new file at 500: what a live ingest stores. */
    async function liveHistory(store: BinlogStore, b: LogBuilder): Promise<void> {
      await store.append(b.startFile('bin.000001'));
      for (let i = 1; i < 700; i++) {
        if (i === 300) await store.append(b.trx({ n: 40, avg: 600 }));
        else if (i === 500) {
          await store.append(b.rotate('bin.000002'));
          await store.append(b.startFile('bin.000002'));
        } else await store.append(b.trx({ n: 2 }));
        await store.flush();
      }
    }
    type Entries = Array<[Buffer, Buffer]>;
    /** The log's entries as LevelDB holds them, pointers replaced by the segments they name. */
    async function rawEntries(store: BinlogStore): Promise<Entries> {
      const { db, segs } = store as unknown as { db: ClassicLevel<Buffer, Buffer>; segs: SegmentFiles };
      const it = db.iterator({ gte: logKey(0, 0), lt: logKey(Number.MAX_SAFE_INTEGER, 0) });
      try {
        return await segs.resolve((await it.all()) as Entries);
      } finally {
        await it.close();
      }
    }

    it('a reader merges them into few runs and yields exactly the stored units, from any start', async () => {
      const store = await mk({ flavor: 'mysql', chunkBytes: 4096 });
      const b = new LogBuilder('mysql', 31);
      await liveHistory(store, b);
      const segments = (await rawEntries(store)).filter(([k]) => decodeLogKey(k).sub !== SUB_CHECKPOINT).length;
      expect(segments).toBeGreaterThan(700);
      let runs = 0;
      for await (const batch of await store.openReader({ from: 'oldest', follow: false, packed: true })) runs += batch.filter((x) => 'packed' in x).length;
      expect(runs).toBeGreaterThan(2);
      expect(runs).toBeLessThan(20); // one per segment before merging: ~700
      const units = await readAll(store); // checks the packed reader's runs against the plain reader
      expect(units.filter((u) => u.lastChunk).map((u) => u.seq)).toEqual(b.units.map((_, i) => i + 1));
      expect(Buffer.concat(units.map((u) => u.data)).equals(Buffer.concat(b.units.flatMap((u) => u.events)))).toBe(true);
      for (const seq of [2, 57, 255, 256, 257, 300, 301, 502, 699]) {
        const rest = await readAll(store, { seq });
        expect(rest[0]!.seq).toBe(seq);
        expect(Buffer.concat(rest.map((u) => u.data)).equals(Buffer.concat(b.units.slice(seq - 1).flatMap((u) => u.events)))).toBe(true);
      }
    });

    it('merged runs are whole segments in order, never cross a multiple of 256 units, and are cut the same whatever the first entry', async () => {
      const store = await mk({ flavor: 'mysql', chunkBytes: 4096 });
      const b = new LogBuilder('mysql', 32);
      await liveHistory(store, b);
      const entries = await rawEntries(store);
      const merged = mergeSmallSegments(entries);
      expect(merged.length).toBeLessThan(entries.length / 10);
      const keys = new Set(entries.map(([k]) => k.toString('hex')));
      for (const [k] of merged) expect(keys.has(k.toString('hex'))).toBe(true);
      // The same records, in the same order.
      const records = (es: Entries): string => Buffer.concat(es.filter(([k]) => decodeLogKey(k).sub !== SUB_CHECKPOINT).map(([, v]) => v.subarray(1))).toString('hex');
      expect(records(merged)).toBe(records(entries));
      // A run holds units of one span of 256 (every segment here holds one unit).
      const seqs = merged.map(([k]) => decodeLogKey(k)).filter((k) => k.sub === 0);
      for (let i = 0; i + 1 < seqs.length; i++) {
        expect(Math.floor((seqs[i + 1]!.seq - 1) / 256), `run at ${seqs[i]!.seq}`).toBe(Math.floor(seqs[i]!.seq / 256));
      }
      const cuts = (es: Entries): string[] => es.map(([k, v]) => `${k.toString('hex')}:${v.length}`);
      for (const from of [1, 3, 100, 258, 400]) {
        const part = mergeSmallSegments(entries.slice(from));
        const firstSpan = Math.ceil((decodeLogKey(entries[from]![0]).seq + 1) / 256) * 256;
        const after = (es: Entries): string[] => cuts(es.filter(([k]) => decodeLogKey(k).seq >= firstSpan));
        expect(after(part), `from entry ${from}`).toEqual(after(merged));
      }
      // The chunks of unit 301 are passed on as they are, chunk 0 too although it is small.
      const chunks = (es: Entries): Entries => es.filter(([k]) => decodeLogKey(k).seq === 301);
      expect(chunks(entries).length).toBeGreaterThan(3);
      expect(chunks(entries)[0]![1].length).toBeLessThan(16 << 10);
      expect(chunks(merged)).toEqual(chunks(entries));
    });
  });

  describe('durability', () => {
    it("'fsync' resolves each append once it is durable", async () => {
      const store = await mk({ flavor: 'mysql', durability: 'fsync' });
      const b = new LogBuilder('mysql');
      const r = await store.append(b.startFile('bin.000001'));
      expect(store.durableSeq).toBe(r.seq);
      for (let i = 0; i < 10; i++) {
        const x = await store.append(b.trx());
        expect(store.getState().durableSeq).toBe(x.seq);
      }
    });

    it("'group' batches appends, and waitDurable writes at once", async () => {
      const store = await mk({ flavor: 'mysql', groupCommitDelayMs: 10_000 });
      const b = new LogBuilder('mysql');
      await store.append(b.startFile('bin.000001'));
      let last = 0;
      for (let i = 0; i < 20; i++) last = (await store.append(b.trx())).seq;
      expect(store.durableSeq).toBe(0); // nothing written yet: the delay is long and the group small
      const t0 = performance.now();
      await store.waitDurable(last);
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(store.durableSeq).toBe(last);
      expect(store.getState().lastSeq).toBe(last);
      await expectCode(store.waitDurable(last + 5), 'ERR_STORAGE_ARGUMENT');
    });

    it("'group' with a delay of 0 writes an idle group after the current I/O callbacks, not after a timer", async () => {
      // The daemon's default (storage.groupCommitDelay 0ms). setTimeout(fn, 0) waits 1 ms, which every live
      // commit paid on its way to the replicas. With setTimeout faked, such a store would never write.
      const store = await mk({ flavor: 'mysql', groupCommitDelayMs: 0 });
      const b = new LogBuilder('mysql');
      await store.append(b.startFile('bin.000001'));
      await store.flush();
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      try {
        let last = 0;
        for (let i = 0; i < 5; i++) last = (await store.append(b.trx())).seq;
        const deadline = performance.now() + 10_000;
        while (store.durableSeq < last && performance.now() < deadline) await new Promise<void>((resolve) => setImmediate(resolve));
        expect(store.durableSeq).toBe(last);
        expect(vi.getTimerCount()).toBe(0);
      } finally {
        vi.useRealTimers();
      }
    });

    it('reports the duration of every synced group write (onGroupWrite), once per group', async () => {
      const writes: number[] = [];
      const store = await mk({ flavor: 'mysql', groupCommitDelayMs: 10_000, onGroupWrite: (s) => writes.push(s) });
      const b = new LogBuilder('mysql');
      await store.append(b.startFile('bin.000001'));
      for (let i = 0; i < 20; i++) await store.append(b.trx());
      expect(writes).toHaveLength(0); // one group waiting for the delay: nothing written yet
      const t0 = performance.now();
      await store.flush();
      const elapsed = (performance.now() - t0) / 1000;
      expect(writes).toHaveLength(1);
      expect(writes[0]!).toBeGreaterThan(0);
      expect(writes[0]!).toBeLessThanOrEqual(elapsed);
      await store.append(b.trx());
      await store.flush();
      expect(writes).toHaveLength(2);
    });

    it('readers see only durable units', async () => {
      const store = await mk({ flavor: 'mysql', groupCommitDelayMs: 10_000 });
      const b = new LogBuilder('mysql');
      await store.append(b.startFile('bin.000001'));
      await store.flush();
      await store.append(b.trx());
      expect(await readAll(store)).toHaveLength(1);
      expect(store.listFiles()[0]!.lastSeq).toBe(1);
      await store.flush();
      expect(await readAll(store)).toHaveLength(2);
    });
  });

  describe('large transactions', () => {
    it('a unit larger than chunkBytes given to append() is stored as chunks, positions inside resolve', async () => {
      const store = await mk({ flavor: 'mysql', chunkBytes: 4096 });
      const b = new LogBuilder('mysql', 9);
      b.startFile('bin.000001');
      b.trx({ n: 40, avg: 600 });
      b.trx();
      await appendAll(store, b.units);
      await store.flush();
      const units = await readAll(store);
      const big = units.filter((u) => u.seq === 2);
      expect(big.length).toBeGreaterThan(3);
      expect(big.map((u) => u.chunk)).toEqual(big.map((_, i) => i));
      expect(big.map((u) => u.lastChunk)).toEqual(big.map((_, i) => i === big.length - 1));
      expect(Buffer.concat(big.map((u) => u.data)).equals(Buffer.concat(b.units[1]!.events))).toBe(true);
      // every event boundary inside it
      for (const e of b.allEvents().filter((x) => x.unit === 2)) {
        const loc = await store.locate({ file: 'bin.000001', pos: e.pos });
        expect(loc.seq).toBe(2);
        const rest = await readAll(store, { location: loc });
        expect(rest[0]!.pos).toBe(e.pos);
        expect(rest[0]!.data.subarray(0, e.bytes.length).equals(e.bytes)).toBe(true);
      }
    });

    it('a streamed 300 MB transaction keeps memory bounded and is atomic for readers', { timeout: 60_000 }, async () => {
      const store = await mk({ flavor: 'mysql' });
      const b = new LogBuilder('mysql');
      await store.append(b.startFile('bin.000001'));
      await store.flush();
      const tail = await store.openReader({ from: 'end' });
      let tailGot: StoredUnit[] | undefined;
      const tailDone = tail.next().then((r) => {
        tailGot = r.value;
      });

      const MB = 1 << 20;
      const N = 300;
      const pos0 = b.pos;
      const txn = await store.beginTransaction({ file: 'bin.000001', pos: pos0, gtid: { uuid: UUID_A, tag: '', gno: 1n }, timestamp: b.ts });
      // One 1 MiB event body reused with a per-event header: what is stored must still be each event's bytes.
      const body = Buffer.alloc(MB - 23, 0x5a);
      const eventAt = (i: number, at: bigint): Buffer => {
        const e = Buffer.concat([Buffer.alloc(19), body, Buffer.alloc(4)]);
        e.writeUInt32LE(b.ts, 0);
        e[4] = 30;
        e.writeUInt32LE(e.length, 9);
        e.writeUInt32LE(Number((at + BigInt(e.length)) & 0xffffffffn), 13);
        e.writeUInt32LE(i, 19);
        return e;
      };
      // Anonymous memory: LevelDB maps its table files, and the pages of the 300 MB read back are file-backed
      // (page cache the kernel can drop), not memory the store holds.
      const rss0 = anonRss();
      let peak = rss0;
      let at = pos0;
      for (let i = 0; i < N; i++) {
        const e = eventAt(i, at);
        at += BigInt(e.length);
        await txn.write(e);
        if (i % 10 === 0) {
          peak = Math.max(peak, anonRss());
          expect(tailGot).toBeUndefined(); // nothing visible before the commit
        }
      }
      const res = await txn.commit();
      peak = Math.max(peak, anonRss());
      expect(peak - rss0).toBeLessThan(150 * MB);
      await store.waitDurable(res.seq);
      expect(res.endPos).toBe(at);
      await tailDone;
      expect(tailGot![0]!.seq).toBe(2);
      expect(tailGot![0]!.chunk).toBe(0);
      await tail.return();

      // Read it back chunk by chunk, checking every event.
      const reader = await store.openReader({ from: { seq: 2 }, follow: false });
      let events = 0;
      let next = pos0;
      let sawLast = false;
      for await (const batch of reader) {
        for (const u of batch) {
          expect(u.seq).toBe(2);
          expect(u.pos).toBe(next);
          expect(u.gtid).toEqual({ uuid: UUID_A, tag: '', gno: 1n });
          for (const e of splitEvents(u.data)) {
            expect(e.readUInt32LE(19)).toBe(events);
            expect(e.subarray(23, 23 + 64).equals(body.subarray(4, 68))).toBe(true);
            events++;
          }
          next = u.endPos;
          sawLast = u.lastChunk;
        }
        peak = Math.max(peak, anonRss());
      }
      expect(events).toBe(N);
      expect(sawLast).toBe(true);
      expect(peak - rss0).toBeLessThan(150 * MB);
      // A position inside the huge transaction resolves to its chunk.
      const mid = pos0 + BigInt(150 * MB);
      const loc = await store.locate({ file: 'bin.000001', pos: mid });
      expect(loc.seq).toBe(2);
      expect(loc.chunk).toBeGreaterThan(0);
    });

    it('abort() leaves the log unchanged, and orphan chunks of a crash are removed on open', async () => {
      // The orphan chunks are forged from the bytes of stored ones: inline, as a streamed transaction writes them.
      const store = await mk({ flavor: 'mysql', chunkBytes: 2048, externalGroupBytes: 0 });
      const b = new LogBuilder('mysql');
      await store.append(b.startFile('bin.000001'));
      await store.append(b.trx());
      const before = store.getState();
      const txn = await store.beginTransaction({ file: 'bin.000001', pos: b.pos, timestamp: b.ts, gtid: { uuid: UUID_A, tag: '', gno: 2n } });
      await expectCode(store.append(b.trx()), 'ERR_STORAGE_BUSY');
      b.unpush();
      let at = b.pos;
      for (let i = 0; i < 10; i++) {
        const e = makeEvent(30, 1000, at, b.ts, b.rnd);
        at += BigInt(e.length);
        await txn.write(e);
      }
      await txn.abort();
      await expectCode(txn.write(makeEvent(30, 10, at, b.ts, b.rnd)), 'ERR_STORAGE_ABORTED');
      expect(store.getState()).toEqual({ ...before, durableSeq: store.getState().durableSeq });
      const t = b.trx();
      expect((await store.append(t)).seq).toBe(3);
      await store.flush();
      expect((await readAll(store)).map((u) => u.seq)).toEqual([1, 2, 3]);
      await store.close();

      // Simulate a crash in the middle of a streamed transaction: chunks without their last one.
      const raw = new ClassicLevel<Buffer, Buffer>(path.join(dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      await raw.open();
      // Unit 3 alone in its segment; clearing LAST makes it look like a staged chunk that never committed.
      const chunk0 = Buffer.from((await raw.get(logKey(3, 0)))!);
      chunk0[1 + 5] = 0; // record flags
      const chunk1 = Buffer.from(chunk0);
      chunk1.writeUInt32BE(1, 1 + 28); // record chunk index
      await raw.put(logKey(4, 0), chunk0);
      await raw.put(logKey(4, 1), chunk1);
      await raw.close();
      const reopened = await mk({});
      expect(reopened.recovery.orphanChunksRemoved).toBe(2);
      expect(reopened.getState().lastSeq).toBe(3);
      expect((await reopened.append(b.trx())).seq).toBe(4);
    });
  });

  describe('retention', () => {
    async function fillFiles(store: BinlogStore, nFiles: number, perFile: number): Promise<LogBuilder> {
      const b = new LogBuilder('mysql', 21);
      for (let f = 1; f <= nFiles; f++) {
        const name = `bin.${String(f).padStart(6, '0')}`;
        b.startFile(name);
        b.startGtids(f === 1 ? `${UUID_B}:1-3` : `${UUID_A}:1-${(f - 1) * perFile},${UUID_B}:1-3`);
        for (let i = 0; i < perFile; i++) b.trx({ n: 4, avg: 1000, tsStep: 0 });
        if (f < nFiles) b.rotate(`bin.${String(f + 1).padStart(6, '0')}`);
        b.ts += 1000;
      }
      await appendAll(store, b.units);
      await store.flush();
      return b;
    }

    it('purges whole files by name, age and size; records the purged GTIDs; reclaims space', async () => {
      const store = await mk({ flavor: 'mysql' });
      const b = await fillFiles(store, 6, 200);
      expect(store.getState().purgedGtids).toBe(`${UUID_B}:1-3`);
      const sizeBefore = await dirSize(path.join(dir, 'db'));

      let r = await store.purge({ beforeFile: 'bin.000003' });
      expect(r.files).toEqual(['bin.000001', 'bin.000002']);
      expect(r.purgedGtids).toBe(`${UUID_A}:1-400,${UUID_B}:1-3`);
      expect(store.getState().purgedGtids).toBe(r.purgedGtids);
      expect(store.getState().firstSeq).toBe(store.listFiles()[0]!.firstSeq);
      expect(store.listFiles().map((f) => f.name)).toEqual(['bin.000003', 'bin.000004', 'bin.000005', 'bin.000006']);
      await expectCode(store.locate({ file: 'bin.000001', pos: 4n }), 'ERR_STORAGE_NOT_FOUND');
      await expectCode(store.openReader({ from: { seq: 1 } }), 'ERR_STORAGE_PURGED');
      await expectCode(store.locate({ gtids: `${UUID_B}:1-3` }), 'ERR_STORAGE_PURGED');

      // maxAge: files 3 and 4 end before now - age.
      const f4 = store.getFile('bin.000004')!;
      r = await store.purge({ maxAge: 10, now: f4.lastTimestamp + 11 });
      expect(r.files).toEqual(['bin.000003', 'bin.000004']);

      // maxSize: keep at most one file's worth.
      const f5 = store.getFile('bin.000005')!;
      r = await store.purge({ maxSize: Number(f5.storedBytes) + 10 });
      expect(r.files).toEqual(['bin.000005']);
      // never the active file
      r = await store.purge({ maxSize: 0 });
      expect(r.files).toEqual([]);
      expect(r.heldBack).toBe(true);
      expect(store.listFiles().map((f) => f.name)).toEqual(['bin.000006']);

      // The remaining log still reads back byte for byte; space was reclaimed.
      const units = await readAll(store);
      expect(Buffer.concat(units.map((u) => u.data)).equals(b.bytesOf('bin.000006'))).toBe(true);
      const sizeAfter = await dirSize(path.join(dir, 'db'));
      expect(sizeAfter).toBeLessThan(sizeBefore / 2);

      // Survives a reopen.
      await store.close();
      const again = await mk({});
      expect(again.listFiles().map((f) => f.name)).toEqual(['bin.000006']);
      expect(again.getState().purgedGtids).toBe(`${UUID_A}:1-1000,${UUID_B}:1-3`);
      expect((await readAll(again)).length).toBe(units.length);
    });

    it('never purges past the oldest live reader', async () => {
      const store = await mk({ flavor: 'mysql' });
      await fillFiles(store, 4, 50);
      const reader = await store.openReader({ from: { file: 'bin.000002', pos: 4n }, batchBytes: 1024 });
      const first = await reader.next();
      expect(first.value![0]!.file).toBe('bin.000002');
      let r = await store.purge({ beforeFile: 'bin.000004' });
      expect(r.files).toEqual(['bin.000001']);
      expect(r.heldBack).toBe(true);
      // The reader moves on into file 3; now file 2 can go.
      for (;;) {
        const n = await reader.next();
        if (n.value![0]!.file === 'bin.000003') break;
      }
      r = await store.purge({ beforeFile: 'bin.000004' });
      expect(r.files).toEqual(['bin.000002']);
      await reader.return();
      r = await store.purge({ beforeFile: 'bin.000004' });
      expect(r.files).toEqual(['bin.000003']);
    });

    it('finishes an interrupted purge on open', async () => {
      const store = await mk({ flavor: 'mysql' });
      await fillFiles(store, 3, 20);
      const f2 = store.getFile('bin.000002')!;
      await store.close();
      // Keep a copy of unit 1's segment, purge, then put it back as if the delete had not happened.
      const raw = new ClassicLevel<Buffer, Buffer>(path.join(dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      await raw.open();
      const seg = (await raw.get(logKey(1, 0)))!;
      await raw.close();
      const s2 = await mk({}, 'db');
      await s2.purge({ beforeFile: 'bin.000002' });
      await s2.close();
      open.pop();
      const raw2 = new ClassicLevel<Buffer, Buffer>(path.join(dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      await raw2.open();
      await raw2.put(logKey(1, 0), seg);
      await raw2.close();
      const s3 = await mk({});
      expect(s3.recovery.purgeFinished).toBe(true);
      expect(s3.getState().firstSeq).toBe(f2.firstSeq);
    });
  });

  describe('open, reopen and damage', () => {
    it('reopens with the same state and continues', async () => {
      const store = await mk();
      const b = new LogBuilder('mysql');
      b.startFile('bin.000001', '');
      for (let i = 0; i < 100; i++) b.trx();
      await appendAll(store, b.units);
      const st = { ...store.getState() };
      await store.close();
      await expectCode(store.append(b.trx()), 'ERR_STORAGE_CLOSED');
      b.units.pop();
      b.pos = st.lastPos;
      const again = await mk({});
      expect(again.getState()).toEqual({ ...st, durableSeq: st.lastSeq });
      await again.append(b.trx());
      await again.flush();
      expect((await readAll(again)).length).toBe(102);
    });

    it('a store written with LevelDB compression reads the same without it (the default), and back', async () => {
      const b = new LogBuilder('mysql', 4);
      b.startFile('bin.000001', '');
      for (let i = 0; i < 300; i++) b.trx({ n: 3, avg: 400 });
      // Compressible bodies (the headers stay), so that snappy really changes the stored blocks.
      for (const u of b.units) for (const e of u.events) e.fill(0x41, 19);
      const first = await mk({ flavor: 'mysql', leveldb: { compression: true } });
      await appendAll(first, b.units.slice(0, 150));
      await first.close();
      const second = await mk({});
      await appendAll(second, b.units.slice(150));
      await second.flush();
      const all = await readAll(second);
      expect(Buffer.concat(all.map((u) => u.data)).equals(Buffer.concat(b.units.flatMap((u) => u.events)))).toBe(true);
      await second.close();
      const third = await mk({ leveldb: { compression: true } });
      expect((await readAll(third)).length).toBe(301);
    });

    it('replays the units after the last checkpoint', async () => {
      const store = await mk({ flavor: 'mysql', checkpointUnits: 1_000_000, checkpointBytes: 1 << 30 });
      const b = new LogBuilder('mysql');
      await store.append(b.startFile('bin.000001', ''));
      await store.flush(); // a new file forces a checkpoint after unit 1
      for (let i = 0; i < 50; i++) await store.append(b.trx());
      await store.flush(); // no checkpoint due (thresholds are huge)
      const st = store.getState();
      await store.close(); // writes the final checkpoint after unit 51
      open.pop();
      const db = new ClassicLevel<Buffer, Buffer>(path.join(dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      await db.open();
      expect(await db.get(checkpointKey(51))).toBeDefined();
      await db.del(checkpointKey(51));
      await db.close();
      const again = await mk({});
      expect(again.recovery.unitsReplayed).toBe(50);
      expect(again.getState()).toEqual(st);
      expect((await readAll(again)).length).toBe(51);
    });

    it('refuses a directory that is not a store', async () => {
      const foreign = path.join(dir, 'foreign');
      await mkdir(foreign);
      await writeFile(path.join(foreign, 'notes.txt'), 'hello');
      await expectCode(openStore(foreign, { flavor: 'mysql' }), 'ERR_STORAGE_FORMAT');
      await expectCode(openStore(path.join(foreign, 'notes.txt'), { flavor: 'mysql' }), 'ERR_STORAGE_FORMAT');
      await expectCode(openStore(path.join(dir, 'missing'), { flavor: 'mysql', create: false }), 'ERR_STORAGE_FORMAT');

      // Another application's LevelDB.
      const other = new ClassicLevel(path.join(dir, 'other'));
      await other.put('hello', 'world');
      await other.close();
      await expectCode(openStore(path.join(dir, 'other'), { flavor: 'mysql' }), 'ERR_STORAGE_FORMAT');
    });

    it('refuses a newer format and runs migrations for an older one', async () => {
      const store = await mk();
      await store.close();
      open.pop();
      const raw = new ClassicLevel<Buffer, Buffer>(path.join(dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      await raw.open();
      await raw.put(formatKey(), encodeFormat(FORMAT_VERSION + 1));
      await raw.close();
      const err = await expectCode(openStore(path.join(dir, 'db'), { flavor: 'mysql' }), 'ERR_STORAGE_FORMAT');
      expect(err.message).toContain('newer');

      // The migration hook: from version 0 to 1 via a test migration.
      await raw.open();
      const ran: number[] = [];
      const v = await migrate(raw, FORMAT_VERSION - 1, [{ from: FORMAT_VERSION - 1, to: FORMAT_VERSION, description: 'test', run: async () => void ran.push(1) }]);
      expect(v).toBe(FORMAT_VERSION);
      expect(ran).toEqual([1]);
      expect((await raw.get(formatKey()))!.equals(encodeFormat(FORMAT_VERSION))).toBe(true);
      await expectCode(migrate(raw, FORMAT_VERSION - 1, []), 'ERR_STORAGE_FORMAT');
      await raw.close();
      const reopened = await mk({});
      expect(reopened.getState().flavor).toBe('mysql');
    });

    it('metadata written during an append stream does not make LevelDB rewrite the log (no compaction at all)', async () => {
      const sub = path.join(dir, 'moves');
      const store = await openStore(sub, { flavor: 'mysql', externalGroupBytes: 0 });
      await store.putMeta('daemon.identity', '{}');
      await store.section('discovery').put('a:1', 'x');
      const b = new LogBuilder('mysql', 43);
      await store.append(b.startFile('bin.000001', ''));
      for (let i = 0; i < 15_000; i++) {
        await store.append(b.trx({ n: 2, avg: 1000 }));
        // Groups of ~800 KB: below EXTERNAL_GROUP_BYTES, so the segments stay in LevelDB and fill its tables.
        if (i % 400 === 399) await store.flush();
        if (i === 7000) await store.section('discovery').put('a:1', 'y'); // in the middle of the stream too
      }
      await store.flush();
      await store.close();
      const log = readFileSync(path.join(sub, 'LOG'), 'utf8');
      expect((log.match(/Level-0 table #\d+: \d+ bytes OK/g) ?? []).length).toBeGreaterThan(4);
      // With the metadata above the log (format 1) the fourth table already overlapped it: "Compacting 4@0 + 1@1
      // files" (a rewrite of everything so far) before the store closed.
      expect(log.match(/Compacting .*/g) ?? []).toEqual([]);
    });

    it('migrates a version 1 store: metadata and sections move below the log, with their values, once', async () => {
      const v1 = path.join(dir, 'v1');
      let store = await openStore(v1, { flavor: 'mysql' });
      const b = new LogBuilder('mysql', 41);
      await store.append(b.startFile('bin.000001'));
      for (let i = 0; i < 20; i++) await store.append(b.trx());
      await store.putMeta('daemon.identity', '{"server_id":7}');
      await store.section('discovery').put('host:3306', 'instance');
      await store.section('other').put('k', Buffer.from([0, 1, 2]));
      await store.close();
      // Put it back the way version 1 kept it: 0x20 / 0x21 and format 1.
      const raw = new ClassicLevel<Buffer, Buffer>(v1, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      await raw.open();
      const moveBack = async (from: number, to: number): Promise<void> => {
        for (const [k, v] of await raw.iterator({ gte: Buffer.from([from]), lt: Buffer.from([from + 1]) }).all()) {
          const old = Buffer.from(k);
          old[0] = to;
          await raw.batch([{ type: 'put', key: old, value: v }, { type: 'del', key: k }]);
        }
      };
      await moveBack(0x05, 0x20);
      await moveBack(0x06, 0x21);
      await raw.put(formatKey(), encodeFormat(1));
      const prefixes = async (): Promise<number[]> => [...new Set((await raw.keys().all()).map((k) => k[0]!))].sort((x, y) => x - y);
      expect(await prefixes()).toEqual([0x01, 0x03, 0x10, 0x20, 0x21]);
      await raw.close();

      store = await openStore(v1, {});
      expect(await store.getMeta('daemon.identity')).toEqual(Buffer.from('{"server_id":7}'));
      expect(await store.section('discovery').entries()).toEqual([['host:3306', Buffer.from('instance')]]);
      expect(await store.section('other').get('k')).toEqual(Buffer.from([0, 1, 2]));
      expect(await readAll(store)).toHaveLength(21);
      await store.close();
      await raw.open();
      expect(await prefixes()).toEqual([0x01, 0x03, 0x05, 0x06, 0x10]);
      expect((await raw.get(formatKey()))!.equals(encodeFormat(FORMAT_VERSION))).toBe(true);
      await raw.close();
    });

    it('reports damaged data, state and indexes as ERR_STORAGE_CORRUPT', async () => {
      const build = async (sub: string): Promise<string> => {
        const s = await openStore(path.join(dir, sub), { flavor: 'mysql' });
        const b = new LogBuilder('mysql');
        b.startFile('bin.000001', '');
        for (let i = 0; i < 30; i++) b.trx();
        b.rotate('bin.000002');
        b.startFile('bin.000002');
        b.trx();
        await appendAll(s, b.units);
        await s.close();
        return path.join(dir, sub);
      };
      const damage = async (p: string, fn: (db: ClassicLevel<Buffer, Buffer>) => Promise<void>): Promise<void> => {
        const db = new ClassicLevel<Buffer, Buffer>(p, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
        await db.open();
        await fn(db);
        await db.close();
      };
      // A garbled checkpoint.
      const p1 = await build('c1');
      await damage(p1, async (db) => db.put(checkpointKey(34), Buffer.from('garbage')));
      expect((await expectCode(openStore(p1), 'ERR_STORAGE_CORRUPT')).message).toContain('checkpoint');
      // A hole in the tail that open replays (a group of units deleted, with the final checkpoint).
      const p2 = path.join(dir, 'c2');
      {
        const s = await openStore(p2, { flavor: 'mysql', checkpointUnits: 1_000_000, checkpointBytes: 1 << 30 });
        const b = new LogBuilder('mysql');
        await s.append(b.startFile('bin.000001', ''));
        await s.flush();
        for (let g = 0; g < 3; g++) {
          for (let i = 0; i < 10; i++) await s.append(b.trx());
          await s.flush(); // one group, one segment: units 2-11, 12-21, 22-31
        }
        await s.close();
      }
      await damage(p2, async (db) => {
        await db.del(checkpointKey(31));
        await db.del(logKey(12, 0));
      });
      expect((await expectCode(openStore(p2), 'ERR_STORAGE_CORRUPT')).message).toContain('hole');
      // A file record pointing past the data.
      const p3 = await build('c3');
      await damage(p3, async (db) => {
        const rec = (await db.get(fileKey(2)))!;
        const bad = Buffer.from(rec);
        bad.writeUInt32BE(0, 5);
        bad.writeUInt32BE(9999, 9);
        await db.put(fileKey(2), bad);
      });
      expect((await expectCode(openStore(p3), 'ERR_STORAGE_CORRUPT')).message).toContain('past the last unit');
      // A truncated segment value.
      const p4 = await build('c4');
      await damage(p4, async (db) => {
        const v = (await db.get(logKey(1, 0)))!;
        await db.put(logKey(1, 0), v.subarray(0, v.length - 7));
      });
      await expectCode(openStore(p4), 'ERR_STORAGE_CORRUPT');
      // LevelDB's own files damaged.
      const p5 = await build('c5');
      for (const f of await readdir(p5)) if (f.startsWith('MANIFEST')) await writeFile(path.join(p5, f), Buffer.alloc(100, 0xff));
      await expectCode(openStore(p5), 'ERR_STORAGE_CORRUPT');
    });

    it('refuses a second open of the same directory (locked)', async () => {
      await mk();
      await expectCode(openStore(path.join(dir, 'db'), { flavor: 'mysql' }), 'ERR_STORAGE_LOCKED');
    });
  });

  it('keeps named metadata blobs and sections for other components', async () => {
    const store = await mk();
    await store.putMeta('syncer-args', '{"a":1}');
    await store.putMeta('server-args', Buffer.from([1, 2, 3]));
    expect((await store.getMeta('syncer-args'))!.toString()).toBe('{"a":1}');
    expect(await store.getMeta('nope')).toBeUndefined();
    expect(await store.listMeta()).toEqual(['server-args', 'syncer-args']);
    await store.deleteMeta('server-args');
    expect(await store.listMeta()).toEqual(['syncer-args']);
    const disc = store.section('discovery');
    const other = store.section('discoveryx');
    await disc.put('inst-1', 'x');
    await disc.put('inst-2', 'y');
    await other.put('inst-1', 'z');
    expect((await disc.entries()).map(([k, v]) => [k, v.toString()])).toEqual([
      ['inst-1', 'x'],
      ['inst-2', 'y'],
    ]);
    await disc.del('inst-1');
    expect((await disc.get('inst-1'))).toBeUndefined();
    expect((await other.get('inst-1'))!.toString()).toBe('z');
    await expectCode(() => store.section(''), 'ERR_STORAGE_ARGUMENT');
    // Metadata does not disturb the log.
    const b = new LogBuilder('mysql');
    await store.append(b.startFile('bin.000001'));
    await store.close();
    const again = await mk({});
    expect((await again.getMeta('syncer-args'))!.toString()).toBe('{"a":1}');
  });
});

describe('segment files (the segments of big groups, next to LevelDB)', () => {
  let dir: string;
  const opened: BinlogStore[] = [];
  // Groups as big as the test's flushes make them (not cut at 512 KiB): catch-up groups.
  async function mk(sub: string, opts: StoreOptions = { flavor: 'mysql' }): Promise<BinlogStore> {
    const s = await openStoreWithOptions(path.join(dir, sub), { groupCommitBytes: 8 << 20, ...opts });
    opened.push(s);
    return s;
  }
  async function closeAll(): Promise<void> {
    for (const s of opened.splice(0)) await s.close();
  }
  /** The log's values as LevelDB holds them (no pointer resolved), checkpoints left out. */
  async function storedValues(sub: string): Promise<Buffer[]> {
    const raw = new ClassicLevel<Buffer, Buffer>(path.join(dir, sub), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await raw.open();
    try {
      const all = await raw.iterator({ gte: logKey(0, 0), lt: logKey(Number.MAX_SAFE_INTEGER, 0) }).all();
      return all.filter(([k]) => decodeLogKey(k).sub !== SUB_CHECKPOINT).map(([, v]) => v);
    } finally {
      await raw.close();
    }
  }
  /** Units and bytes of the whole log, one plain reader (readAll also compares a packed one: slow for big logs). */
  async function logBytes(store: BinlogStore): Promise<{ units: number; bytes: Buffer }> {
    const parts: Buffer[] = [];
    for await (const batch of await store.openReader({ from: 'oldest', follow: false })) for (const u of batch) parts.push(u.data);
    return { units: parts.length, bytes: Buffer.concat(parts) };
  }
  const allBytes = (b: LogBuilder): Buffer => Buffer.concat(b.units.map((u) => Buffer.concat(u.events)));
  const segmentFiles = async (sub: string): Promise<string[]> => (await readdir(path.join(dir, sub, 'segments')).catch(() => [])).sort();

  beforeEach(async () => {
    dir = await makeTempDir('bp-segs-');
  });
  afterEach(async () => {
    await closeAll();
    await removeTempDir(dir);
  });

  it('a catch-up group goes to a segment file with a 21-byte pointer per segment in LevelDB; live groups stay inline', async () => {
    const store = await mk('db');
    // ~3 MB in groups of ~1.5 MB (external), then 30 groups of one transaction (inline).
    const b = await appendFlushing(store, 61, 1500, 750);
    for (let i = 0; i < 30; i++) {
      await store.append(b.trx({ n: 2, avg: 300 }));
      await store.flush();
    }
    const want = Buffer.concat(b.units.map((u) => Buffer.concat(u.events)));
    const read = async (s: BinlogStore): Promise<Buffer> => Buffer.concat((await readAll(s)).map((u) => u.data));
    expect((await read(store)).equals(want)).toBe(true);
    const state = store.getState();
    await closeAll();

    const files = await segmentFiles('db');
    expect(files).toEqual(['0000000000000001.seg']); // one binlog file, far below 256 MiB
    const values = await storedValues('db');
    const pointers = values.filter((v) => v.length === 21 && v[0] === 2);
    const inline = values.filter((v) => v[0] === 1);
    expect(pointers.length).toBeGreaterThan(30); // ~2-3 MB in 64 KiB segments
    expect(inline.length).toBeGreaterThanOrEqual(30);
    expect(pointers.length + inline.length).toBe(values.length);
    const bytes = (await stat(path.join(dir, 'db', 'segments', files[0]!))).size;
    expect(bytes).toBeGreaterThan(2_000_000);
    expect(bytes).toBeLessThan(3_300_000);

    // Reopened: the same state (the replay and the consistency checks follow the pointers) and the same bytes,
    // through look-ups too.
    const again = await mk('db', {});
    expect(again.getState()).toEqual(state);
    expect((await logBytes(again)).bytes.equals(want)).toBe(true);
    const mid = b.units[1200]!;
    expect((await again.locate({ file: mid.file, pos: mid.pos })).seq).toBe(1201);
  });

  it('with LevelDB compression on, every segment stays in LevelDB', async () => {
    const store = await mk('db', { flavor: 'mysql', leveldb: { compression: true } });
    await appendFlushing(store, 62, 2000, 2000);
    await closeAll();
    expect(await segmentFiles('db')).toEqual([]);
    expect((await storedValues('db')).every((v) => v[0] === 1)).toBe(true);
  });

  it('bytes a crash left after the last pointer are skipped: appends go after them and the log reads back exactly', async () => {
    let store = await mk('db');
    const b = await appendFlushing(store, 63, 1200, 1200);
    await closeAll();
    const [file] = await segmentFiles('db');
    const p = path.join(dir, 'db', 'segments', file!);
    const size = (await stat(p)).size;
    // A group whose segments reached the file but whose LevelDB batch never did.
    await writeFile(p, Buffer.alloc(100_000, 0xab), { flag: 'a' });
    store = await mk('db', {});
    for (let i = 0; i < 1200; i++) await store.append(b.trx({ n: 2, avg: 1000 }));
    await store.flush();
    const log = await logBytes(store);
    expect(log.units).toBe(b.units.length);
    expect(log.bytes.equals(allBytes(b))).toBe(true);
    await closeAll();
    const grown = await readFile(p);
    expect(grown.length).toBeGreaterThan(size + 100_000 + 1_000_000); // the new catch-up groups, after the junk
    expect(grown.subarray(size, size + 100_000).equals(Buffer.alloc(100_000, 0xab))).toBe(true);
    const again = await mk('db', {});
    expect((await logBytes(again)).bytes.equals(allBytes(b))).toBe(true);
  });

  it('a pointer to bytes that are not there is ERR_STORAGE_CORRUPT naming the segment file', async () => {
    const store = await mk('db');
    await appendFlushing(store, 64, 1500, 1500);
    await closeAll();
    const [file] = await segmentFiles('db');
    const p = path.join(dir, 'db', 'segments', file!);
    await truncate(p, (await stat(p)).size - 1000);
    const err = await expectCode(openStoreWithOptions(path.join(dir, 'db'), {}), 'ERR_STORAGE_CORRUPT');
    expect(err.message).toContain(file!);
    await unlink(p);
    expect((await expectCode(openStoreWithOptions(path.join(dir, 'db'), {}), 'ERR_STORAGE_CORRUPT')).message).toContain('missing');
  });

  it('a purge deletes the segment files of the binlog files it removes; an interrupted one is finished on open', async () => {
    const store = await mk('db');
    const b = new LogBuilder('mysql', 65);
    for (let f = 1; f <= 4; f++) {
      b.startFile(`bin.00000${f}`);
      for (let i = 0; i < 400; i++) b.trx({ n: 2, avg: 1500 });
      if (f < 4) b.rotate(`bin.00000${f + 1}`);
    }
    // All in one group: its segments still start a segment file per binlog file.
    await appendAll(store, b.units);
    await store.flush();
    const before = await segmentFiles('db');
    expect(before).toHaveLength(4);
    expect(before.map((f) => Number(f.slice(0, 16)))).toEqual(store.listFiles().map((f) => f.firstSeq));
    await store.purge({ beforeFile: 'bin.000003' });
    expect(await segmentFiles('db')).toEqual(before.slice(2));
    const left = await logBytes(store);
    expect(left.bytes.equals(Buffer.concat([b.bytesOf('bin.000003'), b.bytesOf('bin.000004')]))).toBe(true);
    await closeAll();

    // A purge that stopped after LevelDB's delete: the next open removes the files left behind.
    await writeFile(path.join(dir, 'db', 'segments', '0000000000000001.seg'), 'left behind');
    const again = await mk('db', {});
    expect(again.recovery.purgeFinished).toBe(true);
    expect(await segmentFiles('db')).toEqual(before.slice(2));
    expect((await logBytes(again)).units).toBe(left.units);
  });
});

describe('SegmentFiles', () => {
  it('keeps at most 32 idle files open, reopening one when it is read again', async () => {
    const dir = await makeTempDir('bp-segfiles-');
    try {
      const files = await SegmentFiles.open(path.join(dir, 'segments'));
      const open = (): number => readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(path.join(dir, 'segments'));
        } catch {
          return false; // closed meanwhile
        }
      }).length;
      const entries: Array<[Buffer, Buffer]> = [];
      const want: Buffer[] = [];
      for (let f = 0; f < 40; f++) {
        const seg = Buffer.alloc(5000 + f, f);
        seg[0] = 1; // SEGMENT_FORMAT
        const [p] = await files.append(1 + f * 10, [seg], true);
        entries.push([logKey(1 + f * 10, 0), encodePointer(p!)]);
        want.push(seg);
      }
      expect(files.fileCount).toBe(40);
      for (let round = 0; round < 2; round++) {
        const got = await files.resolve(entries.map(([k, v]) => [k, v]));
        got.forEach(([, v], i) => expect(v.equals(want[i]!)).toBe(true));
        expect(open()).toBeLessThanOrEqual(33);
      }
      await files.close();
      expect(open()).toBe(0);
    } finally {
      await removeTempDir(dir);
    }
  });
});
