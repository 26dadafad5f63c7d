/**
 * Helpers of the syncer integration tests: a store in a temp dir, a Syncer wired to it, waiting for the
 * syncer to catch up with a primary, and reading back what storage holds for one of the primary's files.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { FORMAT_DESCRIPTION_EVENT, LOG_EVENT_BINLOG_IN_USE_F } from '../../protocol/binlog/constants.js';
import type { SyncerArgs } from '../../src/config/config.js';
import { Metrics } from '../../src/metrics.js';
import { Syncer, type SyncerTuning } from '../../src/syncer/syncer.js';
import type { SyncerStatus } from '../../src/syncer/types.js';
import { openStore, type BinlogStore } from '../../storage/index.js';
import type { MariaDBInstance } from '../helpers/mariadb.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';

export interface Harness {
  dir: string;
  store: BinlogStore;
  syncer: Syncer;
  metrics: Metrics;
  logs: string[];
  log: Logger;
  /** Closes the syncer and the store and removes the directory. */
  destroy(): Promise<void>;
  /** Stops the syncer, closes and reopens the store, and makes a new Syncer on it (a proxy restart). */
  restart(): Promise<void>;
}

/**
 * A store in a temp dir and a Syncer on it. Like the daemon, the store is opened without a flavour unless one is
 * given: the syncer fixes it when it first connects.
 */
export async function makeHarness(tuning: SyncerTuning = {}, flavor?: 'mysql' | 'mariadb'): Promise<Harness> {
  const dir = await makeTempDir('bp-sync-');
  const logs: string[] = [];
  const sinkStream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      if (process.env.SYNCER_TEST_LOG) process.stderr.write(chunk);
      cb();
    },
  });
  const log = pino({ level: 'debug' }, sinkStream);
  const metrics = new Metrics({ defaultMetrics: false });
  const h: Harness = {
    dir,
    store: await openStore(path.join(dir, 'store'), flavor ? { flavor } : {}),
    syncer: null as unknown as Syncer,
    metrics,
    logs,
    log,
    async destroy() {
      await h.syncer.stop();
      await h.store.close();
      await removeTempDir(dir);
    },
    async restart() {
      await h.syncer.stop();
      await h.store.close();
      h.store = await openStore(path.join(dir, 'store'), flavor ? { flavor } : {});
      h.syncer = new Syncer({ store: h.store, log, metrics, tuning });
    },
  };
  h.syncer = new Syncer({ store: h.store, log, metrics, tuning });
  return h;
}

