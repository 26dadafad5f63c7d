/**
 * discovery's `KvRange` over etcd: a byte-ordered key space under `<prefix>shared/<namespace>/`, shared
 * by every node and not tied to any lease (it outlives the node that wrote it). Keys are stored as the
 * namespace prefix followed by the caller's raw key bytes, so etcd's byte order is the caller's order.
 * Every call has a deadline; a slow or absent etcd surfaces as ClusterError ERR_CLUSTER_UNAVAILABLE.
 */
import type { Etcd3, IKeyValue } from 'etcd3';
import type { KvRange } from '../discovery/store.js';
import { ClusterError } from './errors.js';
import { prefixRangeEnd } from './keys.js';

const PAGE = 256;

export class EtcdKvRange implements KvRange {
  private readonly end: Buffer;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: Buffer,
    private readonly callTimeoutMs: number,
  ) {
    if (prefix.length === 0) throw new ClusterError('ERR_CLUSTER_STATE', 'a shared key range needs a non-empty prefix');
    this.end = prefixRangeEnd(prefix);
  }

  private full(key: Buffer): Buffer {
    return Buffer.concat([this.prefix, key]);
  }

  private deadline(): { deadline: Date } {
    return { deadline: new Date(Date.now() + this.callTimeoutMs) };
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new ClusterError('ERR_CLUSTER_UNAVAILABLE', `etcd ${what} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    const value = await this.call('get', () => this.client.get(this.full(key)).options(this.deadline()).buffer());
    return value ?? undefined;
  }

  async put(key: Buffer, value: Buffer): Promise<void> {
    await this.call('put', () => this.client.put(this.full(key)).value(value).options(this.deadline()).exec());
  }

  async del(key: Buffer): Promise<void> {
    await this.call('delete', () => this.client.delete().key(this.full(key)).options(this.deadline()).exec());
  }

  /** Pages through the range (PAGE keys per request) at one revision, so a scan is a consistent snapshot. */
  async *iterate(opts: { gte?: Buffer; lt?: Buffer }): AsyncIterable<[Buffer, Buffer]> {
    let start = opts.gte !== undefined ? this.full(opts.gte) : this.prefix;
    const stop = opts.lt !== undefined ? this.full(opts.lt) : this.end;
    if (Buffer.compare(start, stop) >= 0) return;
    let revision: string | null = null;
    for (;;) {
      const from = start;
      const res = await this.call('range', () => {
        const builder = this.client.getAll().inRange({ start: from, end: stop }).sort('Key', 'Ascend').limit(PAGE).options(this.deadline());
        if (revision !== null) builder.revision(revision);
        return builder.exec();
      });
      revision ??= res.header.revision;
      const kvs: IKeyValue[] = res.kvs;
      for (const kv of kvs) yield [Buffer.from(kv.key.subarray(this.prefix.length)), Buffer.from(kv.value)];
      if (!res.more || kvs.length === 0) return;
      // Next page: just after the last key seen.
      start = Buffer.concat([kvs[kvs.length - 1]!.key, Buffer.of(0)]);
    }
  }
}
