/**
 * GTID_TAGGED_LOG_EVENT (42), MySQL 8.3+, written for tagged GTIDs (`uuid:tag:gno`). The body uses the
 * mysql::serialization format instead of fixed offsets:
 *
 *   size    field
 *   1       serialization format version (2), a raw byte
 *   varlen  payload_size                 the whole body without the CRC, version byte and itself included
 *   varlen  last_non_ignorable_field_id  unknown fields with a larger id may be skipped
 *   ...     fields: varlen field_id, then the value; ids ascend; optional fields are left out
 *
 *   id  field                       value encoding
 *   0   gtid_flags                  varlen uint
 *   1   sid                         16 × varlen uint (one per UUID byte)
 *   2   gno                         varlen int (zig-zag)
 *   3   tag                         varlen length + bytes
 *   4   last_committed              varlen int
 *   5   sequence_number             varlen int
 *   6   immediate_commit_timestamp  varlen uint (µs)
 *   7   original_commit_timestamp   varlen uint; absent: equal to the immediate one
 *   8   transaction_length          varlen uint
 *   9   immediate_server_version    varlen uint
 *   10  original_server_version     varlen uint; absent: equal to the immediate one
 *   11  commit_group_ticket         varlen uint; absent when unset
 *
 * varlen uint: n = (number of trailing 1-bits of the first byte) + 1 bytes, little-endian, value = that
 * integer >> n; a first byte of 0xff means the value is the 8 bytes that follow. Signed values are zig-zag
 * encoded (x >= 0: x << 1; x < 0: ((-(x + 1)) << 1) | 1).
 */
import { ProtocolError } from '../errors.js';
import { GTID_TAGGED_LOG_EVENT } from './constants.js';
import { viewOf, type EventContext } from './context.js';
import { buildEvent, type EventHeaderInit } from './event_writer.js';
import type { BinlogEvent } from './header.js';
import type { MysqlGtidEvent } from './gtid.js';
import { uuidFromBytes, uuidToBytes, UUID_BYTES } from './uuid.js';

export const GTID_TAGGED_SERIALIZATION_VERSION = 2;
const TAG_MAX_LENGTH = 32;
const U64_MAX = 0xffffffffffffffffn;
const GNO_END = 0x7fffffffffffffffn;

const F_GTID_FLAGS = 0;
const F_SID = 1;
const F_GNO = 2;
const F_TAG = 3;
const F_LAST_COMMITTED = 4;
const F_SEQUENCE_NUMBER = 5;
const F_IMMEDIATE_COMMIT_TS = 6;
const F_ORIGINAL_COMMIT_TS = 7;
const F_TRANSACTION_LENGTH = 8;
const F_IMMEDIATE_SERVER_VERSION = 9;
const F_ORIGINAL_SERVER_VERSION = 10;
const F_COMMIT_GROUP_TICKET = 11;

// ---------------------------------------------------------------------------------------------------------
// varlen integers of mysql::serialization

/** Bytes taken by `value` as a varlen uint (1..9). */
export function varlenUintSize(value: bigint): number {
  if (value < 0n || value > U64_MAX) throw new RangeError(`varlen uint ${value} outside 0..2^64-1`);
  for (let n = 1; n <= 8; n++) if (value < 1n << BigInt(7 * n)) return n;
  return 9;
}

