/**
 * Persistence of discovered instances behind two tiny interfaces:
 *   - KvRange: an ordered key-value range the storage layer hands to discovery (its own key space);
 *   - InstanceStore: get/put/list/delete of instances, implemented here over any KvRange.
 *
 * Key layout inside the range (all of discovery's keys are in this file):
 *   0x00 'format'                          -> u32 BE format version (FORMAT_VERSION)
 *   0x01 host(utf8) 0x00 port(u16 BE)      -> Instance as UTF-8 JSON
 * Host bytes never contain 0x00 (validated), so instances sort by host, then port.
 */
import { DiscoveryError } from './errors.js';
import { formatKey } from './key.js';
import type { Instance, InstanceKey } from './types.js';

export interface KvRange {
  get(key: Buffer): Promise<Buffer | undefined>;
  put(key: Buffer, value: Buffer): Promise<void>;
  del(key: Buffer): Promise<void>;
  /** Entries with gte <= key < lt, in key order. */
  iterate(opts: { gte?: Buffer; lt?: Buffer }): AsyncIterable<[Buffer, Buffer]>;
}

export interface InstanceStore {
  get(key: InstanceKey): Promise<Instance | undefined>;
  /** Inserts or replaces the instance stored under `instance.key`. */
  put(instance: Instance): Promise<void>;
  /** Every stored instance, ordered by host then port. */
  list(): Promise<Instance[]>;
  /** True when something was deleted. */
  delete(key: InstanceKey): Promise<boolean>;
}

export const FORMAT_VERSION = 1;

const PREFIX_META = 0x00;
const PREFIX_INSTANCE = 0x01;

export const FORMAT_KEY = Buffer.concat([Buffer.of(PREFIX_META), Buffer.from('format', 'ascii')]);

/** 0x01 host 0x00 port(u16 BE). */
export function instanceKeyBytes(key: InstanceKey): Buffer {
  const host = Buffer.from(key.host, 'utf8');
  if (host.includes(0)) throw new DiscoveryError('ERR_DISCOVERY_BAD_REQUEST', 'invalid host: contains NUL');
  if (!Number.isInteger(key.port) || key.port < 0 || key.port > 0xffff) {
    throw new DiscoveryError('ERR_DISCOVERY_BAD_REQUEST', `invalid port ${key.port}`);
  }
  const out = Buffer.alloc(1 + host.length + 1 + 2);
  out[0] = PREFIX_INSTANCE;
  host.copy(out, 1);
  out[1 + host.length] = 0;
  out.writeUInt16BE(key.port, 2 + host.length);
  return out;
}

export function decodeInstanceKeyBytes(bytes: Buffer): InstanceKey {
  const nul = bytes.indexOf(0, 1);
  if (bytes[0] !== PREFIX_INSTANCE || nul < 0 || bytes.length !== nul + 3) {
    throw new DiscoveryError('ERR_DISCOVERY_STORE', `malformed instance key ${bytes.toString('hex')}`);
  }
  return { host: bytes.subarray(1, nul).toString('utf8'), port: bytes.readUInt16BE(nul + 1) };
}

/** All instance keys: [0x01, 0x02). */
export function instanceRange(): { gte: Buffer; lt: Buffer } {
  return { gte: Buffer.of(PREFIX_INSTANCE), lt: Buffer.of(PREFIX_INSTANCE + 1) };
}

function decodeInstance(keyBytes: Buffer, value: Buffer): Instance {
  const key = decodeInstanceKeyBytes(keyBytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (err) {
    throw new DiscoveryError('ERR_DISCOVERY_STORE', `stored instance ${formatKey(key)} is not valid JSON`, { cause: err });
  }
  const inst = parsed as Partial<Instance> | null;
  if (
    typeof inst !== 'object' || inst === null || typeof inst.key?.host !== 'string' || inst.key.host !== key.host ||
    inst.key.port !== key.port || typeof inst.server_id !== 'number' || typeof inst.first_seen_at !== 'string'
  ) {
    throw new DiscoveryError('ERR_DISCOVERY_STORE', `stored instance ${formatKey(key)} does not have the expected fields`);
  }
  return parsed as Instance;
}

/** InstanceStore over a KvRange. Create with `open()`, which checks (or writes) the format version. */
export class KvInstanceStore implements InstanceStore {
  private constructor(private readonly kv: KvRange) {}

  static async open(kv: KvRange): Promise<KvInstanceStore> {
    const stored = await kv.get(FORMAT_KEY);
    if (stored === undefined) {
      const v = Buffer.alloc(4);
      v.writeUInt32BE(FORMAT_VERSION);
      await kv.put(FORMAT_KEY, v);
    } else {
      const version = stored.length === 4 ? stored.readUInt32BE(0) : -1;
      if (version !== FORMAT_VERSION) {
        throw new DiscoveryError(
          'ERR_DISCOVERY_STORE',
          `discovery store format ${version === -1 ? `(malformed: ${stored.toString('hex')})` : version} is not the supported ${FORMAT_VERSION}`,
        );
      }
    }
    return new KvInstanceStore(kv);
  }

  async get(key: InstanceKey): Promise<Instance | undefined> {
    const k = instanceKeyBytes(key);
    const v = await this.kv.get(k);
    return v === undefined ? undefined : decodeInstance(k, v);
  }

  async put(instance: Instance): Promise<void> {
    await this.kv.put(instanceKeyBytes(instance.key), Buffer.from(JSON.stringify(instance), 'utf8'));
  }

  async list(): Promise<Instance[]> {
    const out: Instance[] = [];
    for await (const [k, v] of this.kv.iterate(instanceRange())) out.push(decodeInstance(k, v));
    return out;
  }

  async delete(key: InstanceKey): Promise<boolean> {
    const k = instanceKeyBytes(key);
    if ((await this.kv.get(k)) === undefined) return false;
    await this.kv.del(k);
    return true;
  }
}

/** An in-memory KvRange (sorted by bytes), for tests and for running without a data directory. */
export class MemoryKvRange implements KvRange {
  private readonly map = new Map<string, Buffer>();

  async get(key: Buffer): Promise<Buffer | undefined> {
    const v = this.map.get(key.toString('hex'));
    return v === undefined ? undefined : Buffer.from(v);
  }

  async put(key: Buffer, value: Buffer): Promise<void> {
    this.map.set(key.toString('hex'), Buffer.from(value));
  }

  async del(key: Buffer): Promise<void> {
    this.map.delete(key.toString('hex'));
  }

  async *iterate(opts: { gte?: Buffer; lt?: Buffer }): AsyncIterable<[Buffer, Buffer]> {
    const keys = [...this.map.keys()].map((h) => Buffer.from(h, 'hex')).sort(Buffer.compare);
    for (const k of keys) {
      if (opts.gte !== undefined && Buffer.compare(k, opts.gte) < 0) continue;
      if (opts.lt !== undefined && Buffer.compare(k, opts.lt) >= 0) continue;
      const v = this.map.get(k.toString('hex'));
      if (v !== undefined) yield [k, Buffer.from(v)];
    }
  }
}
