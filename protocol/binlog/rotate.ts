/**
 * ROTATE_EVENT (4), §4.5. Body layout:
 *
 *   offset  size  field
 *   0       8     position     where to start in the next file (4 for a real rotate; the requested start in a
 *                              fake one)
 *   8       n     next file    file name, no NUL, up to the end of the body (the CRC trailer excluded)
 *
 * The post-header length (8) comes from the FDE; a zero post-header (binlog v1) means position 4.
 */
import { ByteWriter } from '../bytes.js';
import { ProtocolError } from '../errors.js';
import { ROTATE_EVENT } from './constants.js';
import { needPostHeader, viewOf, type EventContext } from './context.js';
import { buildEvent, type EventHeaderInit } from './event_writer.js';
import type { BinlogEvent } from './header.js';

export const ROTATE_HEADER_LEN = 8;

export interface Rotate {
  position: bigint;
  nextFile: string;
}

export function decodeRotate(event: BinlogEvent | Buffer, ctx: EventContext): Rotate {
  const view = viewOf(event, ctx, [ROTATE_EVENT], 'a ROTATE_EVENT');
  needPostHeader(view, 0, 'ROTATE_EVENT');
  const { body, postHeaderLength } = view;
  if (postHeaderLength !== 0 && postHeaderLength < ROTATE_HEADER_LEN) {
    throw new ProtocolError('ERR_MALFORMED', `ROTATE_EVENT post-header length ${postHeaderLength} is below 8`);
  }
  const position = postHeaderLength === 0 ? 4n : body.readBigUInt64LE(0);
  return { position, nextFile: body.subarray(postHeaderLength).toString('utf8') };
}

export function encodeRotate(rotate: Rotate, header: Omit<EventHeaderInit, 'typeCode'>, checksum: boolean): Buffer {
  const name = Buffer.from(rotate.nextFile, 'utf8');
  const body = new ByteWriter(ROTATE_HEADER_LEN + name.length).u64(rotate.position).bytes(name).finish();
  return buildEvent({ ...header, typeCode: ROTATE_EVENT }, body, checksum);
}
