/**
 * MySQL GTID_LOG_EVENT (33) and ANONYMOUS_GTID_LOG_EVENT (34), 5.6 .. 9.x. Body layout (post-header 42 on
 * 5.7+, 25 on 5.6); fields after the post-header appear only on newer servers, so they are read in order
 * while bytes remain, as the server does:
 *
 *   offset  size    field
 *   0       1       gtid_flags                 bit 0 FLAG_MAY_HAVE_SBR
 *   1       16      sid (source UUID)          all zero when anonymous
 *   17      8       gno                        signed; 1 .. 2^63-2, 0 when anonymous
 *   25      1       lt_type                    2 = LOGICAL_TIMESTAMP_TYPECODE                      (5.7+)
 *   26      8       last_committed                                                                 (5.7+)
 *   34      8       sequence_number                                                                (5.7+)
 *   42      7       immediate_commit_timestamp µs; bit 55 set: original_commit_timestamp follows   (8.0.1+)
 *   (49)    7       original_commit_timestamp  absent: equal to the immediate one
 *   ..      lenenc  transaction_length         bytes of the whole group, this event included        (8.0.2+)
 *   ..      4       immediate_server_version   bit 31 set: original_server_version follows         (8.0.14+)
 *   (..)    4       original_server_version    absent: equal to the immediate one
 *   (..)    8       commit_group_ticket        only when set                                        (8.0.33+)
 */
import { ByteReader, ByteWriter, lenencSize } from '../bytes.js';
import { ProtocolError } from '../errors.js';
import type { MysqlGtid } from '../gtid/mysql.js';
import { ANONYMOUS_GTID_LOG_EVENT, GTID_LOG_EVENT, GTID_TAGGED_LOG_EVENT } from './constants.js';
import { viewOf, type EventContext } from './context.js';
import { buildEvent, type EventHeaderInit } from './event_writer.js';
import { asEvent, type BinlogEvent } from './header.js';
import { decodeGtidTagged } from './gtid_tagged.js';
import { uuidFromBytes, uuidToBytes } from './uuid.js';

export const GTID_FLAG_MAY_HAVE_SBR = 0x01;
export const LOGICAL_TIMESTAMP_TYPECODE = 2;
const ENCODED_COMMIT_TIMESTAMP_FLAG = 1n << 55n;
const COMMIT_TIMESTAMP_MASK = ENCODED_COMMIT_TIMESTAMP_FLAG - 1n;
const ENCODED_SERVER_VERSION_FLAG = 0x80000000;
/** One past the largest valid GNO (INT64_MAX). */
const GNO_END = 0x7fffffffffffffffn;

/** A decoded MySQL GTID, ANONYMOUS_GTID or GTID_TAGGED event. Optional fields are undefined when absent. */
export interface MysqlGtidEvent {
  typeCode: number;
  anonymous: boolean;
  flags: number;
  /** Canonical lowercase UUID (all zeros when anonymous). */
  uuid: string;
  gno: bigint;
  /** '' unless GTID_TAGGED (lowercased). */
  tag: string;
  /** `{ uuid, tag, gno }`; undefined for an anonymous transaction. */
  gtid: MysqlGtid | undefined;
  lastCommitted: bigint | undefined;
  sequenceNumber: bigint | undefined;
  immediateCommitTimestamp: bigint | undefined;
  originalCommitTimestamp: bigint | undefined;
  transactionLength: bigint | undefined;
  immediateServerVersion: number | undefined;
  originalServerVersion: number | undefined;
  commitGroupTicket: bigint | undefined;
}

