/**
 * CRC32 checks of many events with one zlib call: a *run* of events that lie one after the other in the same
 * memory (a socket chunk), possibly with a few framing bytes between them (the packet header and the 0x00 or
 * semi-sync prefix of the next event).
 *
 *   memory:  [ event 1 ... CRC ][ gap ][ event 2 ... CRC ][ gap ] ... [ event n ... CRC ]
 *            ^ start                                                                     ^ end
 *
 * Why: zlib.crc32 costs about 0.28 µs per call before it reads a byte, more than the CRC of a typical 100-byte
 * event itself; an ingest calls it for every event.
 *
 * How: the CRC-32 of an event followed by its own (little-endian) CRC is a constant, the residue R. By the
 * linearity of CRC-32 (zlib's crc32_combine), for any prefix P and a valid event E of length L:
 *
 *   crc(P ‖ E) = x^(8L) · crc(P)  ⊕  crc(E)  =  x^(8L) · crc(P)  ⊕  R        (· and mod the polynomial in GF(2))
 *
 * and a gap G is folded in byte by byte (a table CRC update, a few bytes). So `add` keeps the CRC the whole run
 * would have if every event in it were intact, and `verify` compares it with one crc32() over the run's memory.
 * On a mismatch every event of the run is checked alone (verifyEventChecksum), which throws the usual
 * ChecksumError for the first bad event. A run is not a weaker check than one per event for a single corrupted
 * event: an error inside one event E changes crc(P ‖ E) exactly as it changes crc(E) (times x^(8·|rest|), which
 * is invertible), so the run's CRC differs iff the event's own check fails; errors in several events of a run
 * could cancel out only with the probability of a random 32-bit match (2^-32), the same as one event's check.
 *
 * Only events whose checksum alg is CRC32 and that are not a FORMAT_DESCRIPTION_EVENT (its CRC is computed with
 * a flag cleared) go into a run; the caller checks those alone with verifyEventChecksum.
 *
 * Pure: no I/O. The events added must not change until `verify` (they are views over received bytes).
 */
import { crc32 } from 'node:zlib';
import { ChecksumError } from '../errors.js';
import { verifyEventChecksum } from './checksum.js';
import { BINLOG_CHECKSUM_ALG_CRC32, BINLOG_CHECKSUM_LEN, LOG_EVENT_HEADER_LEN } from './constants.js';

/** CRC-32 (zlib) of any message followed by its own CRC-32, little-endian. */
export const CRC32_RESIDUE = 0x2144df1c;

/** Reflected CRC-32 polynomial (IEEE 802.3). */
const POLY = 0xedb88320;
/** At most this many bytes between two events of one run (packet header 4 + semi-sync prefix 2 + slack). */
const MAX_GAP = 8;

const BYTE_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** a · b modulo the polynomial, both reflected (zlib's multmodp); x^0 is 0x80000000. */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p;
}

/** x^(2^k) modulo the polynomial, k = 0..31 (zlib's x2n_table). */
const X2N = (() => {
  const t = new Int32Array(32);
  let p = 0x40000000; // x^1
  t[0] = p;
  for (let n = 1; n < 32; n++) t[n] = p = multModP(p, p);
  return t;
})();

