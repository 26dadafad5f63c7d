/**
 * XA_PREPARE_LOG_EVENT (38): ends the group of `XA PREPARE` (MySQL 5.7+, MariaDB 10.5+) or of
 * `XA COMMIT ... ONE PHASE` (MySQL, one_phase = 1). Body layout (no post-header):
 *
 *   offset  size  field
 *   0       1     one_phase       1 for XA COMMIT ... ONE PHASE
 *   1       4     format_id       signed; -1 would be a null XID
 *   5       4     gtrid_length    0..64
 *   9       4     bqual_length    0..64
 *   13      g+b   data            gtrid bytes then bqual bytes
 */
import { ProtocolError } from '../errors.js';
import { XA_PREPARE_LOG_EVENT } from './constants.js';
import { viewOf, type EventContext } from './context.js';
import type { BinlogEvent } from './header.js';

/** MAXGTRIDSIZE / MAXBQUALSIZE of the XA specification. */
export const XA_MAX_PART_SIZE = 64;

export interface XaXid {
  formatId: number;
  gtrid: Buffer;
  bqual: Buffer;
}

export interface XaPrepare extends XaXid {
  onePhase: boolean;
}

export function decodeXaPrepare(event: BinlogEvent | Buffer, ctx: EventContext): XaPrepare {
  const { body, postHeaderLength: p } = viewOf(event, ctx, [XA_PREPARE_LOG_EVENT], 'an XA_PREPARE_LOG_EVENT');
  if (body.length < p + 13) {
    throw new ProtocolError('ERR_TRUNCATED', `XA_PREPARE_LOG_EVENT body of ${body.length} bytes is shorter than 13`);
  }
  const gtridLen = body.readUInt32LE(p + 5);
  const bqualLen = body.readUInt32LE(p + 9);
  if (gtridLen > XA_MAX_PART_SIZE || bqualLen > XA_MAX_PART_SIZE) {
    throw new ProtocolError('ERR_MALFORMED', `XA_PREPARE_LOG_EVENT xid parts of ${gtridLen}/${bqualLen} bytes exceed 64`);
  }
  if (body.length < p + 13 + gtridLen + bqualLen) {
    throw new ProtocolError('ERR_TRUNCATED', 'XA_PREPARE_LOG_EVENT xid data overruns the event');
  }
  const data = p + 13;
  return {
    onePhase: body[p] !== 0,
    formatId: body.readInt32LE(p + 1),
    gtrid: body.subarray(data, data + gtridLen),
    bqual: body.subarray(data + gtridLen, data + gtridLen + bqualLen),
  };
}

/** The XID as MySQL and MariaDB print it: `X'6731',X'',1`. */
export function formatXaXid(xid: XaXid): string {
  return `X'${xid.gtrid.toString('hex')}',X'${xid.bqual.toString('hex')}',${xid.formatId}`;
}