export function writeVarlenUint(value: bigint, out: Buffer, pos: number): number {
  const n = varlenUintSize(value);
  if (n === 9) {
    out[pos] = 0xff;
    out.writeBigUInt64LE(value, pos + 1);
    return pos + 9;
  }
  let v = (value << BigInt(n)) | ((1n << BigInt(n - 1)) - 1n);
  for (let i = 0; i < n; i++) {
    out[pos + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return pos + n;
}

export function encodeVarlenUint(value: bigint): Buffer {
  const out = Buffer.alloc(varlenUintSize(value));
  writeVarlenUint(value, out, 0);
  return out;
}

/** Reads a varlen uint at `pos` (not past `end`); returns the value and the next offset. */
export function readVarlenUint(buf: Buffer, pos: number, end: number = buf.length): { value: bigint; next: number } {
  if (pos >= end) throw new ProtocolError('ERR_TRUNCATED', `truncated varlen integer at offset ${pos}`);
  const first = buf[pos]!;
  let n = 1;
  while (n <= 8 && (first >> (n - 1)) & 1) n++;
  if (pos + n > end) throw new ProtocolError('ERR_TRUNCATED', `truncated ${n}-byte varlen integer at offset ${pos}`);
  if (n === 9) return { value: buf.readBigUInt64LE(pos + 1), next: pos + 9 };
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[pos + i]!);
  return { value: v >> BigInt(n), next: pos + n };
}

export function zigzagEncode(x: bigint): bigint {
  return x >= 0n ? x << 1n : ((-(x + 1n)) << 1n) | 1n;
}

export function zigzagDecode(u: bigint): bigint {
  return (u & 1n) === 0n ? u >> 1n : -(u >> 1n) - 1n;
}

// ---------------------------------------------------------------------------------------------------------

export interface TaggedGtidEvent extends MysqlGtidEvent {
  /** Serialization format version byte (2). */
  formatVersion: number;
  lastNonIgnorableFieldId: number;
}

function smallNumber(v: bigint, max: number, what: string): number {
  if (v > BigInt(max)) throw new ProtocolError('ERR_MALFORMED', `GTID_TAGGED ${what} ${v} exceeds ${max}`);
  return Number(v);
}

export function decodeGtidTagged(event: BinlogEvent | Buffer, ctx: EventContext): TaggedGtidEvent {
  const { body } = viewOf(event, ctx, [GTID_TAGGED_LOG_EVENT], 'a GTID_TAGGED_LOG_EVENT');
  if (body.length < 1) throw new ProtocolError('ERR_TRUNCATED', 'empty GTID_TAGGED_LOG_EVENT body');
  const formatVersion = body[0]!;
  let pos = 1;
  const ps = readVarlenUint(body, pos);
  if (ps.value > BigInt(body.length)) {
    throw new ProtocolError('ERR_TRUNCATED', `GTID_TAGGED payload_size ${ps.value} exceeds its ${body.length}-byte body`);
  }
  const end = Number(ps.value);
  const ln = readVarlenUint(body, ps.next, end);
  const lastNonIgnorableFieldId = smallNumber(ln.value, 0xffff, 'last_non_ignorable_field_id');
  pos = ln.next;
  if (pos > end) throw new ProtocolError('ERR_MALFORMED', `GTID_TAGGED payload_size ${end} is smaller than its header`);

  let flags = 0;
  let uuidBytes: Buffer | undefined;
  let gno: bigint | undefined;
  let tag = '';
  let lastCommitted = 0n;
  let sequenceNumber = 0n;
  let immediateCommitTimestamp = 0n;
  let originalCommitTimestamp: bigint | undefined;
  let transactionLength = 0n;
  let immediateServerVersion = 0;
  let originalServerVersion: number | undefined;
  let commitGroupTicket: bigint | undefined;
  let lastId = -1;
  const next = (): bigint => {
    const r = readVarlenUint(body, pos, end);
    pos = r.next;
    return r.value;
  };
  while (pos < end) {
    const id = smallNumber(next(), 0xffff, 'field id');
    if (id <= lastId) throw new ProtocolError('ERR_MALFORMED', `GTID_TAGGED field id ${id} after ${lastId}`);
    lastId = id;
    if (id > F_COMMIT_GROUP_TICKET) {
      if (id <= lastNonIgnorableFieldId) {
        throw new ProtocolError('ERR_UNSUPPORTED', `GTID_TAGGED has unknown non-ignorable field ${id}`);
      }
      pos = end;
      break;
    }
    switch (id) {
      case F_GTID_FLAGS:
        flags = smallNumber(next(), 0xff, 'gtid_flags');
        break;
      case F_SID:
        uuidBytes = Buffer.alloc(UUID_BYTES);
        for (let i = 0; i < UUID_BYTES; i++) uuidBytes[i] = smallNumber(next(), 0xff, 'sid byte');
        break;
      case F_GNO:
        gno = zigzagDecode(next());
        break;
      case F_TAG: {
        const len = smallNumber(next(), TAG_MAX_LENGTH, 'tag length');
        if (pos + len > end) throw new ProtocolError('ERR_TRUNCATED', `truncated GTID_TAGGED tag at offset ${pos}`);
        tag = body.toString('latin1', pos, pos + len).toLowerCase();
        pos += len;
        break;
      }
      case F_LAST_COMMITTED:
        lastCommitted = zigzagDecode(next());
        break;
      case F_SEQUENCE_NUMBER:
        sequenceNumber = zigzagDecode(next());
        break;
      case F_IMMEDIATE_COMMIT_TS:
        immediateCommitTimestamp = next();
        break;
      case F_ORIGINAL_COMMIT_TS:
        originalCommitTimestamp = next();
        break;
      case F_TRANSACTION_LENGTH:
        transactionLength = next();
        break;
      case F_IMMEDIATE_SERVER_VERSION:
        immediateServerVersion = smallNumber(next(), 0xffffffff, 'immediate_server_version');
        break;
      case F_ORIGINAL_SERVER_VERSION:
        originalServerVersion = smallNumber(next(), 0xffffffff, 'original_server_version');
        break;
      case F_COMMIT_GROUP_TICKET:
        commitGroupTicket = next();
        break;
    }
  }
  if (uuidBytes === undefined || gno === undefined) {
    throw new ProtocolError('ERR_MALFORMED', 'GTID_TAGGED_LOG_EVENT lacks its sid or gno field');
  }
  if (gno < 1n || gno >= GNO_END) {
    throw new ProtocolError('ERR_MALFORMED', `GTID_TAGGED gno ${gno} is outside 1..${GNO_END - 1n}`);
  }
  const uuid = uuidFromBytes(uuidBytes);
  return {
    typeCode: GTID_TAGGED_LOG_EVENT,
    anonymous: false,
    flags,
    uuid,
    gno,
    tag,
    gtid: { uuid, tag, gno },
    lastCommitted,
    sequenceNumber,
    immediateCommitTimestamp,
    originalCommitTimestamp: originalCommitTimestamp ?? immediateCommitTimestamp,
    transactionLength,
    immediateServerVersion,
    originalServerVersion: originalServerVersion ?? immediateServerVersion,
    commitGroupTicket,
    formatVersion,
    lastNonIgnorableFieldId,
  };
}

/**
 * Encodes a GTID_TAGGED_LOG_EVENT. Optional fields (7, 10, 11) are written only when they differ from their
 * default (the immediate value; unset ticket), as MySQL does.
 */
export function encodeGtidTagged(
  g: MysqlGtidEvent & Partial<Pick<TaggedGtidEvent, 'formatVersion' | 'lastNonIgnorableFieldId'>>,
  header: Omit<EventHeaderInit, 'typeCode'>,
  checksum: boolean,
): Buffer {
  const fields: Array<[number, bigint[] | Buffer]> = [];
  const uint = (id: number, v: bigint): void => void fields.push([id, [v]]);
  uint(F_GTID_FLAGS, BigInt(g.flags));
  fields.push([F_SID, [...uuidToBytes(g.uuid)].map((b) => BigInt(b))]);
  uint(F_GNO, zigzagEncode(g.gno));
  fields.push([F_TAG, Buffer.from(g.tag, 'latin1')]);
  uint(F_LAST_COMMITTED, zigzagEncode(g.lastCommitted ?? 0n));
  uint(F_SEQUENCE_NUMBER, zigzagEncode(g.sequenceNumber ?? 0n));
  const ts = g.immediateCommitTimestamp ?? 0n;
  uint(F_IMMEDIATE_COMMIT_TS, ts);
  if (g.originalCommitTimestamp !== undefined && g.originalCommitTimestamp !== ts) {
    uint(F_ORIGINAL_COMMIT_TS, g.originalCommitTimestamp);
  }
  uint(F_TRANSACTION_LENGTH, g.transactionLength ?? 0n);
  const ver = g.immediateServerVersion ?? 0;
  uint(F_IMMEDIATE_SERVER_VERSION, BigInt(ver));
  if (g.originalServerVersion !== undefined && g.originalServerVersion !== ver) {
    uint(F_ORIGINAL_SERVER_VERSION, BigInt(g.originalServerVersion));
  }
  if (g.commitGroupTicket !== undefined) uint(F_COMMIT_GROUP_TICKET, g.commitGroupTicket);

  let fieldsSize = 0;
  for (const [id, v] of fields) {
    fieldsSize += varlenUintSize(BigInt(id));
    if (Buffer.isBuffer(v)) fieldsSize += varlenUintSize(BigInt(v.length)) + v.length;
    else for (const x of v) fieldsSize += varlenUintSize(x);
  }
  const lnif = BigInt(g.lastNonIgnorableFieldId ?? 0);
  const fixed = 1 + varlenUintSize(lnif) + fieldsSize;
  let payload = fixed + 1;
  while (fixed + varlenUintSize(BigInt(payload)) !== payload) payload = fixed + varlenUintSize(BigInt(payload));

  const body = Buffer.alloc(payload);
  body[0] = g.formatVersion ?? GTID_TAGGED_SERIALIZATION_VERSION;
  let pos = writeVarlenUint(BigInt(payload), body, 1);
  pos = writeVarlenUint(lnif, body, pos);
  for (const [id, v] of fields) {
    pos = writeVarlenUint(BigInt(id), body, pos);
    if (Buffer.isBuffer(v)) {
      pos = writeVarlenUint(BigInt(v.length), body, pos);
      pos += v.copy(body, pos);
    } else {
      for (const x of v) pos = writeVarlenUint(x, body, pos);
    }
  }
  if (pos !== payload) throw new RangeError(`GTID_TAGGED encoder wrote ${pos} of ${payload} bytes`);
  return buildEvent({ ...header, typeCode: GTID_TAGGED_LOG_EVENT }, body, checksum);
}
