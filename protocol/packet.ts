/**
 * Packet framing of the MySQL client/server protocol (§1.1).
 *
 *   offset  size  field
 *   0       3     payload_length  int<3>, 0..0xFFFFFF
 *   3       1     sequence_id     int<1>, +1 per physical packet, wraps mod 256
 *   4       n     payload
 *
 * A logical payload of 0xFFFFFF bytes or more is cut into physical packets of exactly 0xFFFFFF bytes; the
 * first shorter packet ends it, and that last packet is EMPTY when the payload is an exact multiple of
 * 0xFFFFFF. Every physical packet takes the next sequence id.
 *
 * `PacketReader` is an incremental de-framer that never sees a socket: push chunks, pull logical packets.
 * The writers return lists of frames (small header buffers plus zero-copy payload slices) meant for
 * `socket.cork(); socket.write(frame)…; socket.uncork()`.
 */
import { ProtocolError } from './errors.js';
import { MAX_PACKET_PAYLOAD, OK_HEADER, SEMI_SYNC_FLAG_NEED_ACK, SEMI_SYNC_MAGIC } from './constants.js';

/** Bytes of a packet header. */
export const PACKET_HEADER_SIZE = 4;

/** One logical packet. `seq` is the sequence id of its LAST physical packet. */
export interface Packet {
  seq: number;
  payload: Buffer;
}

export interface PacketReaderOptions {
  /** Largest logical payload accepted, in bytes (default 1 GiB, MySQL's max_allowed_packet ceiling). */
  maxPacketSize?: number;
  /** Reject physical packets whose sequence id is not the expected one (default true). */
  checkSequence?: boolean;
}

const DEFAULT_MAX_PACKET_SIZE = 1024 * 1024 * 1024;
/** Compact the chunk list once this many consumed chunks sit at its head. */
const COMPACT_AFTER = 32;
const EMPTY = Buffer.alloc(0);

export class PacketReader {
  private readonly maxPacketSize: number;
  private readonly checkSequence: boolean;

  /** Unconsumed input: chunks[head] starting at headOffset, then the following chunks. */
  private chunks: Buffer[] = [];
  private head = 0;
  private headOffset = 0;
  private queued = 0;

  /** Physical packets of 0xFFFFFF bytes already taken for the logical packet being assembled. */
  private parts: Buffer[] = [];
  private partsLength = 0;

  private expected = 0;
  /** The header read by peekHeader(). */
  private hdrLength = 0;
  private hdrSeq = 0;

  constructor(opts: PacketReaderOptions = {}) {
    const max = opts.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE;
    if (!Number.isSafeInteger(max) || max < 0) throw new RangeError(`invalid maxPacketSize ${max}`);
    this.maxPacketSize = max;
    this.checkSequence = opts.checkSequence ?? true;
  }

  /** The sequence id the next physical packet must carry. */
  get expectedSequence(): number {
    return this.expected;
  }

  /** Bytes received and not yet returned inside a logical packet (queued input plus assembled parts). */
  get bufferedBytes(): number {
    return this.queued + this.partsLength;
  }

  /** Sets the sequence id expected on the next physical packet (e.g. 1 after a semi-sync ACK). */
  expectSequence(seq: number): void {
    if (!Number.isInteger(seq) || seq < 0 || seq > 255) throw new RangeError(`invalid sequence id ${seq}`);
    this.expected = seq;
  }

  /** Next expected sequence id = 0 (a new command starts). */
  resetSequence(): void {
    this.expected = 0;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.queued += chunk.length;
  }

  /**
   * Removes and returns the queued input that is not part of a returned packet, e.g. the first bytes of a
   * TLS ClientHello that arrived in the same chunk as an SSLRequest, or what to hand to a new reader with
   * another size limit. Throws ProtocolError ERR_MALFORMED while a split (0xFFFFFF) packet is half
   * assembled, since those bytes could not be handed on.
   */
  takeQueued(): Buffer {
    if (this.parts.length > 0) {
      throw new ProtocolError('ERR_MALFORMED', 'cannot hand over the input in the middle of a split packet');
    }
    const rest = this.chunks.slice(this.head);
    if (rest.length > 0 && this.headOffset > 0) rest[0] = rest[0]!.subarray(this.headOffset);
    const out = rest.length === 1 ? rest[0]! : Buffer.concat(rest, this.queued);
    this.chunks = [];
    this.head = 0;
    this.headOffset = 0;
    this.queued = 0;
    return out.length === 0 ? EMPTY : out;
  }

  /** Sequence id of the packet nextPayload() returned last (of its last physical packet). */
  lastSequence = 0;
  /** nextPayload(true) returned the payload without its first byte, a 0x00. */
  lastDroppedOk = false;

