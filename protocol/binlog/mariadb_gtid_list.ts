/**
 * MariaDB GTID_LIST_EVENT (163): the binlog state (last GTID per domain and server) at the start of a file, or
 * a fake one a sender emits once a GTID dump has reached the requested position. Body layout:
 *
 *   offset  size      field
 *   0       4         count in the low 28 bits; flags in the high 4 (1<<28 FLAG_UNTIL_REACHED,
 *                     1<<29 FLAG_IGN_GTIDS)
 *   4       16×count  domain_id int<4>, server_id int<4>, seq_no int<8>
 *   ..                padding: an empty list carries 2 zero bytes (MariaDB keeps every body at least 6 bytes)
 */
import { ByteWriter } from '../bytes.js';
import { ProtocolError } from '../errors.js';
import type { MariadbGtid } from '../gtid/mariadb.js';
import { MARIADB_GTID_LIST_EVENT } from './constants.js';
import { viewOf, type EventContext } from './context.js';
import { buildEvent, type EventHeaderInit } from './event_writer.js';
import type { BinlogEvent } from './header.js';

export const GTID_LIST_HEADER_LEN = 4;
const ELEMENT_SIZE = 16;
const COUNT_MASK = (1 << 28) - 1;
/** Padding MariaDB adds to an empty list. */
export const GTID_LIST_EMPTY_PADDING = 2;

export interface MariadbGtidList {
  /** High 4 bits of the count word (GTID_LIST_FLAG_*), already shifted in place (e.g. 1 << 28). */
  flags: number;
  gtids: MariadbGtid[];
}

export function decodeMariadbGtidList(event: BinlogEvent | Buffer, ctx: EventContext): MariadbGtidList {
  const { body } = viewOf(event, ctx, [MARIADB_GTID_LIST_EVENT], 'a MariaDB GTID_LIST_EVENT');
  if (body.length < GTID_LIST_HEADER_LEN) {
    throw new ProtocolError('ERR_TRUNCATED', `GTID_LIST body of ${body.length} bytes has no count`);
  }
  const word = body.readUInt32LE(0);
  const count = word & COUNT_MASK;
  const flags = (word & ~COUNT_MASK) >>> 0;
  if (count > (body.length - GTID_LIST_HEADER_LEN) / ELEMENT_SIZE) {
    throw new ProtocolError('ERR_TRUNCATED', `GTID_LIST announces ${count} GTIDs in a body of ${body.length} bytes`);
  }
  const gtids: MariadbGtid[] = new Array<MariadbGtid>(count);
  for (let i = 0, p = GTID_LIST_HEADER_LEN; i < count; i++, p += ELEMENT_SIZE) {
    gtids[i] = { domainId: body.readUInt32LE(p), serverId: body.readUInt32LE(p + 4), seqNo: body.readBigUInt64LE(p + 8) };
  }
  return { flags, gtids };
}

export function encodeMariadbGtidListBody(list: MariadbGtidList): Buffer {
  const n = list.gtids.length;
  if (n > COUNT_MASK) throw new RangeError(`GTID_LIST of ${n} entries exceeds 2^28-1`);
  const w = new ByteWriter(GTID_LIST_HEADER_LEN + n * ELEMENT_SIZE + (n === 0 ? GTID_LIST_EMPTY_PADDING : 0));
  w.u32(((list.flags & ~COUNT_MASK) | n) >>> 0);
  for (const g of list.gtids) w.u32(g.domainId).u32(g.serverId).u64(g.seqNo);
  if (n === 0) w.zeros(GTID_LIST_EMPTY_PADDING);
  return w.finish();
}

export function encodeMariadbGtidList(
  list: MariadbGtidList,
  header: Omit<EventHeaderInit, 'typeCode'>,
  checksum: boolean,
): Buffer {
  return buildEvent({ ...header, typeCode: MARIADB_GTID_LIST_EVENT }, encodeMariadbGtidListBody(list), checksum);
}
