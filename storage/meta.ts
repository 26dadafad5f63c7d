/**
 * Named key/value sections for other components' small records (e.g. discovery's instances), under the
 * reserved section prefix of keys.ts.
 */
import { decodeSectionKey, sectionKey, sectionRange } from './keys.js';
import type { Db } from './log-io.js';

/** A named key range for another component's small records. */
export class MetaSection {
  constructor(
    private readonly db: Db,
    readonly name: string,
    private readonly assertOpen: () => void,
  ) {
    sectionRange(name); // validates the name
  }

  async get(key: string): Promise<Buffer | undefined> {
    this.assertOpen();
    return this.db.get(sectionKey(this.name, key));
  }

  async put(key: string, value: Buffer | string): Promise<void> {
    this.assertOpen();
    await this.db.put(sectionKey(this.name, key), Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'), { sync: true });
  }

  async del(key: string): Promise<void> {
    this.assertOpen();
    await this.db.del(sectionKey(this.name, key), { sync: true });
  }

  /** The entries with gte <= key < lt (every entry without bounds), sorted by key bytes. */
  async entries(range: { gte?: string; lt?: string } = {}): Promise<Array<[string, Buffer]>> {
    this.assertOpen();
    const r = sectionRange(this.name);
    const gte = range.gte !== undefined ? sectionKey(this.name, range.gte) : r.gte;
    const lt = range.lt !== undefined ? sectionKey(this.name, range.lt) : r.lt;
    const all = await this.db.iterator({ gte, lt }).all();
    return all.map(([k, v]) => [decodeSectionKey(this.name, k), v]);
  }
}