  /**
   * The next complete logical packet, or `undefined` when more input is needed.
   * Throws ProtocolError ERR_PACKET_SEQUENCE / ERR_PACKET_TOO_LARGE; the reader is unusable afterwards.
   */
  next(): Packet | undefined {
    const payload = this.nextPayload();
    return payload === undefined ? undefined : { seq: this.lastSequence, payload };
  }

  /**
   * next() without a Packet object per packet (a dump stream reads one per event): the sequence id is in
   * lastSequence. With `dropOk`, a payload that starts with 0x00 (a binlog event of a dump stream) comes back
   * without that byte, and lastDroppedOk says so (one view per event instead of the payload and a view of it);
   * a payload of a split (0xFFFFFF) packet is returned whole.
   */
  nextPayload(dropOk = false): Buffer | undefined {
    this.lastDroppedOk = false;
    for (;;) {
      if (this.queued < PACKET_HEADER_SIZE) return undefined;
      this.peekHeader();
      const length = this.hdrLength;
      const seq = this.hdrSeq;
      if (this.checkSequence && seq !== this.expected) {
        throw new ProtocolError(
          'ERR_PACKET_SEQUENCE',
          `packet out of order: expected sequence id ${this.expected}, got ${seq}`,
        );
      }
      const total = this.partsLength + length;
      if (total > this.maxPacketSize) {
        throw new ProtocolError(
          'ERR_PACKET_TOO_LARGE',
          `packet of at least ${total} bytes exceeds the maximum of ${this.maxPacketSize}`,
        );
      }
      if (this.queued < PACKET_HEADER_SIZE + length) return undefined;

      this.consume(PACKET_HEADER_SIZE);
      let payload: Buffer;
      // After consume(), chunks[head] holds the next byte (headOffset is inside it).
      if (dropOk && length > 0 && length < MAX_PACKET_PAYLOAD && this.parts.length === 0 && this.chunks[this.head]![this.headOffset] === 0x00) {
        this.consume(1);
        payload = this.take(length - 1);
        this.lastDroppedOk = true;
      } else {
        payload = this.take(length);
      }
      this.expected = (seq + 1) & 0xff;

      if (length === MAX_PACKET_PAYLOAD) {
        this.parts.push(payload);
        this.partsLength += length;
        continue;
      }
      this.lastSequence = seq;
      if (this.parts.length === 0) return payload;

      this.parts.push(payload);
      const joined = Buffer.concat(this.parts, total);
      this.parts = [];
      this.partsLength = 0;
      return joined;
    }
  }

  /**
   * Reads the 4-byte header at the head of the queue into hdrLength / hdrSeq without consuming it (fields, not
   * an object per packet). Needs queued >= 4.
   */
  private peekHeader(): void {
    const chunk = this.chunks[this.head]!;
    const at = this.headOffset;
    if (chunk.length - at >= PACKET_HEADER_SIZE) {
      this.hdrLength = chunk[at]! | (chunk[at + 1]! << 8) | (chunk[at + 2]! << 16);
      this.hdrSeq = chunk[at + 3]!;
      return;
    }
    const h = [0, 0, 0, 0];
    let i = this.head;
    let off = at;
    for (let n = 0; n < PACKET_HEADER_SIZE; n++) {
      while (off >= this.chunks[i]!.length) {
        i++;
        off = 0;
      }
      h[n] = this.chunks[i]![off++]!;
    }
    this.hdrLength = h[0]! | (h[1]! << 8) | (h[2]! << 16);
    this.hdrSeq = h[3]!;
  }

  /** Drops n queued bytes (n <= queued). */
  private consume(n: number): void {
    this.queued -= n;
    while (n > 0) {
      const chunk = this.chunks[this.head]!;
      const left = chunk.length - this.headOffset;
      if (n < left) {
        this.headOffset += n;
        return;
      }
      n -= left;
      this.advanceChunk();
    }
  }

  /** Removes n queued bytes (n <= queued) and returns them: a subarray when they lie in one chunk. */
  private take(n: number): Buffer {
    if (n === 0) return EMPTY;
    this.queued -= n;
    const chunk = this.chunks[this.head]!;
    const left = chunk.length - this.headOffset;
    if (n <= left) {
      const out = chunk.subarray(this.headOffset, this.headOffset + n);
      if (n === left) this.advanceChunk();
      else this.headOffset += n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[this.head]!;
      const avail = c.length - this.headOffset;
      const k = Math.min(avail, n - filled);
      c.copy(out, filled, this.headOffset, this.headOffset + k);
      filled += k;
      if (k === avail) this.advanceChunk();
      else this.headOffset += k;
    }
    return out;
  }

