/**
 * A reader of the log: an async iterator of batches (arrays) of stored units, in log order, from a start
 * location through the stored history and then, unless `follow` is false, along the live tail until it is
 * cancelled (`return()`, or the AbortSignal) or the store closes. `next()` then resolves `done`.
 *
 * Where the bytes come from: a LevelDB iterator while catching up (big `nextv` batches bounded by
 * `highWaterMarkBytes`), and the store's in-memory tail cache (the exact segment values just written) once it
 * is close to the end. Both go through the same decoder, so they yield the same bytes.
 *
 * Readers see only durable units (see BinlogStore: a replica must never get a transaction that a crash could
 * still take away from the proxy), unless the store was opened with serveBeforeSync, where they also get the
 * whole units queued for the disk from the tail cache. A unit is yielded only once it is complete, so a reader
 * never sees a partial transaction; the chunks of a huge transaction are yielded in order, marked by `chunk` /
 * `lastChunk`.
 */
import type { Iterator as LevelIterator } from 'classic-level';
import { StorageError } from './errors.js';
import { decodeLogKey, logKey, logRange, SUB_CHECKPOINT } from './keys.js';
import type { Db } from './log-io.js';
import { storedLength, type SegmentFiles } from './segment-files.js';
import {
  checkRecordAt,
  checkSegmentFormat,
  concatSegments,
  decodeRecordAt,
  decodeSegment,
  recordField,
  UuidCache,
  wholeUnitCount,
  type LogRecord,
} from './records.js';
import type { Location, PackedUnits, ReadItem, StoredUnit } from './types.js';

/** A segment value as written, kept by the store's tail cache. */
export interface CachedSegment {
  keySeq: number;
  keySub: number;
  value: Buffer;
  /** Last unit completed in this segment. */
  lastSeq: number;
  /** Decoded units, filled by the first reader that needs them and shared afterwards. */
  units?: StoredUnit[];
}

/**
 * Segments read from disk, shared by the readers of a store: readers at nearby positions (a fan-out of
 * replicas catching up together) read each segment from LevelDB once instead of once each. Holds whole
 * segments (key sub 0) by the sequence of their first unit, oldest dropped first, up to `maxBytes`. Segments
 * that are durable never change (a key is written once; purge only removes keys readers can no longer reach),
 * so nothing needs invalidating; recoverWrites() clears it anyway.
 */
export class SharedReadCache {
  private readonly segs = new Map<number, Buffer>();
  private bytes = 0;
  /** Reads in flight, by the unit at the cursor of the reader that started them. */
  private readonly inflight = new Map<number, Promise<unknown>>();

  constructor(
    private readonly maxBytes: number,
    private readonly onEvict?: (bytes: number) => void,
  ) {}

  get(keySeq: number): Buffer | undefined {
    return this.segs.get(keySeq);
  }

  /** A read in flight that starts at unit `seq` (settles when its segments are in the cache). */
  pending(seq: number): Promise<unknown> | undefined {
    return this.inflight.get(seq);
  }

  reading(seq: number, read: Promise<unknown>): void {
    if (this.inflight.has(seq)) return;
    const settled = read.then(
      () => undefined,
      () => undefined,
    );
    this.inflight.set(seq, settled);
    void settled.then(() => {
      if (this.inflight.get(seq) === settled) this.inflight.delete(seq);
    });
  }

  put(keySeq: number, value: Buffer): void {
    if (value.length > this.maxBytes >> 2 || this.segs.has(keySeq)) return;
    this.segs.set(keySeq, value);
    this.bytes += value.length;
    if (this.bytes <= this.maxBytes) return;
    let evicted = 0;
    for (const [k, v] of this.segs) {
      this.segs.delete(k);
      this.bytes -= v.length;
      evicted += v.length;
      if (this.bytes <= this.maxBytes) break;
    }
    this.onEvict?.(evicted);
  }

  clear(): void {
    this.segs.clear();
    this.inflight.clear();
    this.bytes = 0;
  }
}

