/**
 * Value codecs of the store (pure: no I/O). All integers are big-endian. A decoding failure is always
 * StorageError ERR_STORAGE_CORRUPT: these bytes were written by us, so anything unexpected is damage.
 *
 * Log segment value (key [0x10][seq][sub], see keys.ts):
 *
 *   offset  size  field
 *   0       1     segment format (SEGMENT_FORMAT = 1)
 *   1       ...   records, back to back, to the end of the value
 *
 * or, for a segment kept in the segment files, a pointer to those bytes (segment-files.ts: [2][file u64]
 * [offset u64][length u32]); every read resolves it before decoding.
 *
 * Record (one unit, or one chunk of a unit too large for one value):
 *
 *   offset  size  field
 *   0       4     length L of the rest of the record (header from offset 4 + data)
 *   4       1     kind: 0 transaction, 1 control
 *   5       1     flags: 0x01 LAST (this record ends its unit)
 *   6       1     GTID type: 0 none, 1 MySQL, 2 MariaDB
 *   7       1     GTID length G
 *   8       4     file number (see the file records)
 *   12      8     pos: offset in the primary's file of the record's first byte
 *   20      8     unit pos: offset of the unit's first byte (= pos for chunk 0)
 *   28      4     chunk index within the unit (0 for the first)
 *   32      4     timestamp (s) of the unit's first event
 *   36      4     max timestamp: the largest unit timestamp up to and including this unit (monotonic, for
 *                 binary search by time)
 *   40      G     GTID. MySQL: uuid 16, tag length 1, tag, gno 8. MariaDB: domain 4, server 4, seq_no 8
 *   40+G    ...   events: whole, verbatim binlog events (header + body + CRC) as the primary wrote them
 *
 * The sequence of a record is the key's seq plus the number of LAST records before it in the segment: a
 * segment holds either several whole units or a single chunk.
 *
 * Checkpoint value (key [0x10][seq][0xffffffff]): the log state after unit `seq`.
 *
 *   0 format u8 (1) | 1 flavor u8 (0 unknown, 1 mysql, 2 mariadb) | 2 lastSeq u64 | 10 firstSeq u64 |
 *   18 lastFileNo u32 | 22 nextFileNo u32 | 26 lastPos u64 | 34 lastTimestamp u32 | 38 maxTimestamp u32 |
 *   42 executed GTIDs: length u32 + utf8 | purged GTIDs: length u32 + utf8
 *
 * File record value (key [0x03][fileNo]):
 *
 *   0 format u8 (1) | 1 fileNo u32 | 5 firstSeq u64 | 13 firstPos u64 | 21 firstTimestamp u32 |
 *   25 flags u8 (0x01 start GTIDs known) | 26 name: length u16 + utf8 | start GTIDs: length u32 + utf8 |
 *   GTIDs before the file: length u32 + utf8 | FDE: length u32 + bytes
 *
 * Format value (key [0x01]): magic 'BLPX' | version u32.
 */
import { LOG_EVENT_HEADER_LEN } from '../protocol/binlog/constants.js';
import type { MariadbGtid } from '../protocol/gtid/mariadb.js';
import type { MysqlGtid } from '../protocol/gtid/mysql.js';
import { corrupt, StorageError } from './errors.js';

export type Flavor = 'mysql' | 'mariadb';
export type UnitKind = 'transaction' | 'control';
export type AnyGtid = MysqlGtid | MariadbGtid;

export const SEGMENT_FORMAT = 1;
export const RECORD_HEADER_LEN = 40;
export const FLAG_LAST = 0x01;

const GTID_NONE = 0;
const GTID_MYSQL = 1;
const GTID_MARIADB = 2;
const TWO_32 = 0x1_0000_0000;
const U32_MAX = 0xffffffff;
const MAX_GNO = 0x7fffffffffffffffn;
const U64_MAX = 0xffffffffffffffffn;

/** event_size in the common header (§4.1 of the protocol brief): int<4> LE at offset 9. */
const EVENT_SIZE_OFFSET = 9;

