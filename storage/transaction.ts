/**
 * A streamed (huge) transaction: its events are written in chunks under the next sequence, which nothing reads
 * before the commit; see BinlogStore.beginTransaction.
 */
import { isDiskFull, StorageError } from './errors.js';
import type { GtidValue } from './gtid-state.js';
import { MAX_CHUNK } from './keys.js';
import {
  checkEventFraming,
  RECORD_HEADER_LEN,
  SEGMENT_FORMAT,
  writeRecordHeader,
  type AnyGtid,
  type UnitKind,
  type UuidCache,
} from './records.js';
import type { AppendResult, AppendUnit, TransactionWriter } from './types.js';

export interface Prepared {
  gtid: AnyGtid | null;
  gtidLen: number;
  startValue: GtidValue | null;
  fileStartValue: GtidValue | null;
}

export interface UnitHead {
  file: string;
  pos: bigint;
  kind: UnitKind;
  gtid?: AnyGtid | null;
  timestamp: number;
  newFile?: AppendUnit['newFile'];
  fileStartGtids?: string;
}

/** What a streamed transaction needs from the store. */
export interface TransactionHost {
  readonly chunkBytes: number;
  readonly uuids: UuidCache;
  maxTimestamp(): number;
  /** Writes one staged chunk (synced: a later commit must never be durable without it). */
  writeStagedChunk(seq: number, chunk: number, value: Buffer): Promise<void>;
  /** Commits: the last chunk joins the write group with the new state. */
  commitStaged(t: StreamedTransaction, lastChunk: number, value: Buffer, endPos: bigint, dataLength: number, maxTs: number): Promise<AppendResult>;
  /** Drops the `chunks` staged chunks (0 .. chunks-1). */
  abortStaged(t: StreamedTransaction, chunks: number): Promise<void>;
}

/**
 * The writer of one streamed transaction (see BinlogStore.beginTransaction). Events are copied into a chunk
 * buffer as they come; two chunk buffers alternate (one being written, one filling), so a transaction of any
 * size needs about 2 × chunkBytes.
 */
export class StreamedTransaction implements TransactionWriter {
  private readonly headerLen: number;
  private readonly buffers: Buffer[] = [];
  private cur: Buffer | null = null;
  private inFlightBuffer: Buffer | null = null;
  private fill = 0;
  private chunk = 0;
  private chunkPos: bigint;
  private totalBytes = 0;
  private events = 0;
  private pending: Promise<void> | null = null;
  private failure: unknown = null;
  private finished = false;

  constructor(
    private readonly store: TransactionHost,
    readonly head: UnitHead,
    readonly prep: Prepared,
    readonly seq: number,
    private readonly fileNo: number,
  ) {
    this.chunkPos = head.pos;
    this.headerLen = 1 + RECORD_HEADER_LEN + prep.gtidLen;
  }

  private check(): void {
    if (this.finished) throw new StorageError('ERR_STORAGE_ABORTED', `streamed transaction ${this.seq} is already committed or aborted`);
    if (this.failure !== null) {
      const code = isDiskFull(this.failure) ? 'ERR_STORAGE_FULL' : 'ERR_STORAGE_IO';
      throw new StorageError(code, `writing a chunk of transaction ${this.seq} failed`, { cause: this.failure });
    }
  }

  private get buffered(): number {
    return this.cur === null ? 0 : this.fill - this.headerLen;
  }

  async write(event: Buffer): Promise<void> {
    this.check();
    checkEventFraming(event, this.events);
    if (this.buffered > 0 && this.buffered + event.length > this.store.chunkBytes) await this.writeChunk();
    if (this.cur === null) {
      const standard = this.headerLen + this.store.chunkBytes;
      if (this.headerLen + event.length > standard) {
        this.cur = Buffer.allocUnsafeSlow(this.headerLen + event.length); // an event larger than a chunk: a buffer of its own
      } else {
        // At most one chunk is being written: reuse the other buffer.
        let b = this.buffers.find((x) => x !== this.inFlightBuffer);
        if (b === undefined) {
          b = Buffer.allocUnsafeSlow(standard);
          this.buffers.push(b);
        }
        this.cur = b;
      }
      this.fill = this.headerLen;
    }
    this.fill += event.copy(this.cur, this.fill);
    this.events++;
  }

  /** The current chunk as a segment value (header written in front of its events). */
  private seal(last: boolean): Buffer {
    const value = this.cur!;
    const dataLength = this.fill - this.headerLen;
    value[0] = SEGMENT_FORMAT;
    writeRecordHeader(
      value,
      1,
      {
        kind: this.head.kind,
        last,
        gtid: this.prep.gtid,
        gtidLen: this.prep.gtidLen,
        fileNo: this.fileNo,
        pos: this.chunkPos,
        unitPos: this.head.pos,
        chunk: this.chunk,
        timestamp: this.head.timestamp,
        maxTimestamp: Math.max(this.store.maxTimestamp(), this.head.timestamp),
      },
      dataLength,
      this.store.uuids,
    );
    return value.subarray(0, this.fill);
  }

  /** Writes the buffered events as a chunk; at most one chunk write is in flight. */
  private async writeChunk(): Promise<void> {
    await this.settle();
    this.check();
    if (this.chunk >= MAX_CHUNK) throw new StorageError('ERR_STORAGE_APPEND', `transaction ${this.seq} has too many chunks`);
    const dataLength = this.buffered;
    const value = this.seal(false);
    this.inFlightBuffer = this.cur;
    this.pending = this.store.writeStagedChunk(this.seq, this.chunk, value).then(
      () => undefined,
      (err: unknown) => {
        this.failure = err;
      },
    );
    this.chunk++;
    this.chunkPos += BigInt(dataLength);
    this.totalBytes += dataLength;
    this.cur = null;
  }

  private async settle(): Promise<void> {
    if (this.pending !== null) {
      await this.pending;
      this.pending = null;
      this.inFlightBuffer = null;
    }
  }

  async commit(): Promise<AppendResult> {
    this.check();
    if (this.events === 0) throw new StorageError('ERR_STORAGE_APPEND', `streamed transaction ${this.seq} has no events`);
    await this.settle();
    this.check();
    this.finished = true;
    const dataLength = this.buffered;
    const endPos = this.chunkPos + BigInt(dataLength);
    const maxTs = Math.max(this.store.maxTimestamp(), this.head.timestamp);
    return this.store.commitStaged(this, this.chunk, this.seal(true), endPos, this.totalBytes + dataLength, maxTs);
  }

  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.settle();
    await this.store.abortStaged(this, this.chunk);
  }
}
