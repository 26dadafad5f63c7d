/**
 * The storage side of one dump connection: turns the pipeline's units into store appends, strictly in order,
 * and sends semi-sync acknowledgements once what they cover is durable.
 *
 * Every storage operation goes through one serial queue (appends, the steps of a streamed transaction, abort),
 * because storage is a single-writer log and a streamed transaction blocks other appends until it commits.
 * `pendingBytes` counts event bytes handed over but not yet accepted by storage; the syncer pauses the socket
 * above a high-water mark and resumes it when `onDrain` reports the queue below the low-water mark, so a slow
 * disk slows the primary's sender down (TCP backpressure) instead of growing memory.
 *
 * A semi-sync ACK is queued behind the unit that holds the acknowledged event: when its turn comes, the
 * sequence of the last appended unit is taken and the ACK is written only after `waitDurable(seq)`. ACKs go
 * out in order through their own chain, so waiting for the disk never blocks the appends behind it.
 *
 * The first failure (storage refusing an append, a write error) stops the queue: later operations are
 * dropped, and `onFailure` tells the syncer to drop the connection. Nothing after a failed unit is stored.
 */
import type { LargeBegin, LargeEnd, PipelineSink, SyncUnit } from './pipeline.js';
import type { AppendUnit, SyncerStore, TransactionMeta, TransactionWriter } from './store.js';

export interface StoreWriterHooks {
  /** Writes a semi-sync ACK for (file, pos) on the connection. */
  sendAck(file: string, pos: bigint): void;
  heartbeat(file: string, pos: bigint): void;
  located(file: string, pos: bigint): void;
  notice(message: string, data?: Record<string, unknown>): void;
  /** A unit (or streamed transaction) is appended. */
  stored(info: StoredInfo): void;
  /** The queue failed; the connection must go. */
  onFailure(err: Error): void;
  /** pendingBytes fell to the low-water mark or below. */
  onDrain(): void;
}

export interface StoredInfo {
  seq: number;
  kind: 'transaction' | 'control';
  file: string;
  endPos: bigint;
  gtid: SyncUnit['gtid'];
  timestamp: number;
  bytes: number;
}

export interface StoreWriterOptions {
  /** onDrain fires when pendingBytes drops to this or below (default 8 MiB). */
  lowWaterBytes?: number;
}

interface QueuedOp {
  bytes: number;
  /** A unit to append (the usual operation: no closure per unit), or null for `op`. */
  unit: SyncUnit | null;
  op: (() => Promise<void>) | null;
  /** close()'s abort of an open streamed transaction runs whatever happened before. */
  evenAfterFailure: boolean;
}

/** Placeholder for a queue slot already taken (lets its operation be collected). */
const DONE: QueuedOp = { bytes: 0, unit: null, op: null, evenAfterFailure: false };

export class StoreWriter implements PipelineSink {
  /** Event bytes handed to the writer and not yet accepted by storage. */
  pendingBytes = 0;
  private readonly lowWater: number;
  /** Operations not started yet, in order; `draining` runs them one at a time (null while idle). */
  private readonly queue: QueuedOp[] = [];
  private draining: Promise<void> | null = null;
  private ackChain: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private txn: TransactionWriter | null = null;
  private txnMeta: LargeBegin | null = null;
  /** Bytes written so far to the open streamed transaction. */
  private txnBytes = 0;
  private lastSeq: number;
  private closed = false;

  constructor(
    private readonly store: SyncerStore,
    private readonly hooks: StoreWriterHooks,
    opts: StoreWriterOptions = {},
  ) {
    this.lowWater = opts.lowWaterBytes ?? 8 * 1024 * 1024;
    this.lastSeq = store.getState().lastSeq;
  }

  /** The first failure of the queue, if any. */
  get failed(): Error | null {
    return this.failure;
  }

  /** Queues an operation, or a unit to append (`unit`: the usual case, no closure per unit). */
  private enqueue(bytes: number, op: (() => Promise<void>) | SyncUnit): void {
    if (this.closed) return;
    this.pendingBytes += bytes;
    this.queue.push(typeof op === 'function' ? { bytes, unit: null, op, evenAfterFailure: false } : { bytes, unit: op, op: null, evenAfterFailure: false });
    this.startDrain();
  }

  /** Starts the queue's runner unless it runs (on a microtask: an operation never starts inside its enqueue). */
  private startDrain(): void {
    this.draining ??= Promise.resolve().then(() => this.drain());
  }

