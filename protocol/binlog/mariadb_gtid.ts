/**
 * MariaDB GTID_EVENT (162): starts every event group. The server_id of the GTID is the header's server_id.
 * Body layout (post-header 19; the optional parts follow one another, the XID may overlap the padding):
 *
 *   offset  size  field
 *   0       8     seq_no
 *   8       4     domain_id
 *   12      1     flags2           FL_STANDALONE 0x01, FL_GROUP_COMMIT_ID 0x02, FL_TRANSACTIONAL 0x04,
 *                                  FL_ALLOW_PARALLEL 0x08, FL_WAITED 0x10, FL_DDL 0x20, FL_PREPARED_XA 0x40,
 *                                  FL_COMPLETED_XA 0x80
 *   13      8     commit_id        only if FL_GROUP_COMMIT_ID
 *   ..      4     xid format_id    } only if FL_PREPARED_XA or FL_COMPLETED_XA
 *   ..      1     gtrid_length     }
 *   ..      1     bqual_length     }
 *   ..      g+b   xid data         }
 *   ..      1     flags_extra      if bytes remain (10.5+): 0x01 multi-engine, 0x02 START ALTER,
 *                                  0x04 COMMIT ALTER, 0x08 ROLLBACK ALTER
 *   ..      1     extra_engines    if flags_extra & 0x01
 *   ..      8     sa_seq_no        if flags_extra & (0x04 | 0x08)
 *   ..            zero padding up to 19 bytes (written when the fields above are shorter)
 *
 * Example (10.5.15): `01 00 00 00 00 00 00 00 | 00 00 00 00 | 0c | 00×6` = 0-<server>-1, TRANSACTIONAL |
 * ALLOW_PARALLEL, event 42 bytes, header flags 0x0008 (LOG_EVENT_SUPPRESS_USE_F).
 */
import { ByteReader, ByteWriter } from '../bytes.js';
import { ProtocolError } from '../errors.js';
import type { MariadbGtid } from '../gtid/mariadb.js';
import {
  FL_COMMIT_ALTER_E1,
  FL_COMPLETED_XA,
  FL_EXTRA_MULTI_ENGINE_E1,
  FL_ROLLBACK_ALTER_E1,
  FL_GROUP_COMMIT_ID,
  FL_PREPARED_XA,
  LOG_EVENT_SUPPRESS_USE_F,
  MARIADB_GTID_EVENT,
} from './constants.js';
import { viewOf, type EventContext } from './context.js';
import { buildEvent, type EventHeaderInit } from './event_writer.js';
import type { BinlogEvent } from './header.js';
import type { XaXid } from './xa.js';

export const GTID_HEADER_LEN = 19;
const XA_MAX_PART_SIZE = 64;

export interface MariadbGtidEvent {
  gtid: MariadbGtid;
  seqNo: bigint;
  domainId: number;
  serverId: number;
  flags2: number;
  commitId: bigint | undefined;
  xid: XaXid | undefined;
  flagsExtra: number;
  extraEngines: number | undefined;
  /** Sequence number of the START ALTER this COMMIT/ROLLBACK ALTER refers to. */
  saSeqNo: bigint | undefined;
  /** Bytes after the known fields that are not padding (flags of newer servers); re-encoded verbatim. */
  unparsed: Buffer;
}

