/**
 * Test helpers for the binlog sender: stores built from the real fixture files the way the syncer appends
 * them (units grouped by TransactionTracker), a capture-style DumpOutput that records every packet, and dump
 * contexts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import {
  BinlogEvent,
  decodeMariadbGtidList,
  decodePreviousGtids,
  EVENT_LEN_OFFSET,
  FORMAT_DESCRIPTION_EVENT,
  MARIADB_GTID_LIST_EVENT,
  PREVIOUS_GTIDS_LOG_EVENT,
  readBinlogFile,
  TransactionTracker,
  type FormatDescription,
} from '../../../protocol/binlog/index.js';
import { formatMariadbGtid, type MariadbGtid } from '../../../protocol/gtid/mariadb.js';
import { MysqlGtidSet, type MysqlGtid } from '../../../protocol/gtid/mysql.js';
import { openStore, type AppendUnit, type BinlogStore, type StoreOptions } from '../../../storage/index.js';
import type { DumpContext, DumpOutput, DumpProgress, DumpRequest, DumpSessionVars, Flavor } from '../../../src/server/dump/types.js';

export const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/binlog/', import.meta.url));

export function fixture(name: string): Buffer {
  return readFileSync(path.join(FIXTURES, name));
}

export interface FixtureUnits {
  units: AppendUnit[];
  /** Every event boundary of each file (start offsets, and the file's end). */
  boundaries: Map<string, bigint[]>;
}

/**
 * Cuts fixture files into the units the syncer would append: control events alone, transactions whole, the
 * first unit of a file with `newFile`, the PREVIOUS_GTIDS / GTID_LIST unit with `fileStartGtids`.
 * `names` are [fixture path, file name as the primary called it].
 */
export function unitsOf(files: Array<[string, string]>): FixtureUnits {
  const units: AppendUnit[] = [];
  const boundaries = new Map<string, bigint[]>();
  for (const [fixturePath, name] of files) {
    const buf = fixture(fixturePath);
    const tracker = new TransactionTracker();
    let pending: Buffer[] = [];
    let pendingPos = 0n;
    let pendingTs = 0;
    let first = true;
    const b: bigint[] = [];
    for (const { pos, event, fde } of readBinlogFile(buf)) {
      b.push(BigInt(pos));
      const r = tracker.push(event, fde);
      const raw = event.raw;
      if (r.role === 'control') {
        const unit: AppendUnit = { file: name, pos: BigInt(pos), events: [raw], kind: 'control', timestamp: event.timestamp };
        if (first) {
          if (event.typeCode !== FORMAT_DESCRIPTION_EVENT) throw new Error('the first event of a file is not an FDE');
          unit.newFile = { fde: raw };
          first = false;
        }
        const start = startGtidsOf(event, fde);
        if (start !== undefined) unit.fileStartGtids = start;
        units.push(unit);
        continue;
      }
      if (pending.length === 0) {
        pendingPos = BigInt(pos);
        pendingTs = event.timestamp;
      }
      pending.push(raw);
      if (r.complete) {
        const unit: AppendUnit = {
          file: name,
          pos: pendingPos,
          events: pending,
          kind: 'transaction',
          gtid: (r.gtid as MysqlGtid | MariadbGtid | undefined) ?? null,
          timestamp: pendingTs,
        };
        if (first) throw new Error('a file must start with a control event');
        units.push(unit);
        pending = [];
      }
    }
    b.push(BigInt(buf.length));
    boundaries.set(name, b);
  }
  return { units, boundaries };
}

function startGtidsOf(event: BinlogEvent, fde: FormatDescription): string | undefined {
  if (event.typeCode === PREVIOUS_GTIDS_LOG_EVENT) return decodePreviousGtids(event, fde).gtidSet.toString();
  if (event.typeCode === MARIADB_GTID_LIST_EVENT) return decodeMariadbGtidList(event, fde).gtids.map(formatMariadbGtid).join(',');
  return undefined;
}

export async function storeOf(dir: string, flavor: Flavor, units: AppendUnit[], opts: StoreOptions = {}): Promise<BinlogStore> {
  const store = await openStore(dir, { flavor, ...opts });
  for (const u of units) await store.append(u);
  await store.flush();
  return store;
}

