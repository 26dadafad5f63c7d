/**
 * KvRange over a classic-level (LevelDB) database, optionally confined to the keys under a prefix so that
 * discovery can share the daemon's database. Keys and values are raw Buffers.
 */
import { ClassicLevel } from 'classic-level';
import type { KvRange } from './store.js';

export type BufferLevel = ClassicLevel<Buffer, Buffer>;

/** The first key after every key that starts with `prefix`; undefined when there is none (all 0xff, or empty). */
export function prefixEnd(prefix: Buffer): Buffer | undefined {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return undefined;
}

export class LevelKvRange implements KvRange {
  private readonly prefix: Buffer;

  constructor(
    private readonly db: BufferLevel,
    prefix: Buffer = Buffer.alloc(0),
  ) {
    this.prefix = Buffer.from(prefix);
  }

  private full(key: Buffer): Buffer {
    return this.prefix.length === 0 ? key : Buffer.concat([this.prefix, key]);
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    return this.db.get(this.full(key));
  }

  async put(key: Buffer, value: Buffer): Promise<void> {
    await this.db.put(this.full(key), value);
  }

  async del(key: Buffer): Promise<void> {
    await this.db.del(this.full(key));
  }

  async *iterate(opts: { gte?: Buffer; lt?: Buffer }): AsyncIterable<[Buffer, Buffer]> {
    const gte = this.full(opts.gte ?? Buffer.alloc(0));
    const lt = opts.lt !== undefined ? this.full(opts.lt) : prefixEnd(this.prefix);
    const it = this.db.iterator(lt === undefined ? { gte } : { gte, lt });
    try {
      for await (const [k, v] of it) yield [k.subarray(this.prefix.length), v];
    } finally {
      await it.close();
    }
  }
}

/** Opens (creating if needed) a LevelDB with Buffer keys and values at `dir`. The caller closes it. */
export async function openBufferLevel(dir: string): Promise<BufferLevel> {
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  return db;
}
