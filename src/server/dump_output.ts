/**
 * DumpOutput on the replica's socket (the session side of a binlog dump):
 *  - each event is its own packet, `[0x00] event` or, with semi-sync, `[0x00][0xEF][flag] event`, split at
 *    0xFFFFFF like any payload; sequence ids continue from the dump command (1, 2, 3 … mod 256);
 *  - after a packet that asks for an ACK the counter restarts: the replica answers with seq 0 and the next
 *    source packet is seq 1 (§5.3);
 *  - coalescing: packets are framed into one output buffer (header and event bytes copied next to each other)
 *    and the buffer goes to the socket in one write when it is full, before anything else is written (ERR,
 *    EOF, an abort, a huge event) and at the latest in a microtask, i.e. as soon as the sender's synchronous
 *    batch loop yields. One write of ~256 KiB instead of a write (two iovecs) per event: the per-write cost of
 *    a Node stream (a request object, the writev array, libuv bookkeeping) was the biggest item of a dump's
 *    profile, while copying a ~100-byte event costs well under 100 ns (bench/run.ts, scenario 2b). Events
 *    whose packet would not fit in a quarter of the buffer, and those that must be split at 0xFFFFFF, go out
 *    zero-copy as before (after the buffer is flushed);
 *  - backpressure: sendEvent returns false above the high-water mark of the socket's write buffer (plus what
 *    is still being coalesced), and drain() waits until it is below (or the dump is aborted);
 *  - the end: the classic 5-byte EOF (even with CLIENT_DEPRECATE_EOF) or an ERR; nothing is sent after it;
 *  - `signal` aborts on close, KILL, replacement by a newer dump of the same replica, or server stop;
 *  - semi-sync ACK packets read by the session are handed to `onAck` listeners.
 */
import { encodeEof, encodeErr } from '../../protocol/generic.js';
import { MAX_PACKET_PAYLOAD, OK_HEADER, SEMI_SYNC_FLAG_NEED_ACK, SEMI_SYNC_MAGIC, SERVER_STATUS_AUTOCOMMIT } from '../../protocol/constants.js';
import { EVENT_LEN_OFFSET } from '../../protocol/binlog/header.js';
import type { Metrics } from '../metrics.js';
import type { PacketConn } from './conn.js';
import type { DumpAbortReason } from './registry.js';
import type { DumpOutput } from './dump/types.js';

/** Size of one coalescing buffer. */
const COALESCE_BYTES = 256 << 10;
/**
 * Coalescing buffers whose write completed, shared by every dump of the process. Per-connection spares made
 * each short-lived dump allocate its own 256 KiB of external memory, which V8 frees only at its next full GC,
 * so a storm of replicas connecting and disconnecting grew the RSS round after round. The pool keeps as many
 * buffers as were in flight at once since the last dump ended (at least SPARE_MIN, 8 MiB; at most SPARE_MAX,
 * 64 MiB): with a fixed 32, fifty replicas catching up together, ~3 buffers each in the socket queues, dropped
 * and reallocated up to 1.5 GB of buffers per pass of the bench's 92 MB history (bench/run.ts scenario 4),
 * garbage that set the peak RSS. When a dump ends the pool is cut back to what is still in flight.
 */
const SPARE_MIN = 32;
const SPARE_MAX = 256;
const SPARE: Buffer[] = [];
/** Standard buffers handed to a socket and not yet back. */
let inFlight = 0;
/** The most in flight at once since the last trim. */
let peakInFlight = 0;

function takeBuffer(): Buffer {
  return SPARE.pop() ?? Buffer.allocUnsafeSlow(COALESCE_BYTES);
}

function recycle(buf: Buffer): void {
  inFlight--;
  if (SPARE.length + inFlight < Math.min(SPARE_MAX, Math.max(SPARE_MIN, peakInFlight))) SPARE.push(buf);
}