  /** One loop for the whole queue rather than a promise chain link (and closure) per unit. */
  private async drain(): Promise<void> {
    // Walks the queue by index (shift() copies a large array: the queue holds up to lowWater bytes of units).
    for (let head = 0; head < this.queue.length; head++) {
      const item = this.queue[head]!;
      this.queue[head] = DONE;
      if (head >= 1024 && head * 2 >= this.queue.length) {
        this.queue.splice(0, head + 1);
        head = -1;
      }
      try {
        const u = item.unit;
        if (u !== null) {
          if (this.failure === null) {
            // A SyncUnit is an AppendUnit (plus fields storage ignores): appended as it is, not copied.
            const unit: AppendUnit = u;
            const r = await this.store.append(unit);
            this.lastSeq = r.seq;
            this.hooks.stored({ seq: r.seq, kind: u.kind, file: u.file, endPos: r.endPos, gtid: u.gtid, timestamp: u.timestamp, bytes: u.bytes });
          }
        } else if (this.failure === null || item.evenAfterFailure) {
          await item.op!();
        }
      } catch (err) {
        this.fail(err);
      } finally {
        const before = this.pendingBytes;
        this.pendingBytes -= item.bytes;
        if (before > this.lowWater && this.pendingBytes <= this.lowWater) this.hooks.onDrain();
      }
    }
    this.queue.length = 0;
    this.draining = null;
  }

  private fail(err: unknown): void {
    if (this.failure !== null) return;
    this.failure = err instanceof Error ? err : new Error(String(err));
    this.hooks.onFailure(this.failure);
  }

  // ---- PipelineSink --------------------------------------------------------------------------------------

  unit(u: SyncUnit): void {
    this.enqueue(u.bytes, u);
  }

  largeBegin(meta: LargeBegin, events: Buffer[]): void {
    const bytes = events.reduce((n, e) => n + e.length, 0);
    this.enqueue(bytes, async () => {
      const tm: TransactionMeta = { file: meta.file, pos: meta.pos, timestamp: meta.timestamp, gtid: meta.gtid, kind: 'transaction' };
      if (meta.newFile) tm.newFile = meta.newFile.startGtids === undefined ? { fde: meta.newFile.fde } : { ...meta.newFile };
      this.txn = await this.store.beginTransaction(tm);
      this.txnMeta = meta;
      this.txnBytes = 0;
      for (const e of events) {
        await this.txn.write(e);
        this.txnBytes += e.length;
      }
    });
  }

  largeEvent(event: Buffer): void {
    this.enqueue(event.length, async () => {
      await this.requireTxn().write(event);
      this.txnBytes += event.length;
    });
  }

  largeEnd(end: LargeEnd): void {
    this.enqueue(0, async () => {
      const txn = this.requireTxn();
      const meta = this.txnMeta!;
      this.txn = null;
      this.txnMeta = null;
      const r = await txn.commit();
      this.lastSeq = r.seq;
      this.hooks.stored({ seq: r.seq, kind: 'transaction', file: meta.file, endPos: r.endPos, gtid: end.gtid, timestamp: meta.timestamp, bytes: end.bytes });
    });
  }

  ack(file: string, pos: bigint): void {
    this.enqueue(0, async () => {
      const seq = this.lastSeq;
      this.ackChain = this.ackChain
        .then(async () => {
          if (seq > 0) await this.store.waitDurable(seq);
          if (this.failure === null && !this.closed) this.hooks.sendAck(file, pos);
        })
        .catch((err: unknown) => this.fail(err));
    });
  }

  heartbeat(file: string, pos: bigint): void {
    this.hooks.heartbeat(file, pos);
  }

  located(file: string, pos: bigint): void {
    this.hooks.located(file, pos);
  }

  notice(message: string, data?: Record<string, unknown>): void {
    this.hooks.notice(message, data);
  }

  // ---- end of the connection ---------------------------------------------------------------------------

  private requireTxn(): TransactionWriter {
    if (this.txn === null) throw new Error('streamed transaction step without an open transaction');
    return this.txn;
  }

  /**
   * Ends the writer: a streamed transaction still open is aborted (storage drops its chunks), queued work
   * finishes, and no more work is accepted. Resolves when storage is idle, with the bytes of the streamed
   * transaction it dropped (0 if none); never rejects (failures were reported through onFailure). It does not
   * wait for pending semi-sync ACKs: their connection is gone, so they are never sent.
   */
  async close(): Promise<{ abortedBytes: number }> {
    let abortedBytes = 0;
    if (this.closed) {
      await this.draining;
      return { abortedBytes };
    }
    const abortOpen = async (): Promise<void> => {
      const txn = this.txn;
      this.txn = null;
      this.txnMeta = null;
      if (txn !== null) {
        abortedBytes = this.txnBytes;
        await txn.abort();
      }
    };
    // Runs even after a failure: an open streamed transaction must not block the next connection's appends.
    this.queue.push({ bytes: 0, unit: null, op: abortOpen, evenAfterFailure: true });
    this.startDrain();
    this.closed = true;
    await this.draining;
    return { abortedBytes };
  }
}