/**
 * History written live is small segments: each group commit seals its own, so at 1,000 transactions/s most
 * hold one or two transactions of ~500 bytes, against 64 KiB for history written in bulk. Each one costs a
 * reader a LevelDB entry, a shared-cache entry and, in a dump, a run framed and sent on its own: 50 replicas
 * catching up over 30k such segments grew the daemon's heap by ~60 MB (bench/run.ts, the restarted fan-out).
 * A reader therefore merges runs of consecutive small whole-unit segments of one LevelDB batch into one value
 * (copying small values only) before anything else sees them. A merged value is what one segment of those
 * units would have been, keyed by its first unit, so every path that takes segments takes it unchanged.
 * Runs never cross a multiple of MERGE_SPAN units: readers that started at different places cut the same runs
 * from the next multiple on, and keep finding each other's values in the shared cache.
 */
const SMALL_SEGMENT_BYTES = 16 << 10;
const MERGED_SEGMENT_BYTES = 64 << 10;
const MERGE_SPAN = 256;

/** `entries` of a LevelDB batch (log keys, in order) with runs of small whole-unit segments merged. */
export function mergeSmallSegments(entries: Array<[Buffer, Buffer]>): Array<[Buffer, Buffer]> {
  if (entries.length < 2) return entries;
  const out: Array<[Buffer, Buffer]> = [];
  /** The open run: its entries, first unit, the unit after it, and the bytes of its merged value. */
  let run: Array<[Buffer, Buffer]> = [];
  let first = 0;
  let next = 0;
  let bytes = 0;
  const flush = (): void => {
    if (run.length === 1) out.push(run[0]!);
    else if (run.length > 1) out.push([logKey(first, 0), concatSegments(run.map((e) => e[1]), bytes)]);
    run = [];
  };
  for (const entry of entries) {
    const [key, value] = entry;
    const k = decodeLogKey(key);
    const units = k.sub === 0 && value.length <= SMALL_SEGMENT_BYTES ? wholeUnitCount(k.seq, 0, value) : 0;
    const joins = run.length > 0 && k.seq === next && Math.floor(k.seq / MERGE_SPAN) === Math.floor(first / MERGE_SPAN) && bytes + value.length - 1 <= MERGED_SEGMENT_BYTES;
    if (units === 0 || !joins) {
      flush();
      if (units === 0) {
        out.push(entry);
        continue;
      }
      first = k.seq;
      next = k.seq;
      bytes = 1;
    }
    run.push(entry);
    bytes += value.length - 1;
    next += units;
  }
  flush();
  return out;
}

/** What a reader needs from the store. */
export interface ReaderHost {
  readonly db: Db;
  /** Where the segments of bulk groups are (their log values are pointers). */
  readonly segs: SegmentFiles;
  /** Segments other readers read from disk recently (null: no sharing). */
  readonly readCache: SharedReadCache | null;
  /** Open readers. */
  readerCount(): number;
  durableSeq(): number;
  /** The last unit readers may get: durableSeq, or later with serveBeforeSync (those are in the tail cache). */
  visibleSeq(): number;
  isClosed(): boolean;
  failure(): StorageError | null;
  fileName(fileNo: number): string;
  /** Cached segments starting with the one holding unit `seq`, up to about maxBytes; null if not cached. */
  cachedFrom(seq: number, maxBytes: number): CachedSegment[] | null;
  /**
   * Calls `wake` once the visible (or with `durable`, the durable) sequence passes `seq` or the store closes
   * (at once if already so).
   */
  addWaiter(seq: number, wake: () => void, durable?: boolean): void;
  removeWaiter(wake: () => void): void;
  unregister(reader: StoreReader<ReadItem>): void;
}

export function toStoredUnit(r: LogRecord, file: string): StoredUnit {
  return {
    seq: r.seq,
    kind: r.kind,
    file,
    fileNo: r.fileNo,
    pos: r.pos,
    endPos: r.pos + BigInt(r.data.length),
    unitPos: r.unitPos,
    chunk: r.chunk,
    lastChunk: r.last,
    gtid: r.gtid,
    timestamp: r.timestamp,
    data: r.data,
  };
}