/** A dump ended: the pool keeps what the dumps still running may need. */
function trimSpares(): void {
  peakInFlight = inFlight;
  const keep = Math.max(SPARE_MIN, inFlight);
  if (SPARE.length > keep) SPARE.length = keep;
}

/** Coalescing buffers pooled and in flight (for tests). */
export function coalesceBufferStats(): { spare: number; inFlight: number } {
  return { spare: SPARE.length, inFlight };
}
/** Packets at least this big bypass the buffer (zero-copy frames). */
export const DIRECT_BYTES = COALESCE_BYTES >> 2;

/**
 * Frames the whole events of the runs data[ranges[2k], ranges[2k+1]) (k < count; `events` in all, none needing
 * a split at 0xFFFFFF) as dump packets ([len][seq][0x00] event, or with head 7 [0x00][0xEF][0] event) into `buf`
 * from `base`, sequence ids from `seq`; returns the end. `buf` must have room for the span of the runs (from the
 * first start to the last end, gaps included) plus `events * head` bytes after `base`.
 *
 * One native copy of the whole span to the end of that room, then each event moved down (memmove) to its
 * place after its header, first to last: an event's destination never passes its source (the span holds at
 * least the events before it, the room at least all the headers), nor the source of a later event.
 */
export function framePackets(buf: Buffer, base: number, data: Buffer, ranges: readonly number[], count: number, events: number, head: number, seq: number): number {
  const spanStart = ranges[0]!;
  const src = base + events * head - spanStart;
  data.copy(buf, base + events * head, spanStart, ranges[2 * count - 1]!);
  let dst = base;
  for (let k = 0; k < count; k++) {
    const end = ranges[2 * k + 1]!;
    for (let at = ranges[2 * k]!; at < end; ) {
      const size = data.readUInt32LE(at + EVENT_LEN_OFFSET);
      const to = dst + head;
      const from = src + at;
      if (from !== to) buf.copyWithin(to, from, from + size);
      const payload = size + head - 4;
      buf[dst] = payload & 0xff;
      buf[dst + 1] = (payload >>> 8) & 0xff;
      buf[dst + 2] = payload >>> 16;
      buf[dst + 3] = seq;
      buf[dst + 4] = OK_HEADER;
      if (head === 7) {
        buf[dst + 5] = SEMI_SYNC_MAGIC;
        buf[dst + 6] = 0;
      }
      seq = (seq + 1) & 0xff;
      dst = to + size;
      at += size;
    }
  }
  return dst;
}

/** The one run of frameRange, for framePackets (no array per call). */
const ONE_RANGE = [0, 0];