// ---- capture output ----------------------------------------------------------------------------------------

export type Packet =
  | { kind: 'event'; event: Buffer; needAck: boolean }
  | { kind: 'eof' }
  | { kind: 'error'; errno: number; sqlState: string; message: string };

/** Records packets. `highWaterMark` bytes of unacknowledged output make sendEvent return false until drain. */
export class CaptureOutput implements DumpOutput {
  readonly packets: Packet[] = [];
  readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  private ackListeners: Array<(file: string, position: bigint) => void> = [];
  private buffered = 0;
  private drainWaiters: Array<() => void> = [];
  private changeWaiters: Array<() => void> = [];
  drains = 0;
  batchCalls = 0;
  /** Highest number of bytes buffered at once. */
  peakBuffered = 0;

  constructor(
    private readonly opts: { highWaterMark?: number; batch?: boolean; ranges?: boolean; autoDrain?: boolean } = {},
  ) {
    if (opts.batch === false) (this as { sendEvents?: unknown }).sendEvents = undefined;
    if (opts.batch === false || opts.ranges === false) (this as { sendEventRanges?: unknown }).sendEventRanges = undefined;
    if (opts.batch === false || opts.ranges === false) (this as { sendFramed?: unknown }).sendFramed = undefined;
  }

  rangeCalls = 0;
  framedCalls = 0;

  /** Parses packets framed from sequence id 0 back into events (checking headers, ids and the totals). */
  sendFramed(framed: Buffer, packets: number, eventBytes: number): boolean {
    this.framedCalls++;
    let n = 0;
    let total = 0;
    for (let at = 0; at < framed.length; ) {
      const payload = framed.readUIntLE(at, 3);
      if (framed[at + 3] !== (n & 0xff) || framed[at + 4] !== 0 || at + 4 + payload > framed.length) throw new Error(`bad framed packet at ${at}`);
      const event = framed.subarray(at + 5, at + 4 + payload);
      if (event.readUInt32LE(EVENT_LEN_OFFSET) !== event.length) throw new Error(`framed event size at ${at}`);
      this.packets.push({ kind: 'event', event: Buffer.from(event), needAck: false });
      total += event.length;
      n++;
      at += 4 + payload;
    }
    if (n !== packets || total !== eventBytes) throw new Error(`sendFramed: said ${packets}/${eventBytes}, holds ${n}/${total}`);
    return this.account(total);
  }

  /** Checks what the caller says of the runs (events, largest, bytes), then records them as sendEvents does. */
  sendEventRanges(data: Buffer, ranges: readonly number[], count: number, events: number, maxEvent: number, bytes: number): boolean {
    this.rangeCalls++;
    let n = 0;
    let total = 0;
    let max = 0;
    for (let k = 0; k < count; k++) {
      const start = ranges[2 * k]!;
      const end = ranges[2 * k + 1]!;
      if (k > 0 && start < ranges[2 * k - 1]!) throw new Error('runs out of order');
      for (let off = start; off < end; ) {
        const size = data.readUInt32LE(off + EVENT_LEN_OFFSET);
        if (off + size > end) throw new Error('event overruns its run');
        this.packets.push({ kind: 'event', event: Buffer.from(data.subarray(off, off + size)), needAck: false });
        max = Math.max(max, size);
        n++;
        off += size;
      }
      total += end - start;
    }
    if (n !== events || total !== bytes || max > maxEvent) throw new Error(`sendEventRanges: said ${events}/${bytes}/${maxEvent}, runs hold ${n}/${total}/${max}`);
    return this.account(total);
  }

  sendEvent(event: Buffer, opts?: { needAck?: boolean }): boolean {
    this.packets.push({ kind: 'event', event: Buffer.from(event), needAck: opts?.needAck === true });
    return this.account(event.length);
  }

  sendEvents(data: Buffer, start: number, end: number): boolean {
    this.batchCalls++;
    for (let off = start; off < end; ) {
      const size = data.readUInt32LE(off + EVENT_LEN_OFFSET);
      this.packets.push({ kind: 'event', event: Buffer.from(data.subarray(off, off + size)), needAck: false });
      off += size;
    }
    if (start > end) throw new Error('bad run');
    return this.account(end - start);
  }