/** A run being collected by a packed reader. */
interface OpenRun {
  firstSeq: number;
  fileNo: number;
  records: number[];
}

/**
 * Segments found to be one run of whole transactions of one file, from their first record (the common case):
 * the record offsets, shared by the packed readers that take the same segment value from the shared cache.
 */
const WHOLE_RUNS = new WeakMap<Buffer, { fileNo: number; records: number[] }>();

/** Conversions of packed units (their fallback, rare, path): a cache of its own. */
const unpackUuids = new UuidCache();

/** Unit `i` of a packed run as a StoredUnit. */
export function unpackUnit(run: PackedUnits, i: number): StoredUnit {
  return toStoredUnit(decodeRecordAt(run.value, run.records[i]!, run.firstSeq + i, unpackUuids), run.file);
}

/**
 * Yields batches of `T`: StoredUnit, or with `packed` (T = ReadItem) runs of whole transactions as PackedUnits
 * (one object per run of a segment instead of one per unit) and StoredUnits for the rest.
 */
export class StoreReader<T extends ReadItem = StoredUnit> implements AsyncIterableIterator<T[]> {
  /** Next piece to yield. */
  private seq: number;
  private chunk: number;
  private skip: number;
  /** Oldest unit the consumer may still hold (first of the last batch): purge keeps its file. */
  private hold: number;
  private it: LevelIterator<Db, Buffer, Buffer> | null = null;
  private prefetch: Promise<Array<[Buffer, Buffer]>> | null = null;
  /**
   * Entries the open iterator returned that no batch took yet. LevelDB's byte limit counts a pointer value as
   * its 21 bytes, so one LevelDB batch of pointers names up to 1024 segments; a batch takes about batchBytes of
   * them, and the rest waits here (one LevelDB call per 1024 segments, one read per batch).
   */
  private pending: Array<[Buffer, Buffer]> = [];
  private pendingAt = 0;
  /** Exclusive upper bound (in units) of the open iterator. */
  private itEnd = 0;
  /** The cursor is at the first unit of a segment on disk (its key is logKey(seq, 0)). */
  private atSegmentStart = false;
  private done = false;
  private busy = false;
  /** Ends the current wait for the tail, if any. */
  private wakeWait: (() => void) | null = null;
  private readonly onAbort: () => void;

