import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type BinlogStore } from '../../../storage/index.js';
import { SectionKvRange } from '../../../src/discovery/kv-section.js';
import { DiscoveryError } from '../../../src/discovery/errors.js';
import { LevelKvRange, openBufferLevel, prefixEnd, type BufferLevel } from '../../../src/discovery/kv-level.js';
import {
  FORMAT_KEY,
  KvInstanceStore,
  MemoryKvRange,
  decodeInstanceKeyBytes,
  instanceKeyBytes,
  type KvRange,
} from '../../../src/discovery/store.js';
import type { Instance } from '../../../src/discovery/types.js';
import { sampleInstance } from './fixtures.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';

describe('key layout', () => {
  it('encodes host 0x00 port(u16 BE) under prefix 0x01 and decodes it back', () => {
    const k = instanceKeyBytes({ host: 'db1', port: 3306 });
    expect(k.toString('hex')).toBe('01' + Buffer.from('db1').toString('hex') + '00' + '0cea');
    expect(decodeInstanceKeyBytes(k)).toEqual({ host: 'db1', port: 3306 });
  });

  it('orders by host, then numerically by port', () => {
    const keys = [
      { host: 'b', port: 1 },
      { host: 'a', port: 3307 },
      { host: 'a', port: 300 },
      { host: 'ab', port: 1 },
    ].map(instanceKeyBytes);
    expect(keys.sort(Buffer.compare).map((k) => decodeInstanceKeyBytes(k))).toEqual([
      { host: 'a', port: 300 },
      { host: 'a', port: 3307 },
      { host: 'ab', port: 1 },
      { host: 'b', port: 1 },
    ]);
  });

  it('rejects malformed key bytes with ERR_DISCOVERY_STORE', () => {
    expect(() => decodeInstanceKeyBytes(Buffer.from('0161', 'hex'))).toThrow(DiscoveryError);
    expect(() => decodeInstanceKeyBytes(Buffer.from('026100000c', 'hex'))).toThrow(/malformed/);
  });

  it('computes the end of a prefix range', () => {
    expect(prefixEnd(Buffer.from('01ff', 'hex'))?.toString('hex')).toBe('02');
    expect(prefixEnd(Buffer.from('0a0b', 'hex'))?.toString('hex')).toBe('0a0c');
    expect(prefixEnd(Buffer.from('ffff', 'hex'))).toBeUndefined();
    expect(prefixEnd(Buffer.alloc(0))).toBeUndefined();
  });
});

// One conformance suite for every KvRange implementation.
interface Impl {
  name: string;
  make(): Promise<KvRange>;
}

let dir = '';
let db: BufferLevel;
let levelNo = 0;
const ownDbs: Array<{ db: BufferLevel; dir: string }> = [];

const binlogStores: Array<{ store: BinlogStore; dir: string }> = [];

/** What the daemon uses: a named section of the binlog store. */
async function binlogStoreSection(): Promise<KvRange> {
  const d = await makeTempDir('bp-disc-store-');
  const store = await openStore(d);
  binlogStores.push({ store, dir: d });
  await store.section('other').put('neighbour', 'x');
  return new SectionKvRange(store.section('discovery'));
}

async function ownLevel(): Promise<KvRange> {
  const d = await makeTempDir('bp-disc-');
  const own = await openBufferLevel(d);
  ownDbs.push({ db: own, dir: d });
  return new LevelKvRange(own);
}

beforeAll(async () => {
  dir = await makeTempDir('bp-disc-');
  db = await openBufferLevel(dir);
  // A neighbour outside every range the tests use: it must never show up.
  await db.put(Buffer.from('zz-other'), Buffer.from('x'));
});

afterAll(async () => {
  await db.close();
  await removeTempDir(dir);
  for (const o of ownDbs) {
    await o.db.close();
    await removeTempDir(o.dir);
  }
  for (const b of binlogStores) {
    await b.store.close();
    await removeTempDir(b.dir);
  }
});