/** x^(8·n) modulo the polynomial: the operator that appends n zero bytes (zlib's x2nmodp(n, 3)). */
function xPow8n(n: number): number {
  let p = 0x80000000;
  let k = 3;
  while (n > 0) {
    if (n & 1) p = multModP(X2N[k & 31]!, p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/**
 * Multiplication by a fixed x^(8·length) as 8 tables of 16 (one per nibble of the multiplicand): the operator is
 * linear, so its value on any 32-bit input is the XOR of its values on the input's nibbles. Built from the 32
 * basis values, each the previous times x (one shift step). Cached per length (0 = not built).
 */
const SHIFT_TABLES_MAX_LENGTH = 1 << 16;
const SHIFT_TABLES_MAX = 2048;
const shiftTables: Array<Int32Array | undefined> = [];
let shiftTablesBuilt = 0;

function buildShiftTable(length: number): Int32Array {
  const basis = new Int32Array(32);
  // basis[i] = x^(8·length) · (bit i of a reflected value); bit 31 is x^0.
  let v = xPow8n(length);
  for (let i = 31; i >= 0; i--) {
    basis[i] = v;
    v = v & 1 ? (v >>> 1) ^ POLY : v >>> 1;
  }
  const t = new Int32Array(128);
  for (let k = 0; k < 8; k++) {
    for (let n = 1; n < 16; n++) {
      let x = 0;
      for (let j = 0; j < 4; j++) if ((n >> j) & 1) x ^= basis[4 * k + j]!;
      t[16 * k + n] = x;
    }
  }
  return t;
}

/** x^(8·length) · crc modulo the polynomial: the CRC `crc` with `length` zero bytes appended, zlib-linear part. */
function shift(crc: number, length: number): number {
  let t = length < SHIFT_TABLES_MAX_LENGTH ? shiftTables[length] : undefined;
  if (t === undefined) {
    if (length >= SHIFT_TABLES_MAX_LENGTH || shiftTablesBuilt >= SHIFT_TABLES_MAX) return multModP(xPow8n(length), crc);
    t = shiftTables[length] = buildShiftTable(length);
    shiftTablesBuilt++;
  }
  return (
    t[crc & 15]! ^
    t[16 + ((crc >>> 4) & 15)]! ^
    t[32 + ((crc >>> 8) & 15)]! ^
    t[48 + ((crc >>> 12) & 15)]! ^
    t[64 + ((crc >>> 16) & 15)]! ^
    t[80 + ((crc >>> 20) & 15)]! ^
    t[96 + ((crc >>> 24) & 15)]! ^
    t[112 + (crc >>> 28)]!
  );
}

/** zlib.crc32(buf[from..to), crc) without a call into zlib (for the few bytes of a gap). */
function crcUpdate(crc: number, buf: Uint8Array, from: number, to: number): number {
  let c = ~crc;
  for (let i = from; i < to; i++) c = BYTE_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c;
}

/** Combines the CRC checks of consecutive events into one zlib call per run. See the file comment. */
export class ChecksumRun {
  /** The memory the run lies in (the gaps are read from it), and the run's bytes as offsets into it. */
  private memory: Uint8Array | null = null;
  /** memory.buffer (a getter call per use otherwise). */
  private arrayBuffer: ArrayBufferLike | null = null;
  private start = 0;
  private end = 0;
  /** The CRC the run's bytes have if every event is intact. */
  private expected = 0;
  /** Offsets into `memory` of the events (start, end pairs), for the per-event check after a mismatch. */
  private readonly bounds: number[] = [];
  /** Events added since the run was created (checked or not). */
  private count = 0;
  /** The first failure: every later verify() throws it again. */
  private failure: { error: Error; at: number } | null = null;

  /** Events added and not verified yet. */
  get pending(): number {
    return this.bounds.length >> 1;
  }

  /** Events added so far (the n-th event added has index n - 1). */
  get added(): number {
    return this.count;
  }

  /** Index (see `added`) of the event that failed its check, or -1 while none did. */
  get failedAt(): number {
    return this.failure?.at ?? -1;
  }

  /**
   * Adds an event whose alg is CRC32 (not an FDE). Verifies the run so far first when the event does not
   * continue it in memory. An event too short for a trailer is checked at once (verifyEventChecksum throws).
   */
  add(raw: Buffer): void {
    if (raw.length < LOG_EVENT_HEADER_LEN + BINLOG_CHECKSUM_LEN) {
      this.verify();
      this.count++;
      verifyEventChecksum(raw, BINLOG_CHECKSUM_ALG_CRC32);
      return;
    }
    const at = raw.byteOffset;
    let crc = this.expected;
    const memory = this.memory;
    const arrayBuffer = raw.buffer;
    if (memory === null || this.arrayBuffer !== arrayBuffer || at < this.end || at - this.end > MAX_GAP) {
      this.verify();
      this.memory = new Uint8Array(arrayBuffer);
      this.arrayBuffer = arrayBuffer;
      this.start = at;
      crc = 0;
    } else if (at > this.end) {
      crc = crcUpdate(crc, memory, this.end, at);
    }
    this.expected = shift(crc, raw.length) ^ CRC32_RESIDUE;
    this.bounds.push(at, at + raw.length);
    this.end = at + raw.length;
    this.count++;
  }

  /**
   * Checks every event added since the last verify; throws ChecksumError naming the first bad one (and the same
   * error on every later call: the stream is unusable from there).
   */
  verify(): void {
    if (this.failure !== null) throw this.failure.error;
    if (this.bounds.length === 0) return;
    const memory = this.memory!;
    const start = this.start;
    const end = this.end;
    const expected = this.expected;
    const bounds = this.bounds;
    this.memory = null;
    this.arrayBuffer = null;
    const actual = crc32(memory.subarray(start, end));
    if ((actual ^ expected) >>> 0 === 0) {
      bounds.length = 0;
      return;
    }
    const n = bounds.length;
    const first = this.count - n / 2;
    for (let i = 0; i < n; i += 2) {
      try {
        verifyEventChecksum(Buffer.from(memory.buffer, bounds[i]!, bounds[i + 1]! - bounds[i]!), BINLOG_CHECKSUM_ALG_CRC32);
      } catch (err) {
        bounds.length = 0;
        this.failure = { error: err as Error, at: first + i / 2 };
        throw err;
      }
    }
    bounds.length = 0;
    // Unreachable while the gap bytes stay as they were when added.
    const error = new ChecksumError(`a run of ${n / 2} binlog events fails its combined CRC32 check, no single event does`, expected >>> 0, actual >>> 0);
    this.failure = { error, at: first };
    throw error;
  }

  /** Forgets the events added (their bytes are not checked) and any failure. */
  reset(): void {
    this.failure = null;
    this.memory = null;
    this.arrayBuffer = null;
    this.bounds.length = 0;
  }
}