  constructor(
    private readonly host: ReaderHost,
    start: Location,
    private readonly uuids: UuidCache,
    private readonly follow: boolean,
    private readonly batchBytes: number,
    private readonly signal: AbortSignal | undefined,
    private readonly packed = false,
  ) {
    this.seq = start.seq;
    this.chunk = start.chunk;
    this.skip = start.skip;
    this.hold = start.seq;
    this.onAbort = () => this.cancel();
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The oldest unit this reader may still need (purge never removes its file). */
  get holdSeq(): number {
    return this.hold;
  }

  /** Where the next batch starts. */
  get position(): { seq: number; chunk: number } {
    return { seq: this.seq, chunk: this.chunk };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<T[]>> {
    if (this.busy) throw new StorageError('ERR_STORAGE_BUSY', 'StoreReader.next() called while a previous next() is pending');
    this.busy = true;
    try {
      return await this.read();
    } catch (err) {
      await this.finish();
      throw err;
    } finally {
      this.busy = false;
    }
  }

  /** Ends the reader at once, even while next() is waiting for the tail. */
  async return(): Promise<IteratorResult<T[]>> {
    this.cancel();
    await this.finish();
    return { done: true, value: undefined };
  }

  private cancel(): void {
    this.done = true;
    this.wakeWait?.();
  }

  /** Waits (without polling) until a unit after `seq` is visible (or durable), the store closes, or the reader is cancelled. */
  private waitTail(seq: number, durable = false): Promise<void> {
    // return() may have come while this reader was between two awaits: do not start waiting then.
    if (this.done || this.signal?.aborted === true) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        this.host.removeWaiter(wake);
        this.wakeWait = null;
        resolve();
      };
      this.wakeWait = wake;
      this.host.addWaiter(seq, wake, durable);
    });
  }

  private async finish(): Promise<void> {
    this.done = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.host.unregister(this);
    await this.closeIterator();
  }

  private async closeIterator(): Promise<void> {
    const it = this.it;
    this.it = null;
    this.prefetch = null;
    this.pending = [];
    this.pendingAt = 0;
    if (it !== null) await it.close(); // waits for a read-ahead in flight
  }

  private async read(): Promise<IteratorResult<T[]>> {
    for (;;) {
      if (this.done || this.host.isClosed() || this.signal?.aborted === true) {
        await this.finish();
        return { done: true, value: undefined };
      }
      const failure = this.host.failure();
      if (failure !== null) throw failure;
      if (this.seq > this.host.visibleSeq()) {
        if (!this.follow) {
          await this.finish();
          return { done: true, value: undefined };
        }
        await this.closeIterator();
        await this.waitTail(this.seq - 1);
        continue;
      }
      const units = await this.readSome();
      if (units.length > 0) {
        const first = units[0]!;
        this.hold = 'packed' in first ? first.firstSeq : first.seq;
        return { done: false, value: units };
      }
    }
  }

  /** One batch from the shared cache, the open iterator, the tail cache, or a new iterator. May be empty. */
  private async readSome(): Promise<T[]> {
    const shared = this.host.readCache;
    if (shared !== null && this.chunk === 0) {
      // A segment that starts at the cursor, read by another reader (the key of a segment is its first unit),
      // or being read by one: then wait for that read rather than read the same bytes again.
      let value = shared.get(this.seq);
      if (value === undefined) {
        const pending = shared.pending(this.seq);
        if (pending !== undefined) {
          await pending;
          value = shared.get(this.seq);
        }
      }
      if (value !== undefined && this.seq <= this.host.durableSeq()) {
        // The open iterator (if any) is behind the cursor now. A new one opened at the next miss starts its
        // seek on LevelDB's thread (a seek() of this one would run on this thread).
        await this.closeIterator();
        this.atSegmentStart = true;
        const out: ReadItem[] = [];
        let bytes = 0;
        do {
          const keySeq = this.seq;
          this.takeSegment(keySeq, 0, value, out);
          bytes += value.length;
          if (this.chunk !== 0 || this.seq === keySeq) break; // cannot happen for a whole segment; be safe
          value = bytes < this.batchBytes && this.seq <= this.host.durableSeq() ? shared.get(this.seq) : undefined;
        } while (value !== undefined);
        return out as T[];
      }
    }
    if (this.it !== null && this.seq < this.itEnd) {
      const entries = await (this.prefetch ?? this.readBatch(this.it));
      this.prefetch = null;
      if (entries.length === 0) {
        await this.closeIterator();
        return [];
      }
      const out: ReadItem[] = [];
      for (const [key, value] of entries) {
        const k = decodeLogKey(key);
        if (k.sub === SUB_CHECKPOINT) continue;
        this.takeSegment(k.seq, k.sub, value, out);
      }
      this.atSegmentStart = true;
      // Read ahead: LevelDB fetches the next batch (on its thread) while this one is consumed, unless another
      // reader has (or is reading) the next segment already.
      if (this.seq < this.itEnd && (shared === null || this.chunk !== 0 || (shared.get(this.seq) === undefined && shared.pending(this.seq) === undefined))) {
        this.prefetch = this.readBatch(this.it);
        // Its outcome is awaited by the next call; this only keeps a rejection unobserved after a close quiet.
        this.prefetch.catch(() => undefined);
      }
      return out as T[];
    }
    await this.closeIterator();
    if (this.chunk === 0) {
      const cached = this.host.cachedFrom(this.seq, this.batchBytes);
      if (cached !== null) {
        this.atSegmentStart = false; // early-published one-unit segments are not the segments on disk
        const out: ReadItem[] = [];
        for (const seg of cached) this.takeSegment(seg.keySeq, seg.keySub, seg.value, out, seg);
        return out as T[];
      }
    }
    // Catch up from disk: seek to the segment holding the next piece, bounded by what is durable now. A unit
    // visible before its fsync (serveBeforeSync) but no longer in the tail cache is read once it is durable.
    const end = this.host.durableSeq() + 1;
    if (this.seq >= end) {
      await this.waitTail(this.seq - 1, true);
      return [];
    }
    // Right after a whole segment the next one starts at the cursor; else look for the segment holding it.
    const startKey = this.atSegmentStart && this.chunk === 0 ? logKey(this.seq, 0) : await this.segmentKeyFor(this.seq, this.chunk);
    this.it = this.host.db.iterator({ gte: startKey, lt: logKey(end, 0), highWaterMarkBytes: this.batchBytes, fillCache: false });
    this.itEnd = end;
    return [];
  }

  /**
   * The next entries of the iterator (which is at the cursor's segment, or before it); whole segments go to
   * the shared cache as soon as they arrive, and other readers at the cursor wait for this read.
   */
  private readBatch(it: LevelIterator<Db, Buffer, Buffer>): Promise<Array<[Buffer, Buffer]>> {
    const shared = this.host.readCache;
    const p = this.nextEntries(it).then(mergeSmallSegments);
    // Only worth it with other readers: a lone reader's cache is garbage that lives long enough to be costly.
    if (shared === null || this.host.readerCount() < 2) return p;
    const at = this.seq;
    const done = p.then((entries) => {
      for (const [key, value] of entries) {
        const k = decodeLogKey(key);
        if (k.sub === 0) shared.put(k.seq, value);
      }
      return entries;
    });
    if (this.chunk === 0) shared.reading(at, done);
    return done;
  }

  /** The iterator's next entries, about batchBytes of segments, pointers resolved. */
  private async nextEntries(it: LevelIterator<Db, Buffer, Buffer>): Promise<Array<[Buffer, Buffer]>> {
    if (this.pendingAt >= this.pending.length) {
      const entries = await it.nextv(1024);
      // Closed meanwhile (a read-ahead nobody waits for): these belong to an iterator that is gone.
      if (this.it !== it) return [];
      this.pending = entries;
      this.pendingAt = 0;
    }
    const from = this.pendingAt;
    let to = from;
    let bytes = 0;
    while (to < this.pending.length && (to === from || bytes < this.batchBytes)) bytes += storedLength(this.pending[to++]!);
    this.pendingAt = to;
    return this.host.segs.resolve(from === 0 && to === this.pending.length ? this.pending : this.pending.slice(from, to));
  }

  private unitsOf(records: LogRecord[]): StoredUnit[] {
    return records.map((r) => toStoredUnit(r, this.host.fileName(r.fileNo)));
  }

  /**
   * Takes the pieces of a segment at or after the cursor into `out` (see take / takePacked). A tail-cache
   * segment keeps its decoded units for the next plain reader.
   */
  private takeSegment(keySeq: number, keySub: number, value: Buffer, out: ReadItem[], cached?: CachedSegment): void {
    if (this.packed) {
      this.takePacked(keySeq, keySub, value, out);
      return;
    }
    const units = cached?.units ?? this.unitsOf(decodeSegment(keySeq, keySub, value, this.uuids));
    if (cached !== undefined) cached.units = units;
    this.take(units, out);
  }

  /**
   * take() for a packed reader, straight from the segment bytes: whole transactions at or after the cursor go
   * into PackedUnits runs (one per file), anything else (control events, chunks, the unit a reader starts
   * inside) is decoded into a StoredUnit as take() would.
   */
  private takePacked(keySeq: number, keySub: number, value: Buffer, out: ReadItem[]): void {
    // A segment in the shared cache: other readers may take the same value (and the run found in it).
    const shared = keySub === 0 && this.host.readCache?.get(keySeq) === value;
    const whole = shared && keySeq === this.seq && this.chunk === 0 && this.skip === 0;
    if (whole) {
      // Another reader already checked this segment from its start and found one run of whole transactions.
      const known = WHOLE_RUNS.get(value);
      if (known !== undefined) {
        out.push(this.packedRun({ firstSeq: keySeq, fileNo: known.fileNo, records: known.records }, value, shared));
        this.seq = keySeq + known.records.length;
        return;
      }
    }
    const outAt = out.length;
    checkSegmentFormat(keySeq, keySub, value);
    let run: OpenRun | null = null;
    let off = 1;
    let seq = keySeq;
    let chunk = keySub;
    while (off < value.length) {
      const end = checkRecordAt(keySeq, keySub, value, off, seq, chunk);
      const last = recordField.isLast(value, off);
      if (seq > this.seq || (seq === this.seq && chunk >= this.chunk)) {
        const fileNo = recordField.fileNo(value, off);
        if (seq === this.seq && chunk === 0 && last && this.skip === 0 && recordField.isTransaction(value, off)) {
          if (run === null || run.fileNo !== fileNo) {
            if (run !== null) out.push(this.packedRun(run, value, shared));
            run = { firstSeq: seq, fileNo, records: [] };
          }
          run.records.push(off);
          this.seq = seq + 1;
        } else {
          if (run !== null) out.push(this.packedRun(run, value, shared));
          run = null;
          // Checks the cursor (a hole is corruption), applies `skip`, moves on.
          this.take([toStoredUnit(decodeRecordAt(value, off, seq, this.uuids), this.host.fileName(fileNo))], out);
        }
      }
      if (last) {
        seq++;
        chunk = 0;
      } else {
        chunk++;
      }
      off = end;
    }
    if (run !== null) {
      out.push(this.packedRun(run, value, shared));
      if (whole && out.length === outAt + 1 && run.firstSeq === keySeq) WHOLE_RUNS.set(value, { fileNo: run.fileNo, records: run.records });
    }
  }

  private packedRun(run: OpenRun, value: Buffer, shared: boolean): PackedUnits {
    return { packed: true, firstSeq: run.firstSeq, file: this.host.fileName(run.fileNo), fileNo: run.fileNo, value, records: run.records, shared };
  }

  /** Appends the pieces at or after the cursor to `out` and moves the cursor. */
  private take(units: StoredUnit[], out: ReadItem[]): void {
    for (const u of units) {
      if (u.seq < this.seq || (u.seq === this.seq && u.chunk < this.chunk)) continue;
      if (u.seq !== this.seq || u.chunk !== this.chunk) {
        // Everything is read in order; a jump means a hole in the log.
        throw new StorageError('ERR_STORAGE_CORRUPT', `reader expected unit ${this.seq} chunk ${this.chunk}, found unit ${u.seq} chunk ${u.chunk}`);
      }
      let piece = u;
      if (this.skip > 0) {
        const data = u.data.subarray(this.skip);
        piece = { ...u, data, pos: u.pos + BigInt(this.skip) };
        this.skip = 0;
      }
      out.push(piece);
      if (u.lastChunk) {
        this.seq = u.seq + 1;
        this.chunk = 0;
      } else {
        this.chunk = u.chunk + 1;
      }
    }
  }

  /** Key of the segment that holds the piece (seq, chunk): the greatest key at or before it. */
  private async segmentKeyFor(seq: number, chunk: number): Promise<Buffer> {
    const it = this.host.db.keys({ gte: logRange().gte, lte: logKey(seq, chunk), reverse: true, limit: 1 });
    try {
      const key = await it.next();
      if (key === undefined) return logKey(seq, chunk);
      const k = decodeLogKey(key);
      return k.sub === SUB_CHECKPOINT ? logKey(seq, chunk) : key;
    } finally {
      await it.close();
    }
  }
}
