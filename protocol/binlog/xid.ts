/**
 * XID_EVENT (16): commits a transactional event group. Body layout (no post-header):
 *
 *   offset  size  field
 *   0       8     xid      the storage engine's transaction id
 */
import { ProtocolError } from '../errors.js';
import { XID_EVENT } from './constants.js';
import { viewOf, type EventContext } from './context.js';
import type { BinlogEvent } from './header.js';

export interface Xid {
  xid: bigint;
}

export function decodeXid(event: BinlogEvent | Buffer, ctx: EventContext): Xid {
  const { body, postHeaderLength } = viewOf(event, ctx, [XID_EVENT], 'an XID_EVENT');
  if (body.length < postHeaderLength + 8) {
    throw new ProtocolError('ERR_TRUNCATED', `XID_EVENT body of ${body.length} bytes is shorter than 8`);
  }
  return { xid: body.readBigUInt64LE(postHeaderLength) };
}