const impls: Impl[] = [
  { name: 'MemoryKvRange', make: async () => new MemoryKvRange() },
  { name: 'LevelKvRange (prefixed)', make: async () => new LevelKvRange(db, Buffer.from(`d${levelNo++}/`)) },
  { name: 'LevelKvRange (whole db, own dir)', make: ownLevel },
  { name: "SectionKvRange (the daemon's store)", make: binlogStoreSection },
];

for (const impl of impls) {
  describe(`InstanceStore over ${impl.name}`, () => {
    it('writes the format version on first open and accepts it afterwards', async () => {
      const kv = await impl.make();
      await KvInstanceStore.open(kv);
      expect((await kv.get(FORMAT_KEY))?.readUInt32BE(0)).toBe(1);
      await expect(KvInstanceStore.open(kv)).resolves.toBeInstanceOf(KvInstanceStore);
    });

    it('refuses a range written in another format', async () => {
      const kv = await impl.make();
      await kv.put(FORMAT_KEY, Buffer.from([0, 0, 0, 9]));
      await expect(KvInstanceStore.open(kv)).rejects.toThrow(/format 9/);
    });

    it('puts, gets, replaces, lists in key order and deletes', async () => {
      const store = await KvInstanceStore.open(await impl.make());
      expect(await store.get({ host: '127.0.0.1', port: 3306 })).toBeUndefined();
      await store.put(sampleInstance('127.0.0.2', 10));
      await store.put(sampleInstance('127.0.0.1', 3307));
      await store.put(sampleInstance('127.0.0.1', 3306));
      await store.put({ ...sampleInstance('127.0.0.1', 3306), server_id: 77 });
      expect((await store.get({ host: '127.0.0.1', port: 3306 }))?.server_id).toBe(77);
      expect((await store.list()).map((i) => `${i.key.host}:${i.key.port}`)).toEqual(['127.0.0.1:3306', '127.0.0.1:3307', '127.0.0.2:10']);
      expect(await store.delete({ host: '127.0.0.1', port: 3307 })).toBe(true);
      expect(await store.delete({ host: '127.0.0.1', port: 3307 })).toBe(false);
      expect((await store.list()).length).toBe(2);
    });

    it('round-trips every field', async () => {
      const store = await KvInstanceStore.open(await impl.make());
      const inst: Instance = {
        ...sampleInstance('::1', 3306),
        master_key: { host: '::1', port: 3300 },
        replicas: [{ host: '::1', port: 3310, server_id: null }],
        notes: ['a "quoted" note'],
      };
      await store.put(inst);
      expect(await store.get({ host: '::1', port: 3306 })).toEqual(inst);
    });

    it('reports a corrupt record with ERR_DISCOVERY_STORE', async () => {
      const kv = await impl.make();
      const store = await KvInstanceStore.open(kv);
      await kv.put(instanceKeyBytes({ host: 'h', port: 1 }), Buffer.from('{not json'));
      await expect(store.get({ host: 'h', port: 1 })).rejects.toMatchObject({ code: 'ERR_DISCOVERY_STORE' });
      await kv.put(instanceKeyBytes({ host: 'h', port: 2 }), Buffer.from(JSON.stringify({ key: { host: 'other', port: 2 } })));
      await expect(store.get({ host: 'h', port: 2 })).rejects.toThrow(/expected fields/);
    });
  });
}

describe('LevelKvRange persistence', () => {
  it('keeps instances across a close and reopen', async () => {
    const d = await makeTempDir('bp-disc-');
    const first = await openBufferLevel(d);
    const store = await KvInstanceStore.open(new LevelKvRange(first, Buffer.from('discovery/')));
    await store.put(sampleInstance('127.0.0.1', 3306));
    await first.close();
    const second = await openBufferLevel(d);
    try {
      const again = await KvInstanceStore.open(new LevelKvRange(second, Buffer.from('discovery/')));
      expect((await again.list()).map((i) => i.key)).toEqual([{ host: '127.0.0.1', port: 3306 }]);
      // Other prefixes of the same database do not see it.
      const other = await KvInstanceStore.open(new LevelKvRange(second, Buffer.from('discoverz/')));
      expect(await other.list()).toEqual([]);
    } finally {
      await second.close();
      await removeTempDir(d);
    }
  });
});