export function syncerArgs(db: MariaDBInstance, over: Partial<SyncerArgs> = {}): SyncerArgs {
  return {
    mysql_addr: `${db.host}:${db.port}`,
    mysql_user: 'repl',
    mysql_password: 'replpw',
    syncer_id: 4242,
    heartbeat_period_ms: 500,
    ...over,
  };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, describe?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${describe ? `: ${describe()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until storage holds the primary's binlog up to its current end (SHOW MASTER STATUS). */
export async function waitCaughtUp(h: Harness, db: MariaDBInstance, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    'the syncer to catch up',
    async () => {
      const rows = await db.query<Array<{ File: string; Position: number | string }>>('SHOW MASTER STATUS');
      const st = h.store.getState();
      return st.lastFile === rows[0]!.File && st.lastPos === BigInt(rows[0]!.Position) && st.durableSeq === st.lastSeq;
    },
    timeoutMs,
    () => JSON.stringify({ status: h.syncer.status(), state: stateText(h.store) }),
  );
}

export function stateText(store: BinlogStore): Record<string, unknown> {
  const s = store.getState();
  return { ...s, lastPos: s.lastPos.toString() };
}

/** The bytes storage holds for `file` from its first stored position, with that position. */
export async function storedFile(store: BinlogStore, file: string): Promise<{ firstPos: bigint; bytes: Buffer }> {
  const info = store.getFile(file);
  if (!info) throw new Error(`storage has no file ${file}; it has ${store.listFiles().map((f) => f.name).join(', ')}`);
  const reader = await store.openReader({ from: { file, pos: info.firstPos }, follow: false });
  const parts: Buffer[] = [];
  try {
    outer: for await (const batch of reader) {
      for (const u of batch) {
        if (u.file !== file) break outer;
        parts.push(u.data);
      }
    }
  } finally {
    await reader.return();
  }
  return { firstPos: info.firstPos, bytes: Buffer.concat(parts) };
}

/** A binlog file as the primary's dump thread sends it: the FDE's BINLOG_IN_USE flag cleared (the CRC ignores it). */
export async function primaryFile(p: string): Promise<Buffer> {
  const b = await readFile(p);
  if (b.length > 4 + 19 && b[4 + 4] === FORMAT_DESCRIPTION_EVENT) b.writeUInt16LE(b.readUInt16LE(4 + 17) & ~LOG_EVENT_BINLOG_IN_USE_F, 4 + 17);
  return b;
}

/** Asserts byte identity of every stored file with the primary's files on disk (throws with details). */
export async function compareWithPrimary(store: BinlogStore, files: string[]): Promise<number> {
  let compared = 0;
  for (const p of files) {
    const name = path.basename(p);
    const disk = await primaryFile(p);
    const stored = await storedFile(store, name);
    const expected = disk.subarray(Number(stored.firstPos));
    if (!stored.bytes.equals(expected)) {
      let i = 0;
      while (i < Math.min(stored.bytes.length, expected.length) && stored.bytes[i] === expected[i]) i++;
      throw new Error(
        `${name}: stored ${stored.bytes.length} bytes from ${stored.firstPos}, primary has ${expected.length}; first difference at file offset ${Number(stored.firstPos) + i}`,
      );
    }
    compared += expected.length;
  }
  return compared;
}

export function statusLine(s: SyncerStatus): string {
  return JSON.stringify({ status: s.status, last_error: s.last_error, file: s.last_binlog_file, pos: s.last_file_position, counters: s.counters });
}

/**
 * A TCP relay between the syncer and a primary, to cut the network: `cut()` resets every relayed
 * connection; `blackhole()` keeps them open but stops forwarding (a silent network failure); `heal()` ends
 * the black hole for new connections.
 */
export class TcpRelay {
  private server: import('node:net').Server | null = null;
  private readonly pairs = new Set<[import('node:net').Socket, import('node:net').Socket]>();
  private holed = false;
  port = 0;
  /** Bytes relayed from the primary to the client, over all connections. */
  downstreamBytes = 0;
  /** When set: flip the bits of the byte at this downstream offset (once). */
  private corruptAtByte: number | null = null;

  constructor(private readonly target: { host: string; port: number }) {}

  async listen(): Promise<number> {
    const net = await import('node:net');
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      const pair: [import('node:net').Socket, import('node:net').Socket] = [client, upstream];
      this.pairs.add(pair);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', drop);
      upstream.on('error', drop);
      client.on('close', drop);
      upstream.on('close', drop);
      client.on('data', (d: Buffer) => {
        if (!this.holed) upstream.write(d);
      });
      upstream.on('data', (d: Buffer) => {
        if (this.holed) return;
        const at = this.corruptAtByte;
        if (at !== null && at >= this.downstreamBytes && at < this.downstreamBytes + d.length) {
          d = Buffer.from(d);
          d[at - this.downstreamBytes] ^= 0xff;
          this.corruptAtByte = null;
        }
        this.downstreamBytes += d.length;
        client.write(d);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as import('node:net').AddressInfo).port;
    return this.port;
  }

  /** Corrupts one byte, `after` bytes from now, of what the primary sends. */
  corruptAfter(after: number): void {
    this.corruptAtByte = this.downstreamBytes + after;
  }

  get corruptionPending(): boolean {
    return this.corruptAtByte !== null;
  }

  get connections(): number {
    return this.pairs.size;
  }

  cut(): void {
    for (const [a, b] of this.pairs) {
      a.resetAndDestroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  blackhole(): void {
    this.holed = true;
  }

  heal(): void {
    this.holed = false;
  }

  async close(): Promise<void> {
    this.cut();
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}
