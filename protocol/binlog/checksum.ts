/**
 * CRC32 trailers of binlog events (§4.2).
 *
 *   [ header 19 | body ... | CRC32 int<4> ]
 *   CRC32 = zlib/IEEE CRC-32 over every byte before the trailer, stored little-endian.
 *
 * Quirk (verified on MariaDB 10.5 and MySQL): a FORMAT_DESCRIPTION_EVENT's CRC is computed with header flag
 * LOG_EVENT_BINLOG_IN_USE_F (0x1) clear, while a file that is still open (or was left open by a crash) has the
 * flag set. We therefore always checksum an FDE as if the flag were clear.
 */
import { crc32 } from 'node:zlib';
import { ChecksumError, ProtocolError } from '../errors.js';
import {
  BINLOG_CHECKSUM_ALG_CRC32,
  BINLOG_CHECKSUM_LEN,
  FORMAT_DESCRIPTION_EVENT,
  LOG_EVENT_BINLOG_IN_USE_F,
  LOG_EVENT_HEADER_LEN,
} from './constants.js';
import { EVENT_TYPE_OFFSET, FLAGS_OFFSET } from './header.js';

export { crc32 };

/** The CRC32 an event should carry: over all bytes but the last 4, with the FDE quirk applied. */
export function computeEventChecksum(raw: Buffer): number {
  if (raw.length < LOG_EVENT_HEADER_LEN + BINLOG_CHECKSUM_LEN) {
    throw new ProtocolError('ERR_TRUNCATED', `event of ${raw.length} bytes has no room for a CRC32 trailer`);
  }
  const end = raw.length - BINLOG_CHECKSUM_LEN;
  if (raw[EVENT_TYPE_OFFSET] === FORMAT_DESCRIPTION_EVENT && (raw[FLAGS_OFFSET]! & LOG_EVENT_BINLOG_IN_USE_F) !== 0) {
    const header = Buffer.from(raw.subarray(0, LOG_EVENT_HEADER_LEN));
    header[FLAGS_OFFSET] = header[FLAGS_OFFSET]! & ~LOG_EVENT_BINLOG_IN_USE_F;
    return crc32(raw.subarray(LOG_EVENT_HEADER_LEN, end), crc32(header)) >>> 0;
  }
  return crc32(raw.subarray(0, end)) >>> 0;
}

/** The CRC32 stored in the event's last 4 bytes. */
export function storedEventChecksum(raw: Buffer): number {
  if (raw.length < LOG_EVENT_HEADER_LEN + BINLOG_CHECKSUM_LEN) {
    throw new ProtocolError('ERR_TRUNCATED', `event of ${raw.length} bytes has no room for a CRC32 trailer`);
  }
  return raw.readUInt32LE(raw.length - BINLOG_CHECKSUM_LEN);
}

/**
 * Throws ChecksumError if `alg` is CRC32 and the trailer does not match. Any other alg (OFF, UNDEF) means there
 * is nothing to verify.
 */
export function verifyEventChecksum(raw: Buffer, alg: number): void {
  if (alg !== BINLOG_CHECKSUM_ALG_CRC32) return;
  const expected = computeEventChecksum(raw);
  const actual = storedEventChecksum(raw);
  if (expected !== actual) {
    throw new ChecksumError(
      `binlog event (type ${raw[EVENT_TYPE_OFFSET]}, ${raw.length} bytes) fails its CRC32 check: ` +
        `stored 0x${actual.toString(16).padStart(8, '0')}, computed 0x${expected.toString(16).padStart(8, '0')}`,
      expected,
      actual,
    );
  }
}

/** A copy of `raw` whose last 4 bytes hold the recomputed CRC32 (after an edit of header or body). */
export function withRecomputedChecksum(raw: Buffer): Buffer {
  const out = Buffer.from(raw);
  out.writeUInt32LE(computeEventChecksum(out), out.length - BINLOG_CHECKSUM_LEN);
  return out;
}
