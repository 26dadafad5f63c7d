/**
 * TRANSACTION_PAYLOAD_EVENT (40), MySQL 8.0.20+ with binlog_transaction_compression=ON. The body starts with
 * a header of fields, each `type (lenenc) ‖ length (lenenc) ‖ value (lenenc)`, in any order, ended by a type-0
 * mark; the compressed bytes follow:
 *
 *   type  field              value
 *   1     payload_size       size of the compressed bytes
 *   2     compression_type   0 = ZSTD, 255 = NONE
 *   3     uncompressed_size  size of the events inside once decompressed
 *   0     end of header      (type only, no length or value)
 *   ...   payload            a run of complete events (log_pos 0, no CRC); opaque here
 *
 * The GTID event stays outside (before) this event; a relay forwards both unchanged.
 */
import { ByteReader } from '../bytes.js';
import { ProtocolError } from '../errors.js';
import { TRANSACTION_PAYLOAD_EVENT } from './constants.js';
import { viewOf, type EventContext } from './context.js';
import type { BinlogEvent } from './header.js';

export const OTW_PAYLOAD_HEADER_END_MARK = 0;
export const OTW_PAYLOAD_SIZE_FIELD = 1;
export const OTW_PAYLOAD_COMPRESSION_TYPE_FIELD = 2;
export const OTW_PAYLOAD_UNCOMPRESSED_SIZE_FIELD = 3;
export const COMPRESSION_TYPE_ZSTD = 0;
export const COMPRESSION_TYPE_NONE = 255;

export interface TransactionPayload {
  payloadSize: bigint;
  compressionType: number;
  uncompressedSize: bigint;
  /** The compressed bytes (a view into the event). */
  payload: Buffer;
}

export function decodeTransactionPayload(event: BinlogEvent | Buffer, ctx: EventContext): TransactionPayload {
  // The FDE declares a 40-byte post-header for this type, but the header fields are variable-length and start
  // right after the common header (the 40 is their maximum size), so the body is read from its start.
  const { body } = viewOf(event, ctx, [TRANSACTION_PAYLOAD_EVENT], 'a TRANSACTION_PAYLOAD_EVENT');
  const r = new ByteReader(body);
  let payloadSize: bigint | undefined;
  let compressionType = COMPRESSION_TYPE_NONE;
  let uncompressedSize = 0n;
  for (;;) {
    const type = r.lenenc('TRANSACTION_PAYLOAD field type');
    if (type === BigInt(OTW_PAYLOAD_HEADER_END_MARK)) break;
    const length = r.lenenc('TRANSACTION_PAYLOAD field length');
    if (length > BigInt(r.remaining)) {
      throw new ProtocolError('ERR_TRUNCATED', `TRANSACTION_PAYLOAD field ${type} of ${length} bytes overruns the event`);
    }
    const fieldEnd = r.pos + Number(length);
    switch (type) {
      case 1n:
        payloadSize = r.lenenc('payload_size');
        break;
      case 2n: {
        const v = r.lenenc('compression_type');
        if (v > 255n) throw new ProtocolError('ERR_MALFORMED', `TRANSACTION_PAYLOAD compression type ${v}`);
        compressionType = Number(v);
        break;
      }
      case 3n:
        uncompressedSize = r.lenenc('uncompressed_size');
        break;
      default:
        break; // unknown field: skipped by its length
    }
    if (r.pos > fieldEnd) {
      throw new ProtocolError('ERR_MALFORMED', `TRANSACTION_PAYLOAD field ${type} value overruns its length ${length}`);
    }
    r.pos = fieldEnd;
  }
  const payload = r.rest();
  if (payloadSize === undefined) payloadSize = BigInt(payload.length);
  if (payloadSize !== BigInt(payload.length)) {
    throw new ProtocolError(
      'ERR_MALFORMED',
      `TRANSACTION_PAYLOAD says payload_size ${payloadSize} but ${payload.length} bytes follow its header`,
    );
  }
  return { payloadSize, compressionType, uncompressedSize, payload };
}
