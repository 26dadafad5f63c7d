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
import { decodeSegment, type LogRecord, type UuidCache } from './records.js';
import type { Location, StoredUnit } from './types.js';

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

/** What a reader needs from the store. */
export interface ReaderHost {
  readonly db: Db;
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
  unregister(reader: StoreReader): void;
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

export class StoreReader implements AsyncIterableIterator<StoredUnit[]> {
  /** Next piece to yield. */
  private seq: number;
  private chunk: number;
  private skip: number;
  /** Oldest unit the consumer may still hold (first of the last batch): purge keeps its file. */
  private hold: number;
  private it: LevelIterator<Db, Buffer, Buffer> | null = null;
  private prefetch: Promise<Array<[Buffer, Buffer]>> | null = null;
  /** Exclusive upper bound (in units) of the open iterator. */
  private itEnd = 0;
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

  async next(): Promise<IteratorResult<StoredUnit[]>> {
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
  async return(): Promise<IteratorResult<StoredUnit[]>> {
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
    if (it !== null) await it.close(); // waits for a read-ahead in flight
  }

  private async read(): Promise<IteratorResult<StoredUnit[]>> {
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
        this.hold = units[0]!.seq;
        return { done: false, value: units };
      }
    }
  }

  /** One batch from the open iterator, the tail cache, or a new iterator. May be empty (checkpoints only). */
  private async readSome(): Promise<StoredUnit[]> {
    if (this.it !== null && this.seq < this.itEnd) {
      const entries = await (this.prefetch ?? this.it.nextv(1024));
      this.prefetch = null;
      if (entries.length === 0) {
        await this.closeIterator();
        return [];
      }
      // Read ahead: LevelDB fetches the next batch (on its thread) while this one is decoded and consumed.
      this.prefetch = this.it.nextv(1024);
      // Its outcome is awaited by the next call; this only keeps a rejection unobserved after a close quiet.
      this.prefetch.catch(() => undefined);
      const out: StoredUnit[] = [];
      for (const [key, value] of entries) {
        const k = decodeLogKey(key);
        if (k.sub === SUB_CHECKPOINT) continue;
        this.take(this.unitsOf(decodeSegment(k.seq, k.sub, value, this.uuids)), out);
      }
      return out;
    }
    await this.closeIterator();
    if (this.chunk === 0) {
      const cached = this.host.cachedFrom(this.seq, this.batchBytes);
      if (cached !== null) {
        const out: StoredUnit[] = [];
        for (const seg of cached) {
          seg.units ??= this.unitsOf(decodeSegment(seg.keySeq, seg.keySub, seg.value, this.uuids));
          this.take(seg.units, out);
        }
        return out;
      }
    }
    // Catch up from disk: seek to the segment holding the next piece, bounded by what is durable now. A unit
    // visible before its fsync (serveBeforeSync) but no longer in the tail cache is read once it is durable.
    const end = this.host.durableSeq() + 1;
    if (this.seq >= end) {
      await this.waitTail(this.seq - 1, true);
      return [];
    }
    const startKey = await this.segmentKeyFor(this.seq, this.chunk);
    this.it = this.host.db.iterator({ gte: startKey, lt: logKey(end, 0), highWaterMarkBytes: this.batchBytes });
    this.itEnd = end;
    return [];
  }

  private unitsOf(records: LogRecord[]): StoredUnit[] {
    return records.map((r) => toStoredUnit(r, this.host.fileName(r.fileNo)));
  }

  /** Appends the pieces at or after the cursor to `out` and moves the cursor. */
  private take(units: StoredUnit[], out: StoredUnit[]): void {
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