  private advanceChunk(): void {
    this.head++;
    this.headOffset = 0;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

/** Number of physical packets needed for a logical payload of `length` bytes. */
export function physicalPacketCount(length: number): number {
  return Math.floor(length / MAX_PACKET_PAYLOAD) + 1;
}

function header(length: number, seq: number, extra = 0): Buffer {
  const h = Buffer.allocUnsafe(PACKET_HEADER_SIZE + extra);
  h[0] = length & 0xff;
  h[1] = (length >>> 8) & 0xff;
  h[2] = (length >>> 16) & 0xff;
  h[3] = seq & 0xff;
  return h;
}

function checkSeq(seq: number): void {
  if (!Number.isInteger(seq) || seq < 0 || seq > 255) throw new RangeError(`invalid sequence id ${seq}`);
}

/**
 * Frames one logical payload: [header, payload slice] per physical packet (a header alone for an empty
 * packet). Payload slices are zero-copy subarrays of `payload`.
 */
export function encodePacket(payload: Buffer, seq: number): { frames: Buffer[]; nextSeq: number } {
  checkSeq(seq);
  const frames: Buffer[] = [];
  let off = 0;
  let s = seq;
  for (;;) {
    const n = Math.min(MAX_PACKET_PAYLOAD, payload.length - off);
    frames.push(header(n, s));
    if (n > 0) frames.push(payload.subarray(off, off + n));
    s = (s + 1) & 0xff;
    off += n;
    if (n < MAX_PACKET_PAYLOAD) break;
  }
  return { frames, nextSeq: s };
}

/** One logical payload framed into a single new buffer (tests and small packets). */
export function framePacket(payload: Buffer, seq: number): Buffer {
  const { frames } = encodePacket(payload, seq);
  return frames.length === 2 ? Buffer.concat(frames, PACKET_HEADER_SIZE + payload.length) : Buffer.concat(frames);
}

/**
 * Frames a binlog event as a dump-stream packet: `[header][0x00][event]`, or with semi-sync
 * `[header][0x00][0xEF][flag][event]` (§3.4, §5.2). The first header and the 1 or 3 prefix bytes share one
 * small buffer; the event goes out as zero-copy slices. Split at 0xFFFFFF like any payload (the prefix
 * counts towards the length). Uses `physicalPacketCount(1 (+2) + event.length)` sequence ids.
 */
export function frameEventPacket(event: Buffer, seq: number, semiSync?: { needAck: boolean }): Buffer[] {
  checkSeq(seq);
  const prefix = semiSync ? 3 : 1;
  const total = prefix + event.length;
  const frames: Buffer[] = [];
  const firstLen = Math.min(MAX_PACKET_PAYLOAD, total);
  const first = header(firstLen, seq, prefix);
  first[4] = OK_HEADER;
  if (semiSync) {
    first[5] = SEMI_SYNC_MAGIC;
    first[6] = semiSync.needAck ? SEMI_SYNC_FLAG_NEED_ACK : 0;
  }
  frames.push(first);
  let off = firstLen - prefix; // event bytes already placed
  if (off > 0) frames.push(event.subarray(0, off));
  let s = (seq + 1) & 0xff;
  let last = firstLen;
  while (last === MAX_PACKET_PAYLOAD) {
    const n = Math.min(MAX_PACKET_PAYLOAD, event.length - off);
    frames.push(header(n, s));
    if (n > 0) frames.push(event.subarray(off, off + n));
    off += n;
    s = (s + 1) & 0xff;
    last = n;
  }
  return frames;
}

/** Tracks the sequence id of an outgoing packet stream. */
export class PacketWriter {
  seq: number;

  constructor(seq = 0) {
    checkSeq(seq);
    this.seq = seq;
  }

  reset(seq = 0): void {
    checkSeq(seq);
    this.seq = seq;
  }

  /** Frames `payload` with the current sequence id and advances it. */
  frame(payload: Buffer): Buffer[] {
    const { frames, nextSeq } = encodePacket(payload, this.seq);
    this.seq = nextSeq;
    return frames;
  }

  /** Frames a binlog event as a dump packet (see `frameEventPacket`) and advances the sequence id. */
  frameEvent(event: Buffer, semiSync?: { needAck: boolean }): Buffer[] {
    const frames = frameEventPacket(event, this.seq, semiSync);
    this.seq = (this.seq + physicalPacketCount((semiSync ? 3 : 1) + event.length)) & 0xff;
    return frames;
  }
}
