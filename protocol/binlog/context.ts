/**
 * What a body decoder needs to know about the stream an event came from: the checksum alg (is there a CRC
 * trailer to leave out?) and the post-header length of the event's type (where does the payload start?).
 *
 * Decoders accept either the current `FormatDescription` or just a checksum alg number; with a bare alg the
 * post-header lengths of current servers are assumed (MySQL 8.0 for types 1..42, MariaDB 10.x for 160..171).
 */
import { ProtocolError } from '../errors.js';
import { fdePostHeaderLength, type FormatDescription } from './fde.js';
import { asEvent, type BinlogEvent } from './header.js';

export type EventContext = FormatDescription | number;

/** Post-header lengths of MySQL 8.0.45 (types 1..41), GTID_TAGGED (42) and MariaDB 10.5+ (160..171). */
export const DEFAULT_POST_HEADER_LENGTHS: Buffer = (() => {
  const b = Buffer.alloc(171);
  const mysql = [
    0, 13, 0, 8, 0, 0, 0, 0, 4, 0, 4, 0, 0, 0, 98, 0, 4, 26, 8, 0, 0, 0, 8, 8, 8, 2, 0, 0, 0, 10, 10, 10, 42, 42, 0, 18,
    52, 0, 10, 40, 0, 0,
  ];
  mysql.forEach((v, i) => (b[i] = v));
  const mariadb = [0, 4, 19, 4, 0, 13, 8, 8, 8, 10, 10, 10];
  mariadb.forEach((v, i) => (b[159 + i] = v));
  return b;
})();

export function checksumAlgOf(ctx: EventContext): number {
  return typeof ctx === 'number' ? ctx : ctx.checksumAlg;
}

export function postHeaderLengthOf(ctx: EventContext, typeCode: number): number {
  if (typeof ctx !== 'number') return fdePostHeaderLength(ctx, typeCode);
  return typeCode >= 1 && typeCode <= DEFAULT_POST_HEADER_LENGTHS.length ? DEFAULT_POST_HEADER_LENGTHS[typeCode - 1]! : 0;
}

/** An event, its body (between header and CRC) and the post-header length for its type. */
export interface EventView {
  event: BinlogEvent;
  body: Buffer;
  postHeaderLength: number;
}

/** Validates the type code and splits off the body. Throws ProtocolError for another type. */
export function viewOf(input: BinlogEvent | Buffer, ctx: EventContext, typeCodes: readonly number[], name: string): EventView {
  const event = asEvent(input);
  if (!typeCodes.includes(event.typeCode)) {
    throw new ProtocolError('ERR_MALFORMED', `event type ${event.typeCode} is not ${name}`);
  }
  const body = event.body(checksumAlgOf(ctx));
  return { event, body, postHeaderLength: postHeaderLengthOf(ctx, event.typeCode) };
}

/** Throws ERR_TRUNCATED unless the body holds at least the post-header (or `min` bytes, if larger). */
export function needPostHeader(view: EventView, min: number, name: string): void {
  const need = Math.max(view.postHeaderLength, min);
  if (view.body.length < need) {
    throw new ProtocolError(
      'ERR_TRUNCATED',
      `${name} body of ${view.body.length} bytes is shorter than its ${need}-byte post-header`,
    );
  }
}
