// storage.serveBeforeSync: live readers get a unit before its group is fsync'd only when the option is on;
// waitDurable (semi-sync ACKs), durableSeq and look-ups still go by what is durable.
import { crc32 } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type AppendUnit, type BinlogStore, type StoredUnit, type StoreOptions } from '../../../storage/index.js';
import type { StoreReader } from '../../../storage/reader.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const FILE = 'bin.000001';

/** One event with a correct v4 header (event_size, log_pos) and a CRC32 trailer. */
function event(type: number, bodyLen: number, pos: bigint): Buffer {
  const size = 19 + bodyLen + 4;
  const b = Buffer.alloc(size, 0x5a);
  b.writeUInt32LE(1_700_000_000, 0);
  b[4] = type;
  b.writeUInt32LE(1, 5);
  b.writeUInt32LE(size, 9);
  b.writeUInt32LE(Number(pos + BigInt(size)), 13);
  b.writeUInt16LE(0, 17);
  b.writeUInt32LE(crc32(b.subarray(0, size - 4)), size - 4);
  return b;
}

class Log {
  pos = 4n;
  private gno = 0n;

  file = FILE;

  start(file = FILE): AppendUnit {
    this.file = file;
    this.pos = 4n;
    const fde = event(15, 96, this.pos);
    return this.next({ file, pos: this.pos, events: [fde], kind: 'control', timestamp: 1_700_000_000, newFile: { fde } });
  }

  rotate(): AppendUnit {
    return this.next({ file: this.file, pos: this.pos, events: [event(4, 8 + 10, this.pos)], kind: 'control', timestamp: 1_700_000_000 });
  }

  trx(rowEvents = 2, rowBytes = 100): AppendUnit {
    const events: Buffer[] = [];
    let at = this.pos;
    for (let i = 0; i < rowEvents + 2; i++) {
      const e = event(i === 0 ? 33 : i === rowEvents + 1 ? 16 : 30, i === 0 || i === rowEvents + 1 ? 30 : rowBytes, at);
      events.push(e);
      at += BigInt(e.length);
    }
    return this.next({ file: this.file, pos: this.pos, events, kind: 'transaction', gtid: { uuid: UUID, tag: '', gno: ++this.gno }, timestamp: 1_700_000_000 });
  }

  private next(u: AppendUnit): AppendUnit {
    this.pos = u.pos + BigInt(u.events.reduce((n, e) => n + e.length, 0));
    return u;
  }
}

const TIMEOUT = Symbol('timeout');

/** The reader's next batch, or TIMEOUT if none comes within `ms` (the pending next() is returned too). */
async function nextWithin(
  pending: Promise<IteratorResult<StoredUnit[]>>,
  ms: number,
): Promise<IteratorResult<StoredUnit[]> | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), ms);
  });
  try {
    return await Promise.race([pending, t]);
  } finally {
    clearTimeout(timer);
  }
}

function seqsOf(r: IteratorResult<StoredUnit[]> | typeof TIMEOUT): number[] {
  if (r === TIMEOUT || r.done === true) throw new Error(`expected a batch, got ${r === TIMEOUT ? 'a timeout' : 'the end'}`);
  return r.value.map((u) => u.seq);
}

