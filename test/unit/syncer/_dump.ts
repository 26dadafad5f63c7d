/**
 * Test helpers for the syncer pipeline: dump streams built from the real binlog fixtures the way a primary
 * sends them (fake ROTATE, FDE restamped, events verbatim), and a sink that records what the pipeline does.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  BINLOG_CHECKSUM_ALG_CRC32,
  buildFakeRotate,
  readBinlogFile,
  restampFde,
  TransactionTracker,
  type BinlogFileEvent,
} from '../../../protocol/binlog/index.js';
import type { LargeBegin, LargeEnd, PipelineSink, SyncUnit } from '../../../src/syncer/pipeline.js';

export const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/binlog/', import.meta.url));

export interface DumpFile {
  name: string;
  buf: Buffer;
}

export function fixture(dir: string, name: string, as = name): DumpFile {
  return { name: as, buf: readFileSync(`${FIXTURES}${dir}/${name}`) };
}

export function events(f: DumpFile): BinlogFileEvent[] {
  return [...readBinlogFile(f.buf)];
}

export function packet(event: Buffer, semi?: { needAck: boolean }): Buffer {
  return semi ? Buffer.concat([Buffer.from([0, 0xef, semi.needAck ? 1 : 0]), event]) : Buffer.concat([Buffer.from([0]), event]);
}

export interface DumpOptions {
  serverId?: number;
  /** Checksum of the fake ROTATE (default true). */
  rotateChecksum?: boolean;
}

/**
 * What a primary sends for a file/position dump that starts in files[0] at `pos` and goes on through the
 * following files from position 4 (one fake ROTATE + FDE per file, as MariaDB and MySQL do).
 */
export function dumpStream(files: DumpFile[], pos: number, opts: DumpOptions = {}): Buffer[] {
  const out: Buffer[] = [];
  files.forEach((f, i) => {
    const start = i === 0 ? pos : 4;
    const all = events(f);
    out.push(buildFakeRotate({ serverId: opts.serverId ?? 1, position: BigInt(start), fileName: f.name, checksum: opts.rotateChecksum ?? true }));
    const fde = all[0]!;
    if (start > 4) out.push(restampFde(fde.event.raw, { clearInUse: true, zeroLogPosAndCreated: true }));
    for (const e of all) {
      if (e.pos < start) continue;
      out.push(e.pos === 4 ? restampFde(e.event.raw, { clearInUse: true, zeroLogPosAndCreated: false }) : e.event.raw);
    }
  });
  return out.map((e) => packet(e));
}

/** Start offsets of every group (transaction) in a file, with the tracker's GTID. */
export function groupStarts(f: DumpFile): Array<{ pos: number; end: number; gtid: unknown }> {
  const tracker = new TransactionTracker();
  const starts: Array<{ pos: number; end: number; gtid: unknown }> = [];
  let open = -1;
  for (const e of events(f)) {
    const r = tracker.push(e.event, e.fde);
    if (!r.complete && r.role === 'start') open = e.pos;
    if (r.complete) {
      starts.push({ pos: open >= 0 ? open : e.pos, end: e.pos + e.event.raw.length, gtid: r.gtid });
      open = -1;
    }
  }
  return starts;
}

export type SinkCall =
  | { t: 'unit'; unit: SyncUnit }
  | { t: 'largeBegin'; meta: LargeBegin; events: Buffer[] }
  | { t: 'largeEvent'; event: Buffer }
  | { t: 'largeEnd'; end: LargeEnd }
  | { t: 'ack'; file: string; pos: bigint }
  | { t: 'heartbeat'; file: string; pos: bigint }
  | { t: 'located'; file: string; pos: bigint }
  | { t: 'notice'; message: string };

export class RecordingSink implements PipelineSink {
  readonly calls: SinkCall[] = [];
  unit(unit: SyncUnit): void {
    this.calls.push({ t: 'unit', unit });
  }
  largeBegin(meta: LargeBegin, evs: Buffer[]): void {
    this.calls.push({ t: 'largeBegin', meta, events: evs });
  }
  largeEvent(event: Buffer): void {
    this.calls.push({ t: 'largeEvent', event });
  }
  largeEnd(end: LargeEnd): void {
    this.calls.push({ t: 'largeEnd', end });
  }
  ack(file: string, pos: bigint): void {
    this.calls.push({ t: 'ack', file, pos });
  }
  heartbeat(file: string, pos: bigint): void {
    this.calls.push({ t: 'heartbeat', file, pos });
  }
  located(file: string, pos: bigint): void {
    this.calls.push({ t: 'located', file, pos });
  }
  notice(message: string): void {
    this.calls.push({ t: 'notice', message });
  }
  get units(): SyncUnit[] {
    return this.calls.flatMap((c) => (c.t === 'unit' ? [c.unit] : []));
  }
  /** Bytes stored per file, in order (units and streamed transactions), keyed by file name. */
  storedBytes(): Map<string, { start: bigint; bytes: Buffer }> {
    const out = new Map<string, { start: bigint; parts: Buffer[] }>();
    let largeFile = '';
    const add = (file: string, pos: bigint, parts: Buffer[]): void => {
      let e = out.get(file);
      if (!e) out.set(file, (e = { start: pos, parts: [] }));
      e.parts.push(...parts);
    };
    for (const c of this.calls) {
      if (c.t === 'unit') add(c.unit.file, c.unit.pos, c.unit.events);
      else if (c.t === 'largeBegin') {
        largeFile = c.meta.file;
        add(c.meta.file, c.meta.pos, c.events);
      } else if (c.t === 'largeEvent') add(largeFile, 0n, [c.event]);
    }
    return new Map([...out].map(([k, v]) => [k, { start: v.start, bytes: Buffer.concat(v.parts) }]));
  }
}

export const CRC32 = BINLOG_CHECKSUM_ALG_CRC32;
