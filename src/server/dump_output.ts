/**
 * DumpOutput on the replica's socket (the session side of a binlog dump):
 *  - each event is its own packet, `[0x00] event` or, with semi-sync, `[0x00][0xEF][flag] event`, split at
 *    0xFFFFFF like any payload; sequence ids continue from the dump command (1, 2, 3 … mod 256);
 *  - after a packet that asks for an ACK the counter restarts: the replica answers with seq 0 and the next
 *    source packet is seq 1 (§5.3);
 *  - backpressure: sendEvent returns false above the high-water mark of the socket's write buffer, and
 *    drain() waits until it is below (or the dump is aborted);
 *  - the end: the classic 5-byte EOF (even with CLIENT_DEPRECATE_EOF) or an ERR; nothing is sent after it;
 *  - `signal` aborts on close, KILL, replacement by a newer dump of the same replica, or server stop;
 *  - semi-sync ACK packets read by the session are handed to `onAck` listeners.
 */
import { encodeEof, encodeErr } from '../../protocol/generic.js';
import { SERVER_STATUS_AUTOCOMMIT } from '../../protocol/constants.js';
import { EVENT_LEN_OFFSET } from '../../protocol/binlog/header.js';
import type { Metrics } from '../metrics.js';
import type { PacketConn } from './conn.js';
import type { DumpAbortReason } from './registry.js';
import type { DumpOutput } from './dump/types.js';

export class SocketDumpOutput implements DumpOutput {
  private readonly controller = new AbortController();
  private readonly ackListeners: Array<(file: string, position: bigint) => void> = [];
  /** EOF or ERR sent: the dump is over. */
  private ended: 'eof' | 'error' | null = null;
  eventsSent = 0;
  bytesSent = 0;

  constructor(
    private readonly conn: PacketConn,
    private readonly opts: { semiSync: boolean; highWaterMark: number; metrics?: Metrics | null },
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** How the dump ended: 'eof', 'error', or null (still running or aborted). */
  get end(): 'eof' | 'error' | null {
    return this.ended;
  }

  /** The replica asked for semi-sync: every packet carries the 0xEF header and ACKs may arrive. */
  get semiSyncOn(): boolean {
    return this.opts.semiSync;
  }

  get abortReason(): DumpAbortReason | null {
    return this.controller.signal.aborted ? (this.controller.signal.reason as DumpAbortReason) : null;
  }

  abort(reason: DumpAbortReason): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  private get open(): boolean {
    return this.ended === null && !this.controller.signal.aborted && !this.conn.closed;
  }

  private belowMark(): boolean {
    return this.conn.writableLength < this.opts.highWaterMark;
  }

  sendEvent(event: Buffer, opts?: { needAck?: boolean }): boolean {
    if (!this.open) return true;
    if (this.opts.semiSync) {
      const needAck = opts?.needAck === true;
      this.conn.writeEvent(event, { needAck });
      if (needAck) this.conn.seq = 1; // §5.3: the replica ACKs with seq 0; our next packet is seq 1
    } else {
      this.conn.writeEvent(event);
    }
    this.count(1, event.length);
    return this.belowMark();
  }

  sendEvents(data: Buffer, start: number, end: number): boolean {
    if (!this.open) return true;
    const semi = this.opts.semiSync ? { needAck: false } : undefined;
    let off = start;
    let n = 0;
    this.conn.socket.cork();
    try {
      while (off < end) {
        if (end - off < EVENT_LEN_OFFSET + 4) throw new RangeError(`sendEvents: ${end - off} bytes at ${off} are not a whole event`);
        const size = data.readUInt32LE(off + EVENT_LEN_OFFSET);
        if (size < EVENT_LEN_OFFSET + 4 || off + size > end) throw new RangeError(`sendEvents: event of ${size} bytes at ${off} overruns ${end}`);
        this.conn.writeEvent(data.subarray(off, off + size), semi);
        off += size;
        n++;
      }
    } finally {
      this.conn.socket.uncork();
    }
    this.count(n, end - start);
    return this.belowMark();
  }

  private count(events: number, bytes: number): void {
    this.eventsSent += events;
    this.bytesSent += bytes;
    if (this.opts.metrics) {
      this.opts.metrics.eventsSent.inc(events);
      this.opts.metrics.bytesSent.inc(bytes);
    }
  }

  drain(): Promise<void> {
    if (!this.open || this.belowMark()) return Promise.resolve();
    return this.conn.drained(this.opts.highWaterMark / 2, this.controller.signal);
  }

  sendError(errno: number, sqlState: string, message: string): void {
    if (!this.open) return;
    this.ended = 'error';
    this.conn.write(encodeErr({ code: errno, sqlState, message }));
  }

  sendEof(): void {
    if (!this.open) return;
    this.ended = 'eof';
    this.conn.write(encodeEof({ warnings: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT }));
  }

  onAck(listener: (file: string, position: bigint) => void): void {
    this.ackListeners.push(listener);
  }

  /** Called by the session for each semi-sync ACK read from the replica. */
  deliverAck(file: string, position: bigint): void {
    for (const l of this.ackListeners) l(file, position);
  }
}
