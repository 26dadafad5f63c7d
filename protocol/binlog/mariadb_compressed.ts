/**
 * MariaDB compressed events (log_bin_compress=ON): QUERY_COMPRESSED_EVENT (165) and the
 * WRITE/UPDATE/DELETE_ROWS_COMPRESSED_EVENT v1 (166-168) and v2 (169-171).
 *
 * A compressed event has the layout of its uncompressed sibling; only the trailing data part (the SQL text of
 * a QUERY, the row images of a rows event) is replaced by a compressed block:
 *
 *   offset  size     field
 *   0       1        header: bit 7 set; bits 6..4 algorithm (0 = zlib); bits 2..0 = n, the size of the length
 *   1       n        uncompressed length, big-endian (n = 1..4)
 *   1+n     ...      zlib stream (RFC 1950) up to the end of the data part
 *
 * A relay forwards these events unchanged; we only inflate a QUERY's SQL so that transaction tracking can see
 * BEGIN / COMMIT / XA inside it.
 */
import { constants as zlibConstants, inflateSync } from 'node:zlib';
import { ProtocolError } from '../errors.js';
import {
  DELETE_ROWS_COMPRESSED_EVENT,
  DELETE_ROWS_COMPRESSED_EVENT_V1,
  DELETE_ROWS_EVENT,
  DELETE_ROWS_EVENT_V1,
  QUERY_COMPRESSED_EVENT,
  QUERY_EVENT,
  UPDATE_ROWS_COMPRESSED_EVENT,
  UPDATE_ROWS_COMPRESSED_EVENT_V1,
  UPDATE_ROWS_EVENT,
  UPDATE_ROWS_EVENT_V1,
  WRITE_ROWS_COMPRESSED_EVENT,
  WRITE_ROWS_COMPRESSED_EVENT_V1,
  WRITE_ROWS_EVENT,
  WRITE_ROWS_EVENT_V1,
} from './constants.js';

const UNCOMPRESSED_TYPE: ReadonlyMap<number, number> = new Map([
  [QUERY_COMPRESSED_EVENT, QUERY_EVENT],
  [WRITE_ROWS_COMPRESSED_EVENT_V1, WRITE_ROWS_EVENT_V1],
  [UPDATE_ROWS_COMPRESSED_EVENT_V1, UPDATE_ROWS_EVENT_V1],
  [DELETE_ROWS_COMPRESSED_EVENT_V1, DELETE_ROWS_EVENT_V1],
  [WRITE_ROWS_COMPRESSED_EVENT, WRITE_ROWS_EVENT],
  [UPDATE_ROWS_COMPRESSED_EVENT, UPDATE_ROWS_EVENT],
  [DELETE_ROWS_COMPRESSED_EVENT, DELETE_ROWS_EVENT],
]);

/** True for MariaDB's QUERY_COMPRESSED and *_ROWS_COMPRESSED event types. */
export function isMariadbCompressedEvent(typeCode: number): boolean {
  return UNCOMPRESSED_TYPE.has(typeCode);
}

/** True for the six *_ROWS_COMPRESSED event types. */
export function isMariadbCompressedRowsEvent(typeCode: number): boolean {
  return typeCode >= WRITE_ROWS_COMPRESSED_EVENT_V1 && typeCode <= DELETE_ROWS_COMPRESSED_EVENT;
}

/** The type a compressed event stands for (QUERY_COMPRESSED → QUERY, ...); undefined for other types. */
export function uncompressedTypeOf(typeCode: number): number | undefined {
  return UNCOMPRESSED_TYPE.get(typeCode);
}

export interface CompressedBlockHeader {
  algorithm: number;
  /** Bytes taken by the header byte and the length. */
  headerSize: number;
  uncompressedLength: number;
}

export function readCompressedBlockHeader(block: Buffer): CompressedBlockHeader {
  if (block.length < 1) throw new ProtocolError('ERR_TRUNCATED', 'empty MariaDB compressed block');
  const h = block[0]!;
  if ((h & 0x80) === 0) {
    throw new ProtocolError('ERR_MALFORMED', `MariaDB compressed block header 0x${h.toString(16)} lacks bit 7`);
  }
  const lenLen = h & 0x07;
  if (lenLen < 1 || lenLen > 4) {
    throw new ProtocolError('ERR_MALFORMED', `MariaDB compressed block length size ${lenLen} is not 1..4`);
  }
  if (block.length < 1 + lenLen) {
    throw new ProtocolError('ERR_TRUNCATED', 'truncated MariaDB compressed block length');
  }
  return { algorithm: (h >> 4) & 0x07, headerSize: 1 + lenLen, uncompressedLength: block.readUIntBE(1, lenLen) };
}

/** Inflates one MariaDB compressed block. Throws ProtocolError for anything that does not inflate exactly. */
export function uncompressMariadbBlock(block: Buffer): Buffer {
  const { algorithm, headerSize, uncompressedLength } = readCompressedBlockHeader(block);
  if (algorithm !== 0) {
    throw new ProtocolError('ERR_UNSUPPORTED', `MariaDB compression algorithm ${algorithm} is not supported (zlib is 0)`);
  }
  let out: Buffer;
  try {
    out = inflateSync(block.subarray(headerSize), { maxOutputLength: Math.max(1, uncompressedLength) });
  } catch (err) {
    throw new ProtocolError('ERR_MALFORMED', `MariaDB compressed block does not inflate: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  if (out.length !== uncompressedLength) {
    throw new ProtocolError(
      'ERR_MALFORMED',
      `MariaDB compressed block inflates to ${out.length} bytes, its header says ${uncompressedLength}`,
    );
  }
  return out;
}

/**
 * The start of a block's uncompressed text, from at most `maxInput` compressed bytes (so at most ~1000× that
 * much output, whatever the block claims): enough to classify a statement by its first words without
 * inflating a large statement in full.
 */
export function uncompressMariadbBlockPrefix(block: Buffer, maxInput = 256): Buffer {
  const { algorithm, headerSize } = readCompressedBlockHeader(block);
  if (algorithm !== 0) {
    throw new ProtocolError('ERR_UNSUPPORTED', `MariaDB compression algorithm ${algorithm} is not supported (zlib is 0)`);
  }
  try {
    return inflateSync(block.subarray(headerSize, headerSize + maxInput), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch (err) {
    throw new ProtocolError(
      'ERR_MALFORMED',
      `MariaDB compressed block does not inflate: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}