  private account(n: number): boolean {
    this.buffered += n;
    this.peakBuffered = Math.max(this.peakBuffered, this.buffered);
    this.notify();
    const hwm = this.opts.highWaterMark;
    if (hwm === undefined) {
      this.buffered = 0;
      return true;
    }
    return this.buffered < hwm;
  }

  drain(): Promise<void> {
    this.drains++;
    if (this.opts.highWaterMark === undefined || this.buffered < this.opts.highWaterMark) return Promise.resolve();
    if (this.opts.autoDrain !== false) {
      return new Promise((resolve) => {
        setImmediate(() => {
          this.buffered = 0;
          resolve();
        });
      });
    }
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** The reader consumed everything (for autoDrain: false). */
  release(): void {
    this.buffered = 0;
    for (const w of this.drainWaiters.splice(0)) w();
  }

  sendError(errno: number, sqlState: string, message: string): void {
    this.packets.push({ kind: 'error', errno, sqlState, message });
    this.notify();
  }

  sendEof(): void {
    this.packets.push({ kind: 'eof' });
    this.notify();
  }

  onAck(listener: (file: string, position: bigint) => void): void {
    this.ackListeners.push(listener);
  }

  ack(file: string, position: bigint): void {
    for (const l of this.ackListeners) l(file, position);
  }

  get events(): Buffer[] {
    return this.packets.flatMap((p) => (p.kind === 'event' ? [p.event] : []));
  }

  get error(): Extract<Packet, { kind: 'error' }> | undefined {
    return this.packets.find((p): p is Extract<Packet, { kind: 'error' }> => p.kind === 'error');
  }

  private notify(): void {
    for (const w of this.changeWaiters.splice(0)) w();
  }

  /** Resolves when `pred` holds (checked after every packet), or rejects after `ms`. */
  async waitFor(pred: (o: CaptureOutput) => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred(this)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms; ${this.packets.length} packets`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.changeWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

// ---- contexts ----------------------------------------------------------------------------------------------

export const IDENTITY = { serverId: 999, serverUuid: 'bbbbbbbb-0000-0000-0000-000000000999' };

export function vars(flavor: Flavor, v: Partial<DumpSessionVars> = {}): DumpSessionVars {
  return {
    flavor,
    clientChecksum: 'CRC32',
    heartbeatPeriodNs: 0n,
    mariadbSlaveCapability: flavor === 'mariadb' ? 4 : 0,
    slaveConnectState: null,
    slaveGtidStrictMode: false,
    slaveGtidIgnoreDuplicates: false,
    slaveUntilGtid: null,
    semiSync: false,
    replicaUuid: null,
    skipReplication: false,
    ...v,
  };
}

export function fileDump(fileName: string, position: number, flags = 1, serverId = 2): DumpRequest {
  return { command: 'COM_BINLOG_DUMP', position, flags, serverId, fileName };
}

export function gtidDump(set: string, flags = 1, fileName = '', position = 4n, serverId = 2): DumpRequest {
  return { command: 'COM_BINLOG_DUMP_GTID', flags, serverId, fileName, position, gtidSet: MysqlGtidSet.parse(set) };
}

export function progress(): DumpProgress {
  return { file: null, position: null, gtid: null, eventsSent: 0, bytesSent: 0, lastEventTimestamp: null };
}

export const silentLog = pino({ level: 'silent' });

export function ctxOf(v: DumpSessionVars, request: DumpRequest, output: DumpOutput): DumpContext {
  return { identity: IDENTITY, vars: v, request, output, log: silentLog, progress: progress() };
}

/**
 * Byte equality with a useful message (vitest's deep equality on big Buffers is slow and its diff unreadable):
 * the first differing offset and a few bytes around it.
 */
export function sameBytes(actual: Buffer, expected: Buffer): string {
  if (actual.equals(expected)) return 'equal';
  const n = Math.min(actual.length, expected.length);
  let i = 0;
  while (i < n && actual[i] === expected[i]) i++;
  const around = (b: Buffer): string => b.subarray(Math.max(0, i - 4), i + 8).toString('hex');
  return `differ at ${i} (lengths ${actual.length} / ${expected.length}): ${around(actual)} vs ${around(expected)}`;
}
