/**
 * The discovery KvRange over a named section of the binlog store (storage `section('discovery')`), so
 * instances live in the daemon's one LevelDB, in their own key range. Keys are stored as lowercase hex,
 * which keeps the byte order of the original keys.
 */
import type { KvRange } from './store.js';

export interface SectionLike {
  get(key: string): Promise<Buffer | undefined>;
  put(key: string, value: Buffer | string): Promise<void>;
  del(key: string): Promise<void>;
  entries(range?: { gte?: string; lt?: string }): Promise<Array<[string, Buffer]>>;
}

export class SectionKvRange implements KvRange {
  constructor(private readonly section: SectionLike) {}

  get(key: Buffer): Promise<Buffer | undefined> {
    return this.section.get(key.toString('hex'));
  }

  put(key: Buffer, value: Buffer): Promise<void> {
    return this.section.put(key.toString('hex'), value);
  }

  del(key: Buffer): Promise<void> {
    return this.section.del(key.toString('hex'));
  }

  async *iterate(opts: { gte?: Buffer; lt?: Buffer }): AsyncIterable<[Buffer, Buffer]> {
    // The range goes to LevelDB (hex keeps the byte order), rather than reading the whole section.
    const range = { gte: opts.gte?.toString('hex'), lt: opts.lt?.toString('hex') };
    for (const [k, v] of await this.section.entries(range)) yield [Buffer.from(k, 'hex'), v];
  }
}