// ---- small big-endian cursor ---------------------------------------------------------------------------

class Cursor {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly what: string,
  ) {}

  need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw corrupt(`${this.what}: truncated at offset ${this.pos} (need ${n} bytes, ${this.buf.length - this.pos} left)`);
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A u64 that must be a safe integer (sequences). */
  seq(): number {
    this.need(8);
    const v = this.buf.readUInt32BE(this.pos) * TWO_32 + this.buf.readUInt32BE(this.pos + 4);
    if (!Number.isSafeInteger(v)) throw corrupt(`${this.what}: sequence out of range at offset ${this.pos}`);
    this.pos += 8;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  str32(): string {
    const n = this.u32();
    this.need(n);
    const v = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  end(): void {
    if (this.pos !== this.buf.length) throw corrupt(`${this.what}: ${this.buf.length - this.pos} trailing bytes`);
  }
}

function writeSeq(buf: Buffer, value: number, offset: number): number {
  buf.writeUInt32BE(Math.floor(value / TWO_32), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
  return offset + 8;
}

function strBytes(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

// ---- events --------------------------------------------------------------------------------------------

/**
 * Checks that `event` is one whole binlog event: at least a common header, and its event_size field equals
 * its length. Storage does not decode events; this only keeps the framing that readers rely on intact.
 */
export function checkEventFraming(event: Buffer, index: number): void {
  if (!Buffer.isBuffer(event) || event.length < LOG_EVENT_HEADER_LEN) {
    throw new StorageError(
      'ERR_STORAGE_APPEND',
      `event ${index} is ${Buffer.isBuffer(event) ? `${event.length} bytes` : 'not a Buffer'}: shorter than a ${LOG_EVENT_HEADER_LEN}-byte header`,
    );
  }
  const size = event.readUInt32LE(EVENT_SIZE_OFFSET);
  if (size !== event.length) {
    throw new StorageError('ERR_STORAGE_APPEND', `event ${index}: header event_size ${size} but the buffer holds ${event.length} bytes`);
  }
}

/** Size of the event starting at `offset` of `data` (data written by us: a bad size is corruption). */
export function eventSizeAt(data: Buffer, offset: number): number {
  if (offset + LOG_EVENT_HEADER_LEN > data.length) throw corrupt(`event header truncated at offset ${offset} of ${data.length}`);
  const size = data.readUInt32LE(offset + EVENT_SIZE_OFFSET);
  if (size < LOG_EVENT_HEADER_LEN || offset + size > data.length) {
    throw corrupt(`event at offset ${offset} has size ${size}, past the ${data.length} stored bytes`);
  }
  return size;
}

/** Splits whole events stored back to back (a unit's `data`) into views over the same memory. */
export function splitEvents(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < data.length) {
    const size = eventSizeAt(data, off);
    out.push(data.subarray(off, off + size));
    off += size;
  }
  return out;
}

// ---- GTIDs ---------------------------------------------------------------------------------------------

export function isMysqlGtid(g: AnyGtid): g is MysqlGtid {
  return typeof (g as MysqlGtid).uuid === 'string';
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TAG_RE = /^([a-z_][a-z0-9_]{0,31})?$/;

/**
 * Remembers the last UUID converted in each direction: consecutive transactions nearly always come from the
 * same server, so this saves a hex conversion per unit. One instance per store / reader (no shared state).
 */
export class UuidCache {
  private text = '';
  private bytes = Buffer.alloc(16);
  private decodedBytes = Buffer.alloc(16);
  private decoded = '';

  toBytes(uuid: string): Buffer {
    if (uuid === this.text) return this.bytes;
    const lower = typeof uuid === 'string' ? uuid.toLowerCase() : '';
    if (!UUID_RE.test(lower)) throw new StorageError('ERR_STORAGE_APPEND', `invalid GTID uuid '${String(uuid)}'`);
    this.bytes = Buffer.from(lower.replace(/-/g, ''), 'hex');
    this.text = uuid;
    return this.bytes;
  }

  fromBytes(buf: Buffer, off: number): string {
    if (this.decoded !== '' && buf.compare(this.decodedBytes, 0, 16, off, off + 16) === 0) return this.decoded;
    const h = buf.toString('hex', off, off + 16);
    this.decoded = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    this.decodedBytes = Buffer.from(buf.subarray(off, off + 16));
    return this.decoded;
  }
}

/** Encoded size of a GTID in a record header; validates it (ERR_STORAGE_APPEND). */
export function gtidLength(g: AnyGtid | null | undefined, flavor: Flavor, uuids: UuidCache): number {
  if (g === null || g === undefined) return 0;
  if (isMysqlGtid(g)) {
    if (flavor !== 'mysql') throw new StorageError('ERR_STORAGE_FLAVOR', `a MySQL GTID appended to a ${flavor} store`);
    uuids.toBytes(g.uuid);
    const tag = typeof g.tag === 'string' ? g.tag : '';
    if (!TAG_RE.test(tag)) throw new StorageError('ERR_STORAGE_APPEND', `invalid GTID tag '${String(g.tag)}'`);
    if (typeof g.gno !== 'bigint' || g.gno < 1n || g.gno > MAX_GNO) {
      throw new StorageError('ERR_STORAGE_APPEND', `invalid GTID gno ${String(g.gno)}`);
    }
    return 16 + 1 + tag.length + 8;
  }
  if (flavor !== 'mariadb') throw new StorageError('ERR_STORAGE_FLAVOR', `a MariaDB GTID appended to a ${flavor} store`);
  const m = g as MariadbGtid;
  if (!isU32(m.domainId) || !isU32(m.serverId) || typeof m.seqNo !== 'bigint' || m.seqNo < 0n || m.seqNo > U64_MAX) {
    throw new StorageError('ERR_STORAGE_APPEND', `invalid MariaDB GTID ${String(m.domainId)}-${String(m.serverId)}-${String(m.seqNo)}`);
  }
  return 16;
}

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= U32_MAX;
}

function writeGtid(buf: Buffer, off: number, g: AnyGtid, uuids: UuidCache): void {
  if (isMysqlGtid(g)) {
    uuids.toBytes(g.uuid).copy(buf, off);
    const tag = g.tag ?? '';
    buf[off + 16] = tag.length;
    buf.write(tag, off + 17, 'latin1');
    writeU64(buf, g.gno, off + 17 + tag.length);
  } else {
    buf.writeUInt32BE(g.domainId, off);
    buf.writeUInt32BE(g.serverId, off + 4);
    writeU64(buf, g.seqNo, off + 8);
  }
}

function readGtid(buf: Buffer, off: number, type: number, len: number, uuids: UuidCache): AnyGtid | null {
  if (type === GTID_NONE) {
    if (len !== 0) throw corrupt(`record without GTID has GTID length ${len}`);
    return null;
  }
  if (type === GTID_MYSQL) {
    const tagLen = buf[off + 16]!;
    if (len !== 25 + tagLen) throw corrupt(`MySQL GTID length ${len} does not match tag length ${tagLen}`);
    return { uuid: uuids.fromBytes(buf, off), tag: buf.toString('latin1', off + 17, off + 17 + tagLen), gno: buf.readBigUInt64BE(off + 17 + tagLen) };
  }
  if (type === GTID_MARIADB) {
    if (len !== 16) throw corrupt(`MariaDB GTID length ${len}`);
    return { domainId: buf.readUInt32BE(off), serverId: buf.readUInt32BE(off + 4), seqNo: buf.readBigUInt64BE(off + 8) };
  }
  throw corrupt(`unknown GTID type ${type}`);
}

/**
 * Buffer#writeBigUInt64BE, without its two intermediate bigints (a heap allocation each) for values below
 * 2^53, i.e. every position and nearly every GTID number: same bytes.
 */
function writeU64(buf: Buffer, v: bigint, off: number): void {
  if (v >= 0n && v <= 0x1fffffffffffffn) {
    const n = Number(v);
    buf.writeUInt32BE(Math.floor(n / 0x100000000), off);
    buf.writeUInt32BE(n >>> 0, off + 4);
  } else {
    buf.writeBigUInt64BE(v, off);
  }
}

// ---- records -------------------------------------------------------------------------------------------

export interface RecordMeta {
  kind: UnitKind;
  last: boolean;
  gtid: AnyGtid | null;
  gtidLen: number;
  fileNo: number;
  pos: bigint;
  unitPos: bigint;
  chunk: number;
  timestamp: number;
  maxTimestamp: number;
}

/** Bytes of a record: header, GTID and `dataLength` bytes of events. */
export function recordSize(m: RecordMeta, dataLength: number): number {
  return RECORD_HEADER_LEN + m.gtidLen + dataLength;
}

/**
 * Writes a whole record (header, GTID, then the events copied in) into `buf` at `off`; returns the offset
 * after it. The caller checked that recordSize() bytes fit.
 */
export function writeRecord(buf: Buffer, off: number, m: RecordMeta, events: readonly Buffer[], dataLength: number, uuids: UuidCache): number {
  let at = writeRecordHeader(buf, off, m, dataLength, uuids);
  // TypedArray#set: about twice as fast as Buffer#copy for event-sized copies (no argument juggling in JS).
  for (const ev of events) {
    buf.set(ev, at);
    at += ev.length;
  }
  return at;
}

/** Writes a record's header and GTID at `off` (its `dataLength` bytes of events follow); returns the data offset. */
export function writeRecordHeader(buf: Buffer, off: number, m: RecordMeta, dataLength: number, uuids: UuidCache): number {
  buf.writeUInt32BE(RECORD_HEADER_LEN - 4 + m.gtidLen + dataLength, off);
  buf[off + 4] = m.kind === 'transaction' ? 0 : 1;
  buf[off + 5] = m.last ? FLAG_LAST : 0;
  buf[off + 6] = m.gtid === null ? GTID_NONE : isMysqlGtid(m.gtid) ? GTID_MYSQL : GTID_MARIADB;
  buf[off + 7] = m.gtidLen;
  buf.writeUInt32BE(m.fileNo, off + 8);
  writeU64(buf, m.pos, off + 12);
  writeU64(buf, m.unitPos, off + 20);
  buf.writeUInt32BE(m.chunk, off + 28);
  buf.writeUInt32BE(m.timestamp, off + 32);
  buf.writeUInt32BE(m.maxTimestamp, off + 36);
  if (m.gtid !== null) writeGtid(buf, off + RECORD_HEADER_LEN, m.gtid, uuids);
  return off + RECORD_HEADER_LEN + m.gtidLen;
}

// ---- segment pointers (segment-files.ts) ---------------------------------------------------------------

/** First byte of a pointer value (a segment value starts with SEGMENT_FORMAT, 1). */
export const POINTER_FORMAT = 2;
/** [POINTER_FORMAT][file: u64][offset: u64][length: u32]. */
export const POINTER_LENGTH = 21;

export interface SegmentPointer {
  /** The segment file's first unit (its name). */
  file: number;
  offset: number;
  length: number;
}

export function encodePointer(p: SegmentPointer): Buffer {
  const b = Buffer.allocUnsafe(POINTER_LENGTH);
  b[0] = POINTER_FORMAT;
  writeSeq(b, p.file, 1);
  writeSeq(b, p.offset, 9);
  b.writeUInt32BE(p.length, 17);
  return b;
}

/** The pointer in a segment's log value, or null when the value is the segment itself. */
export function decodePointer(value: Buffer): SegmentPointer | null {
  if (value.length !== POINTER_LENGTH || value[0] !== POINTER_FORMAT) return null;
  const c = new Cursor(value, 1, 'segment pointer');
  return { file: c.seq(), offset: c.seq(), length: c.u32() };
}

/** A segment value holding exactly one record. */
export function singleRecordSegment(m: RecordMeta, events: readonly Buffer[], dataLength: number, uuids: UuidCache): Buffer {
  const value = Buffer.allocUnsafe(1 + recordSize(m, dataLength));
  value[0] = SEGMENT_FORMAT;
  writeRecord(value, 1, m, events, dataLength, uuids);
  return value;
}

/** A decoded record; `data` is a view into the segment value (no copy). */
export interface LogRecord {
  seq: number;
  kind: UnitKind;
  last: boolean;
  gtid: AnyGtid | null;
  fileNo: number;
  pos: bigint;
  unitPos: bigint;
  chunk: number;
  timestamp: number;
  maxTimestamp: number;
  data: Buffer;
}

/**
 * Checks the framing of the record at `off` of a segment value (written by us: anything wrong is corruption)
 * and returns its end offset. `expectChunk` is the chunk index the record must carry.
 */
export function checkRecordAt(keySeq: number, keySub: number, value: Buffer, off: number, seq: number, expectChunk: number): number {
  if (off + RECORD_HEADER_LEN > value.length) throw corrupt(`log segment ${keySeq}/${keySub}: record header truncated at ${off}`);
  const len = value.readUInt32BE(off);
  const end = off + 4 + len;
  const gtidLen = value[off + 7]!;
  if (len < RECORD_HEADER_LEN - 4 + gtidLen || end > value.length) {
    throw corrupt(`log segment ${keySeq}/${keySub}: record at ${off} has length ${len}, past the ${value.length}-byte value`);
  }
  const kindByte = value[off + 4]!;
  if (kindByte > 1) throw corrupt(`log segment ${keySeq}/${keySub}: record kind ${kindByte}`);
  const chunk = value.readUInt32BE(off + 28);
  if (chunk !== expectChunk) throw corrupt(`log segment ${keySeq}/${keySub}: record ${seq} has chunk ${chunk}, expected ${expectChunk}`);
  if ((value[off + 5]! & FLAG_LAST) === 0 && end !== value.length) {
    throw corrupt(`log segment ${keySeq}/${keySub}: a chunk that does not end its unit is not alone in its value`);
  }
  return end;
}

/** Field readers of a record at `off` whose framing checkRecordAt() accepted (no copies, no bigints). */
export const recordField = {
  isTransaction: (value: Buffer, off: number): boolean => value[off + 4] === 0,
  isLast: (value: Buffer, off: number): boolean => (value[off + 5]! & FLAG_LAST) !== 0,
  fileNo: (value: Buffer, off: number): number => value.readUInt32BE(off + 8),
  dataStart: (value: Buffer, off: number): number => off + RECORD_HEADER_LEN + value[off + 7]!,
  end: (value: Buffer, off: number): number => off + 4 + value.readUInt32BE(off),
  /** pos as a number: exact below 2^53 (a binlog file position is at most 2^64 but in practice far below). */
  posNumber: (value: Buffer, off: number): number => value.readUInt32BE(off + 12) * TWO_32 + value.readUInt32BE(off + 16),
} as const;

/** The GTID of the record at `off` (framing already checked by checkRecordAt), null when it has none. */
export function recordGtid(value: Buffer, off: number, uuids: UuidCache): AnyGtid | null {
  return readGtid(value, off + RECORD_HEADER_LEN, value[off + 6]!, value[off + 7]!, uuids);
}

/** Decodes the record at `off` (framing already checked by checkRecordAt), the `seq`-th unit of the log. */
export function decodeRecordAt(value: Buffer, off: number, seq: number, uuids: UuidCache): LogRecord {
  const gtidLen = value[off + 7]!;
  return {
    seq,
    kind: value[off + 4] === 0 ? 'transaction' : 'control',
    last: (value[off + 5]! & FLAG_LAST) !== 0,
    gtid: readGtid(value, off + RECORD_HEADER_LEN, value[off + 6]!, gtidLen, uuids),
    fileNo: value.readUInt32BE(off + 8),
    pos: value.readBigUInt64BE(off + 12),
    unitPos: value.readBigUInt64BE(off + 20),
    chunk: value.readUInt32BE(off + 28),
    timestamp: value.readUInt32BE(off + 32),
    maxTimestamp: value.readUInt32BE(off + 36),
    data: value.subarray(off + RECORD_HEADER_LEN + gtidLen, off + 4 + value.readUInt32BE(off)),
  };
}

/** Checks a segment value's format byte. */
export function checkSegmentFormat(keySeq: number, keySub: number, value: Buffer): void {
  if (value.length < 1 || value[0] !== SEGMENT_FORMAT) {
    throw corrupt(`log segment ${keySeq}/${keySub}: unknown segment format ${value.length === 0 ? '(empty)' : value[0]}`);
  }
  if (value.length === 1) throw corrupt(`log segment ${keySeq}/${keySub}: no records`);
}

/** Decodes every record of the segment stored under log key (keySeq, keySub). */
export function decodeSegment(keySeq: number, keySub: number, value: Buffer, uuids: UuidCache): LogRecord[] {
  checkSegmentFormat(keySeq, keySub, value);
  const out: LogRecord[] = [];
  let off = 1;
  let seq = keySeq;
  let expectChunk = keySub;
  while (off < value.length) {
    const end = checkRecordAt(keySeq, keySub, value, off, seq, expectChunk);
    const r = decodeRecordAt(value, off, seq, uuids);
    out.push(r);
    if (r.last) {
      seq++;
      expectChunk = 0;
    } else {
      expectChunk = r.chunk + 1;
    }
    off = end;
  }
  return out;
}

/**
 * The number of units in a segment value that holds whole units only (every record LAST), checking each
 * record's framing; 0 for a value holding a chunk of a larger unit.
 */
export function wholeUnitCount(keySeq: number, keySub: number, value: Buffer): number {
  checkSegmentFormat(keySeq, keySub, value);
  let n = 0;
  for (let off = 1; off < value.length; n++) {
    const end = checkRecordAt(keySeq, keySub, value, off, keySeq + n, n === 0 ? keySub : 0);
    if ((value[off + 5]! & FLAG_LAST) === 0) return 0;
    off = end;
  }
  return n;
}

/**
 * One segment value holding the records of `values`, consecutive whole-unit segments (each the next units
 * after the one before): what a single segment of those units would have been.
 */
export function concatSegments(values: readonly Buffer[], bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  out[0] = SEGMENT_FORMAT;
  let at = 1;
  for (const v of values) at += v.copy(out, at, 1);
  return out;
}

// ---- checkpoint ----------------------------------------------------------------------------------------

export const CHECKPOINT_FORMAT = 1;

export interface CheckpointState {
  flavor: Flavor | null;
  lastSeq: number;
  firstSeq: number;
  lastFileNo: number;
  nextFileNo: number;
  lastPos: bigint;
  lastTimestamp: number;
  maxTimestamp: number;
  executed: string;
  purged: string;
}

function flavorCode(f: Flavor | null): number {
  return f === null ? 0 : f === 'mysql' ? 1 : 2;
}

export function encodeCheckpoint(s: CheckpointState): Buffer {
  const ex = strBytes(s.executed);
  const pu = strBytes(s.purged);
  const buf = Buffer.allocUnsafe(42 + 4 + ex.length + 4 + pu.length);
  buf[0] = CHECKPOINT_FORMAT;
  buf[1] = flavorCode(s.flavor);
  writeSeq(buf, s.lastSeq, 2);
  writeSeq(buf, s.firstSeq, 10);
  buf.writeUInt32BE(s.lastFileNo, 18);
  buf.writeUInt32BE(s.nextFileNo, 22);
  buf.writeBigUInt64BE(s.lastPos, 26);
  buf.writeUInt32BE(s.lastTimestamp, 34);
  buf.writeUInt32BE(s.maxTimestamp, 38);
  let off = 42;
  buf.writeUInt32BE(ex.length, off);
  off += 4 + ex.copy(buf, off + 4);
  buf.writeUInt32BE(pu.length, off);
  pu.copy(buf, off + 4);
  return buf;
}

export function decodeCheckpoint(value: Buffer, where: string): CheckpointState {
  const c = new Cursor(value, 0, `checkpoint ${where}`);
  const format = c.u8();
  if (format !== CHECKPOINT_FORMAT) throw corrupt(`checkpoint ${where}: unknown format ${format}`);
  const fl = c.u8();
  if (fl > 2) throw corrupt(`checkpoint ${where}: unknown flavor ${fl}`);
  const s: CheckpointState = {
    flavor: fl === 0 ? null : fl === 1 ? 'mysql' : 'mariadb',
    lastSeq: c.seq(),
    firstSeq: c.seq(),
    lastFileNo: c.u32(),
    nextFileNo: c.u32(),
    lastPos: c.u64(),
    lastTimestamp: c.u32(),
    maxTimestamp: c.u32(),
    executed: c.str32(),
    purged: c.str32(),
  };
  c.end();
  return s;
}

// ---- file records --------------------------------------------------------------------------------------

export const FILE_RECORD_FORMAT = 1;

export interface FileRecord {
  fileNo: number;
  name: string;
  firstSeq: number;
  firstPos: bigint;
  firstTimestamp: number;
  /** The file's own starting GTID state (PREVIOUS_GTIDS / GTID_LIST text), when known. */
  startGtids: string | null;
  /** The store's executed GTIDs just before the file's first unit. */
  gtidsBefore: string;
  fde: Buffer;
}

export function encodeFileRecord(f: FileRecord): Buffer {
  const name = strBytes(f.name);
  const start = strBytes(f.startGtids ?? '');
  const before = strBytes(f.gtidsBefore);
  const buf = Buffer.allocUnsafe(26 + 2 + name.length + 4 + start.length + 4 + before.length + 4 + f.fde.length);
  buf[0] = FILE_RECORD_FORMAT;
  buf.writeUInt32BE(f.fileNo, 1);
  writeSeq(buf, f.firstSeq, 5);
  buf.writeBigUInt64BE(f.firstPos, 13);
  buf.writeUInt32BE(f.firstTimestamp, 21);
  buf[25] = f.startGtids === null ? 0 : 1;
  let off = 26;
  buf.writeUInt16BE(name.length, off);
  off += 2 + name.copy(buf, off + 2);
  for (const part of [start, before, f.fde]) {
    buf.writeUInt32BE(part.length, off);
    off += 4 + part.copy(buf, off + 4);
  }
  return buf;
}

export function decodeFileRecord(value: Buffer): FileRecord {
  const c = new Cursor(value, 0, 'file record');
  const format = c.u8();
  if (format !== FILE_RECORD_FORMAT) throw corrupt(`file record: unknown format ${format}`);
  const fileNo = c.u32();
  const firstSeq = c.seq();
  const firstPos = c.u64();
  const firstTimestamp = c.u32();
  const flags = c.u8();
  const nameLen = c.u16();
  const name = c.bytes(nameLen).toString('utf8');
  const startGtids = c.str32();
  const gtidsBefore = c.str32();
  const fde = Buffer.from(c.bytes(c.u32()));
  c.end();
  return { fileNo, name, firstSeq, firstPos, firstTimestamp, startGtids: (flags & 1) !== 0 ? startGtids : null, gtidsBefore, fde };
}

// ---- format version ------------------------------------------------------------------------------------

export const FORMAT_MAGIC = Buffer.from('BLPX', 'latin1');

export function encodeFormat(version: number): Buffer {
  const buf = Buffer.allocUnsafe(8);
  FORMAT_MAGIC.copy(buf, 0);
  buf.writeUInt32BE(version, 4);
  return buf;
}

/** The version, or null when the value is not ours (a foreign database). */
export function decodeFormat(value: Buffer): number | null {
  if (value.length !== 8 || !value.subarray(0, 4).equals(FORMAT_MAGIC)) return null;
  return value.readUInt32BE(4);
}