export class SocketDumpOutput implements DumpOutput {
  private readonly controller = new AbortController();
  private readonly ackListeners: Array<(file: string, position: bigint) => void> = [];
  /** EOF or ERR sent: the dump is over. */
  private ended: 'eof' | 'error' | null = null;
  eventsSent = 0;
  bytesSent = 0;
  /** The coalescing buffer (null until needed; a fresh one after each flush: the socket keeps the old one). */
  private buf: Buffer | null = null;
  private fill = 0;
  private flushQueued = false;
  /** Same as signal.aborted (the controller is ours), without the getter's cost per event. */
  private aborted = false;
  /** Counted since the last flush (metrics are updated per flush, not per event). */
  private pendingEvents = 0;
  private pendingBytes = 0;
  private readonly flushTask = (): void => {
    this.flushQueued = false;
    this.flush();
  };

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
    // Whatever was framed already has its sequence ids: it goes out before anything the session writes next.
    this.flush();
    if (!this.controller.signal.aborted) this.controller.abort(reason);
    this.aborted = true;
    trimSpares();
  }

  private get open(): boolean {
    return this.ended === null && !this.aborted && !this.conn.closed;
  }

  private belowMark(): boolean {
    return this.conn.writableLength + this.fill < this.opts.highWaterMark;
  }

  /** Writes the coalesced packets (if any) to the socket in one write. */
  flush(): void {
    const buf = this.buf;
    if (buf !== null && this.fill > 0) {
      const chunk = buf.subarray(0, this.fill);
      this.buf = null;
      this.fill = 0;
      if (!this.conn.closed) {
        // Standard-size buffers come back for reuse once the socket is done with them: a dump otherwise
        // allocates as much external memory as it sends, and V8 only frees it at its next full GC.
        if (buf.length === COALESCE_BYTES) {
          if (++inFlight > peakInFlight) peakInFlight = inFlight;
          this.conn.writeRaw(chunk, () => recycle(buf));
        } else {
          this.conn.writeRaw(chunk);
        }
      }
    }
    this.count();
  }

  /** Room for `n` more bytes in the coalescing buffer; schedules the flush. */
  private reserve(n: number): Buffer {
    let buf = this.buf;
    if (buf === null || buf.length - this.fill < n) {
      this.flush();
      buf = this.buf = n <= COALESCE_BYTES ? takeBuffer() : Buffer.allocUnsafeSlow(n);
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushTask);
    }
    return buf;
  }

  /** Frames one event into the buffer, or writes it directly when it is big. */
  private put(data: Buffer, start: number, size: number, semi: boolean, needAck: boolean): void {
    const prefix = semi ? 3 : 1;
    const payload = prefix + size;
    if (payload >= DIRECT_BYTES || payload >= MAX_PACKET_PAYLOAD) {
      this.flush();
      const event = start === 0 && size === data.length ? data : data.subarray(start, start + size);
      this.conn.writeEvent(event, semi ? { needAck } : undefined);
      return;
    }
    const buf = this.reserve(4 + payload);
    let o = this.fill;
    const seq = this.conn.seq;
    buf[o] = payload & 0xff;
    buf[o + 1] = (payload >>> 8) & 0xff;
    buf[o + 2] = payload >>> 16;
    buf[o + 3] = seq;
    buf[o + 4] = OK_HEADER;
    o += 5;
    if (semi) {
      buf[o] = SEMI_SYNC_MAGIC;
      buf[o + 1] = needAck ? SEMI_SYNC_FLAG_NEED_ACK : 0;
      o += 2;
    }
    buf.set(start === 0 && size === data.length ? data : data.subarray(start, start + size), o);
    this.fill = o + size;
    this.conn.seq = (seq + 1) & 0xff;
  }

  sendEvent(event: Buffer, opts?: { needAck?: boolean }): boolean {
    if (!this.open) return true;
    if (this.opts.semiSync) {
      const needAck = opts?.needAck === true;
      this.put(event, 0, event.length, true, needAck);
      if (needAck) this.conn.seq = 1; // §5.3: the replica ACKs with seq 0; our next packet is seq 1
    } else {
      this.put(event, 0, event.length, false, false);
    }
    this.pendingEvents++;
    this.pendingBytes += event.length;
    return this.belowMark();
  }

  sendEvents(data: Buffer, start: number, end: number): boolean {
    if (!this.open) return true;
    this.frameRange(data, start, end);
    return this.belowMark();
  }

  sendEventRanges(data: Buffer, ranges: readonly number[], count: number, events: number, maxEvent: number, bytes: number): boolean {
    if (!this.open || count === 0) return true;
    const head = this.opts.semiSync ? 7 : 5;
    const room = ranges[2 * count - 1]! - ranges[0]! + events * head;
    if (head - 4 + maxEvent >= DIRECT_BYTES || room > COALESCE_BYTES) {
      for (let k = 0; k < count; k++) this.frameRange(data, ranges[2 * k]!, ranges[2 * k + 1]!);
    } else {
      this.appendFramed(data, ranges, count, events, bytes, room, head);
    }
    return this.belowMark();
  }

  /** framePackets into the coalescing buffer (`room` bytes reserved), and the counters that go with it. */
  private appendFramed(data: Buffer, ranges: readonly number[], count: number, events: number, bytes: number, room: number, head: number): void {
    const buf = this.reserve(room);
    this.fill = framePackets(buf, this.fill, data, ranges, count, events, head, this.conn.seq);
    this.conn.seq = (this.conn.seq + events) & 0xff;
    this.pendingEvents += events;
    this.pendingBytes += bytes;
  }

  sendFramed(framed: Buffer, packets: number, eventBytes: number): boolean {
    if (!this.open) return true;
    if (this.opts.semiSync) throw new RangeError('sendFramed: packets framed without the semi-sync header');
    const buf = this.reserve(framed.length);
    const base = this.fill;
    const end = base + framed.length;
    framed.copy(buf, base);
    let seq = this.conn.seq;
    if (seq === 0) {
      seq = packets & 0xff; // framed with sequence ids from 0: already right
    } else {
      for (let at = base; at < end; at += 4 + (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16))) {
        buf[at + 3] = seq;
        seq = (seq + 1) & 0xff;
      }
    }
    this.conn.seq = seq;
    this.fill = end;
    this.pendingEvents += packets;
    this.pendingBytes += eventBytes;
    return this.belowMark();
  }

  /** Frames the whole events of data[start, end) as packets (see sendEvents). */
  private frameRange(data: Buffer, start: number, end: number): void {
    const semi = this.opts.semiSync;
    const head = semi ? 7 : 5; // packet header + [0x00] (+ [0xEF][flag])
    // Pass 1: check the sizes, count the events, see whether they all fit the coalescing path.
    let off = start;
    let n = 0;
    let small = true;
    while (off < end) {
      if (end - off < EVENT_LEN_OFFSET + 4) throw new RangeError(`sendEvents: ${end - off} bytes at ${off} are not a whole event`);
      const size = data.readUInt32LE(off + EVENT_LEN_OFFSET);
      if (size < EVENT_LEN_OFFSET + 4 || off + size > end) throw new RangeError(`sendEvents: event of ${size} bytes at ${off} overruns ${end}`);
      if (head - 4 + size >= DIRECT_BYTES) small = false;
      off += size;
      n++;
    }
    if (n === 0) return;
    if (small) {
      ONE_RANGE[0] = start;
      ONE_RANGE[1] = end;
      this.appendFramed(data, ONE_RANGE, 1, n, end - start, end - start + n * head, head);
      return;
    }
    for (off = start; off < end; ) {
      const size = data.readUInt32LE(off + EVENT_LEN_OFFSET);
      this.put(data, off, size, semi, false);
      off += size;
    }
    this.pendingEvents += n;
    this.pendingBytes += end - start;
  }

  private count(): void {
    const events = this.pendingEvents;
    if (events === 0) return;
    const bytes = this.pendingBytes;
    this.pendingEvents = 0;
    this.pendingBytes = 0;
    this.eventsSent += events;
    this.bytesSent += bytes;
    if (this.opts.metrics) {
      this.opts.metrics.eventsSent.inc(events);
      this.opts.metrics.bytesSent.inc(bytes);
    }
  }

  drain(): Promise<void> {
    this.flush();
    if (!this.open || this.belowMark()) return Promise.resolve();
    return this.conn.drained(this.opts.highWaterMark / 2, this.controller.signal);
  }

  sendError(errno: number, sqlState: string, message: string): void {
    if (!this.open) return;
    this.flush();
    this.ended = 'error';
    this.conn.write(encodeErr({ code: errno, sqlState, message }));
    trimSpares();
  }

  sendEof(): void {
    if (!this.open) return;
    this.flush();
    this.ended = 'eof';
    this.conn.write(encodeEof({ warnings: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT }));
    trimSpares();
  }

  onAck(listener: (file: string, position: bigint) => void): void {
    this.ackListeners.push(listener);
  }

  /** Called by the session for each semi-sync ACK read from the replica. */
  deliverAck(file: string, position: bigint): void {
    for (const l of this.ackListeners) l(file, position);
  }
}