export function decodeMariadbGtid(event: BinlogEvent | Buffer, ctx: EventContext): MariadbGtidEvent {
  const view = viewOf(event, ctx, [MARIADB_GTID_EVENT], 'a MariaDB GTID_EVENT');
  const { body } = view;
  const r = new ByteReader(body);
  const seqNo = r.u64('GTID seq_no');
  const domainId = r.u32('GTID domain_id');
  const flags2 = r.u8('GTID flags2');
  let commitId: bigint | undefined;
  let xid: XaXid | undefined;
  if (flags2 & FL_GROUP_COMMIT_ID) commitId = r.u64('GTID commit_id');
  if (flags2 & (FL_PREPARED_XA | FL_COMPLETED_XA)) {
    r.need(4, 'GTID xid format_id');
    const formatId = body.readInt32LE(r.pos);
    r.pos += 4;
    const gtridLen = r.u8('GTID xid gtrid_length');
    const bqualLen = r.u8('GTID xid bqual_length');
    if (gtridLen > XA_MAX_PART_SIZE || bqualLen > XA_MAX_PART_SIZE) {
      throw new ProtocolError('ERR_MALFORMED', `MariaDB GTID xid parts of ${gtridLen}/${bqualLen} bytes exceed 64`);
    }
    xid = { formatId, gtrid: r.bytes(gtridLen, 'GTID xid gtrid'), bqual: r.bytes(bqualLen, 'GTID xid bqual') };
  }
  let flagsExtra = 0;
  let extraEngines: number | undefined;
  let saSeqNo: bigint | undefined;
  if (r.remaining > 0) {
    flagsExtra = r.u8('GTID flags_extra');
    if (flagsExtra & FL_EXTRA_MULTI_ENGINE_E1) extraEngines = r.u8('GTID extra_engines');
    if (flagsExtra & (FL_COMMIT_ALTER_E1 | FL_ROLLBACK_ALTER_E1)) saSeqNo = r.u64('GTID sa_seq_no');
  }
  // What is left is padding when the body is the minimal 19 bytes; otherwise fields of a newer server.
  const unparsed = body.length <= GTID_HEADER_LEN ? body.subarray(body.length) : r.rest();
  const serverId = view.event.serverId;
  return {
    gtid: { domainId, serverId, seqNo },
    seqNo,
    domainId,
    serverId,
    flags2,
    commitId,
    xid,
    flagsExtra,
    extraEngines,
    saSeqNo,
    unparsed,
  };
}

/** Encodes a GTID_EVENT; the header's server_id is `g.serverId`, flags default to LOG_EVENT_SUPPRESS_USE_F. */
export function encodeMariadbGtid(
  g: Pick<MariadbGtidEvent, 'seqNo' | 'domainId' | 'serverId' | 'flags2'> & Partial<MariadbGtidEvent>,
  header: Omit<EventHeaderInit, 'typeCode' | 'serverId'>,
  checksum: boolean,
): Buffer {
  const hasCommitId = (g.flags2 & FL_GROUP_COMMIT_ID) !== 0;
  const hasXid = (g.flags2 & (FL_PREPARED_XA | FL_COMPLETED_XA)) !== 0;
  if (hasXid && g.xid === undefined) throw new RangeError('MariaDB GTID flags2 say XA but no xid was given');
  const flagsExtra = g.flagsExtra ?? 0;
  const unparsed = g.unparsed ?? Buffer.alloc(0);
  let size = 13 + (hasCommitId ? 8 : 0) + (hasXid ? 6 + g.xid!.gtrid.length + g.xid!.bqual.length : 0);
  if (flagsExtra > 0) {
    size += 1 + (flagsExtra & FL_EXTRA_MULTI_ENGINE_E1 ? 1 : 0) + (flagsExtra & (FL_COMMIT_ALTER_E1 | FL_ROLLBACK_ALTER_E1) ? 8 : 0);
  }
  size += unparsed.length;
  const w = new ByteWriter(Math.max(size, GTID_HEADER_LEN)).u64(g.seqNo).u32(g.domainId).u8(g.flags2);
  if (hasCommitId) w.u64(g.commitId ?? 0n);
  if (hasXid) {
    const x = g.xid!;
    w.buf.writeInt32LE(x.formatId, w.pos);
    w.pos += 4;
    w.u8(x.gtrid.length).u8(x.bqual.length).bytes(x.gtrid).bytes(x.bqual);
  }
  if (flagsExtra > 0) {
    w.u8(flagsExtra);
    if (flagsExtra & FL_EXTRA_MULTI_ENGINE_E1) w.u8(g.extraEngines ?? 0);
    if (flagsExtra & (FL_COMMIT_ALTER_E1 | FL_ROLLBACK_ALTER_E1)) w.u64(g.saSeqNo ?? 0n);
  }
  w.bytes(unparsed);
  if (w.pos < GTID_HEADER_LEN) w.zeros(GTID_HEADER_LEN - w.pos);
  return buildEvent(
    { flags: LOG_EVENT_SUPPRESS_USE_F, ...header, serverId: g.serverId, typeCode: MARIADB_GTID_EVENT },
    w.finish(),
    checksum,
  );
}