/** Decodes GTID (33), ANONYMOUS_GTID (34) or, by delegating to `decodeGtidTagged`, GTID_TAGGED (42). */
export function decodeMysqlGtid(event: BinlogEvent | Buffer, ctx: EventContext): MysqlGtidEvent {
  const ev = asEvent(event);
  if (ev.typeCode === GTID_TAGGED_LOG_EVENT) return decodeGtidTagged(ev, ctx);
  const { body } = viewOf(ev, ctx, [GTID_LOG_EVENT, ANONYMOUS_GTID_LOG_EVENT], 'a MySQL GTID event');
  const typeCode = ev.typeCode;
  const anonymous = typeCode === ANONYMOUS_GTID_LOG_EVENT;
  const r = new ByteReader(body);
  const flags = r.u8('GTID flags');
  r.need(16, 'GTID sid');
  const uuid = uuidFromBytes(body, r.pos);
  r.pos += 16;
  r.need(8, 'GTID gno');
  const gno = body.readBigInt64LE(r.pos);
  r.pos += 8;
  if (!anonymous && (gno < 1n || gno >= GNO_END)) {
    throw new ProtocolError('ERR_MALFORMED', `GTID event gno ${gno} is outside 1..${GNO_END - 1n}`);
  }
  const out: MysqlGtidEvent = {
    typeCode,
    anonymous,
    flags,
    uuid,
    gno,
    tag: '',
    gtid: anonymous ? undefined : { uuid, tag: '', gno },
    lastCommitted: undefined,
    sequenceNumber: undefined,
    immediateCommitTimestamp: undefined,
    originalCommitTimestamp: undefined,
    transactionLength: undefined,
    immediateServerVersion: undefined,
    originalServerVersion: undefined,
    commitGroupTicket: undefined,
  };
  // As the server does: logical timestamps only behind typecode 2 (5.7.4 and older development releases
  // wrote another value); without them nothing further is read.
  if (r.remaining < 1 || body[r.pos] !== LOGICAL_TIMESTAMP_TYPECODE) return out;
  r.pos += 1;
  out.lastCommitted = r.u64('GTID last_committed');
  out.sequenceNumber = r.u64('GTID sequence_number');
  if (r.remaining >= 7) {
    const ts = BigInt(r.u48('GTID immediate_commit_timestamp')) | (BigInt(r.u8()) << 48n);
    out.immediateCommitTimestamp = ts & COMMIT_TIMESTAMP_MASK;
    if ((ts & ENCODED_COMMIT_TIMESTAMP_FLAG) !== 0n) {
      out.originalCommitTimestamp = BigInt(r.u48('GTID original_commit_timestamp')) | (BigInt(r.u8()) << 48n);
    } else {
      out.originalCommitTimestamp = out.immediateCommitTimestamp;
    }
    if (r.remaining >= 1) out.transactionLength = r.lenenc('GTID transaction_length');
    if (r.remaining >= 4) {
      const v = r.u32('GTID immediate_server_version');
      out.immediateServerVersion = (v & ~ENCODED_SERVER_VERSION_FLAG) >>> 0;
      out.originalServerVersion =
        (v & ENCODED_SERVER_VERSION_FLAG) !== 0 ? r.u32('GTID original_server_version') : out.immediateServerVersion;
      if (r.remaining >= 8) out.commitGroupTicket = r.u64('GTID commit_group_ticket');
    }
  }
  return out;
}

/**
 * Encodes a GTID (33) or ANONYMOUS_GTID (34) event. Fields are written up to the last one that is defined,
 * in the order above; original timestamp / server version only when they differ from the immediate ones.
 */
export function encodeMysqlGtid(g: MysqlGtidEvent, header: Omit<EventHeaderInit, 'typeCode'>, checksum: boolean): Buffer {
  if (g.typeCode !== GTID_LOG_EVENT && g.typeCode !== ANONYMOUS_GTID_LOG_EVENT) {
    throw new RangeError(`encodeMysqlGtid encodes types 33 and 34, not ${g.typeCode}`);
  }
  const hasLt = g.lastCommitted !== undefined;
  const hasTs = hasLt && g.immediateCommitTimestamp !== undefined;
  const hasOrigTs = hasTs && g.originalCommitTimestamp !== undefined && g.originalCommitTimestamp !== g.immediateCommitTimestamp;
  const hasLen = hasTs && g.transactionLength !== undefined;
  const hasVer = hasLen && g.immediateServerVersion !== undefined;
  const hasOrigVer =
    hasVer && g.originalServerVersion !== undefined && g.originalServerVersion !== g.immediateServerVersion;
  const hasTicket = hasVer && g.commitGroupTicket !== undefined;
  const size =
    25 +
    (hasLt ? 17 : 0) +
    (hasTs ? 7 : 0) +
    (hasOrigTs ? 7 : 0) +
    (hasLen ? lenencSize(g.transactionLength!) : 0) +
    (hasVer ? 4 : 0) +
    (hasOrigVer ? 4 : 0) +
    (hasTicket ? 8 : 0);
  const w = new ByteWriter(size).u8(g.flags).bytes(uuidToBytes(g.uuid));
  w.buf.writeBigInt64LE(g.gno, w.pos);
  w.pos += 8;
  if (hasLt) w.u8(LOGICAL_TIMESTAMP_TYPECODE).u64(g.lastCommitted!).u64(g.sequenceNumber ?? 0n);
  if (hasTs) {
    const ts = g.immediateCommitTimestamp! | (hasOrigTs ? ENCODED_COMMIT_TIMESTAMP_FLAG : 0n);
    w.u48(Number(ts & 0xffffffffffffn)).u8(Number(ts >> 48n));
    if (hasOrigTs) w.u48(Number(g.originalCommitTimestamp! & 0xffffffffffffn)).u8(Number(g.originalCommitTimestamp! >> 48n));
  }
  if (hasLen) w.lenenc(g.transactionLength!);
  if (hasVer) w.u32((g.immediateServerVersion! | (hasOrigVer ? ENCODED_SERVER_VERSION_FLAG : 0)) >>> 0);
  if (hasOrigVer) w.u32(g.originalServerVersion!);
  if (hasTicket) w.u64(g.commitGroupTicket!);
  return buildEvent({ ...header, typeCode: g.typeCode }, w.finish(), checksum);
}