describe('storage: serveBeforeSync', () => {
  let dir: string;
  const stores: BinlogStore[] = [];
  const readers: StoreReader[] = [];

  beforeEach(async () => {
    dir = await makeTempDir('bp-sbs-');
  });
  afterEach(async () => {
    for (const r of readers.splice(0)) await r.return();
    for (const s of stores.splice(0)) await s.close();
    await removeTempDir(dir);
  });

  /** A store whose groups wait 10 s before their write unless someone waits for durability. */
  async function setup(opts: StoreOptions): Promise<{ store: BinlogStore; log: Log; reader: StoreReader }> {
    const store = await openStore(dir, { flavor: 'mysql', groupCommitDelayMs: 10_000, ...opts });
    stores.push(store);
    const log = new Log();
    await store.append(log.start());
    await store.flush();
    const reader = await store.openReader({ from: 'oldest' });
    readers.push(reader);
    expect(seqsOf(await reader.next())).toEqual([1]);
    return { store, log, reader };
  }

  it('on: a live reader gets appended units before they are durable; waitDurable still waits for the disk', async () => {
    const { store, log, reader } = await setup({ serveBeforeSync: true });
    const appended = [log.trx(), log.trx()];
    for (const u of appended) await store.append(u);
    const r = await nextWithin(reader.next(), 2000);
    const got = seqsOf(r);
    expect(got).toEqual([2, 3]);
    expect(Buffer.concat((r as IteratorResult<StoredUnit[], undefined> & { value: StoredUnit[] }).value.map((u) => u.data)).equals(Buffer.concat(appended.flatMap((u) => u.events)))).toBe(true);
    // Nothing was fsync'd: the durable state has not moved.
    expect(store.durableSeq).toBe(1);
    expect(store.getState().durableSeq).toBe(1);
    expect(store.listFiles()[0]!.lastSeq).toBe(1);
    // A semi-sync ACK waits for the write itself.
    await store.waitDurable(3);
    expect(store.durableSeq).toBe(3);
    // Following keeps working across the durable point.
    await store.append(log.trx());
    expect(seqsOf(await nextWithin(reader.next(), 2000))).toEqual([4]);
    expect(store.durableSeq).toBe(3);
  });

  it('off (the default): the same reader gets the unit only once it is durable', async () => {
    const { store, log, reader } = await setup({});
    await store.append(log.trx());
    const pending = reader.next();
    expect(await nextWithin(pending, 300)).toBe(TIMEOUT);
    expect(store.durableSeq).toBe(1);
    await store.flush();
    expect(seqsOf(await nextWithin(pending, 2000))).toEqual([2]);
  });

  it('on: a look-up at a position readers got before it was durable waits for durability and resolves', async () => {
    const { store, log, reader } = await setup({ serveBeforeSync: true });
    await store.append(log.trx());
    expect(seqsOf(await nextWithin(reader.next(), 2000))).toEqual([2]);
    expect(store.durableSeq).toBe(1);
    const loc = await store.locate({ file: FILE, pos: log.pos });
    expect(loc.seq).toBe(3);
    expect(store.durableSeq).toBe(2);
  });

  it('on: a chunked unit, and what follows it, are served only once durable', async () => {
    const { store, log, reader } = await setup({ serveBeforeSync: true, chunkBytes: 1024 });
    await store.append(log.trx(8, 400)); // > chunkBytes: stored as chunks
    await store.append(log.trx());
    const pending = reader.next();
    expect(await nextWithin(pending, 300)).toBe(TIMEOUT);
    await store.flush();
    const seen: number[] = [...new Set(seqsOf(await nextWithin(pending, 2000)))];
    while (!seen.includes(3)) seen.push(...seqsOf(await nextWithin(reader.next(), 2000)).filter((s) => !seen.includes(s)));
    expect(seen).toEqual([2, 3]);
  });

  it('on: a new file is listed (with its FDE) as soon as readers can see its first unit', async () => {
    const { store, log, reader } = await setup({ serveBeforeSync: true });
    await store.append(log.trx());
    await store.append(log.rotate());
    const second = log.start('bin.000002');
    await store.append(second);
    await store.append(log.trx());
    const seen: StoredUnit[] = [];
    while (seen.length < 4) {
      const r = await nextWithin(reader.next(), 2000);
      if (r === TIMEOUT || r.done === true) throw new Error('the reader stopped');
      seen.push(...r.value);
    }
    expect(seen.map((u) => [u.seq, u.file])).toEqual([
      [2, FILE],
      [3, FILE],
      [4, 'bin.000002'],
      [5, 'bin.000002'],
    ]);
    expect(store.durableSeq).toBe(1);
    const files = store.listFiles();
    expect(files.map((f) => f.name)).toEqual([FILE, 'bin.000002']);
    expect(files[1]!.fde.equals(second.events[0]!)).toBe(true);
    expect(files[1]!.storedBytes).toBe(0n); // nothing of it is durable yet
    expect(store.getFile('bin.000002')?.fileNo).toBe(files[1]!.fileNo);
    await store.flush();
    expect(store.listFiles()[1]!.lastSeq).toBe(5);
    expect(store.listFiles()[0]!.active).toBe(false);
  });

  it('off: a new file is listed only once its first unit is durable', async () => {
    const { store, log } = await setup({});
    await store.append(log.rotate());
    await store.append(log.start('bin.000002'));
    expect(store.listFiles().map((f) => f.name)).toEqual([FILE]);
    expect(store.getFile('bin.000002')).toBeUndefined();
    await store.flush();
    expect(store.listFiles().map((f) => f.name)).toEqual([FILE, 'bin.000002']);
  });

  it('on, without a tail cache: nothing is served early', async () => {
    const { store, log, reader } = await setup({ serveBeforeSync: true, tailCacheBytes: 0 });
    await store.append(log.trx());
    const pending = reader.next();
    expect(await nextWithin(pending, 300)).toBe(TIMEOUT);
    await store.flush();
    expect(seqsOf(await nextWithin(pending, 2000))).toEqual([2]);
  });
});
