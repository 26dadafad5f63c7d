/**
 * FORMAT_DESCRIPTION_EVENT (15), §4.3. Body layout:
 *
 *   offset  size  field
 *   0       2     binlog_version            always 4 for v4 files
 *   2       50    server_version            NUL-padded, e.g. "8.0.45", "10.11.19-MariaDB-0+deb12u1-log"
 *   52      4     create_timestamp          non-zero only in the first binlog after server start
 *   56      1     common_header_len         19
 *   57      N     post_header_len[N]        entry i = post-header length of event type i+1
 *   57+N    1     checksum_alg              only on checksum-aware servers (MySQL >= 5.6.1, MariaDB >= 5.3)
 *   58+N    4     CRC32                     present whenever checksum_alg is (even when the alg is OFF)
 *
 * The FDE's own CRC field is there on every checksum-aware server whatever the alg; in the fixtures written
 * with alg OFF (MySQL 5.7.20, MariaDB 10.11.19) it holds the real CRC32 of the event, not zeros.
 */
import { ByteWriter } from '../bytes.js';
import { ProtocolError } from '../errors.js';
import {
  BINLOG_CHECKSUM_ALG_CRC32,
  BINLOG_CHECKSUM_ALG_OFF,
  BINLOG_CHECKSUM_ALG_UNDEF,
  BINLOG_CHECKSUM_LEN,
  FORMAT_DESCRIPTION_EVENT,
  LOG_EVENT_HEADER_LEN,
} from './constants.js';
import { buildEvent, type EventHeaderInit } from './event_writer.js';
import { asEvent, type BinlogEvent } from './header.js';

export const ST_BINLOG_VER_OFFSET = 0;
export const ST_SERVER_VER_OFFSET = 2;
export const ST_SERVER_VER_LEN = 50;
export const ST_CREATED_OFFSET = 52;
export const ST_COMMON_HEADER_LEN_OFFSET = 56;
export const ST_POST_HEADERS_OFFSET = 57;
/** Offset of `create_timestamp` from the start of the event (header included). */
export const FDE_CREATED_EVENT_OFFSET = LOG_EVENT_HEADER_LEN + ST_CREATED_OFFSET;

export interface FormatDescription {
  binlogVersion: number;
  serverVersion: string;
  createTimestamp: number;
  headerLength: number;
  /** Entry i is the post-header length of event type i + 1. */
  postHeaderLengths: Buffer;
  /**
   * The checksum alg byte (OFF 0, CRC32 1); BINLOG_CHECKSUM_ALG_UNDEF when the server predates checksums and
   * the FDE has neither the alg byte nor a CRC field.
   */
  checksumAlg: number;
}

export type Flavor = 'mysql' | 'mariadb';

export function flavorOf(fde: FormatDescription): Flavor {
  return fde.serverVersion.includes('MariaDB') ? 'mariadb' : 'mysql';
}

/** Post-header length that `fde` declares for `typeCode` (0 for types it does not list). */
export function fdePostHeaderLength(fde: FormatDescription, typeCode: number): number {
  return typeCode >= 1 && typeCode <= fde.postHeaderLengths.length ? fde.postHeaderLengths[typeCode - 1]! : 0;
}

/** Leading "X.Y.Z" of a server version string; [0,0,0] when it does not start that way. */
export function serverVersionSplit(version: string): [number, number, number] {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})/.exec(version);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
}

/** True when the server that wrote an FDE with this version puts the alg byte and a CRC field in it. */
export function isChecksumAware(serverVersion: string): boolean {
  const [a, b, c] = serverVersionSplit(serverVersion);
  const split = serverVersion.includes('MariaDB') ? [5, 3, 0] : [5, 6, 1];
  if (a !== split[0]) return a > split[0]!;
  if (b !== split[1]) return b > split[1]!;
  return c >= split[2]!;
}

function readServerVersion(buf: Buffer, start: number): string {
  const field = buf.subarray(start, start + ST_SERVER_VER_LEN);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? field.length : nul).toString('latin1');
}

/**
 * Decodes an FDE. The checksum alg is read from the event itself, so no context is needed. Throws
 * ProtocolError for a non-FDE, a truncated one, or a version other than binlog v4 with a 19-byte header.
 */
export function decodeFormatDescription(event: BinlogEvent | Buffer): FormatDescription {
  const ev = asEvent(event);
  if (ev.typeCode !== FORMAT_DESCRIPTION_EVENT) {
    throw new ProtocolError('ERR_MALFORMED', `event type ${ev.typeCode} is not a FORMAT_DESCRIPTION_EVENT`);
  }
  const raw = ev.raw;
  const b = LOG_EVENT_HEADER_LEN;
  if (raw.length < b + ST_POST_HEADERS_OFFSET) {
    throw new ProtocolError(
      'ERR_TRUNCATED',
      `FORMAT_DESCRIPTION_EVENT of ${raw.length} bytes is shorter than its ${b + ST_POST_HEADERS_OFFSET}-byte fixed part`,
    );
  }
  const binlogVersion = raw.readUInt16LE(b + ST_BINLOG_VER_OFFSET);
  if (binlogVersion !== 4) {
    throw new ProtocolError('ERR_UNSUPPORTED', `binlog version ${binlogVersion} is not supported (only v4)`);
  }
  const serverVersion = readServerVersion(raw, b + ST_SERVER_VER_OFFSET);
  const createTimestamp = raw.readUInt32LE(b + ST_CREATED_OFFSET);
  const headerLength = raw[b + ST_COMMON_HEADER_LEN_OFFSET]!;
  if (headerLength !== LOG_EVENT_HEADER_LEN) {
    throw new ProtocolError('ERR_UNSUPPORTED', `common header length ${headerLength} is not supported (only 19)`);
  }
  const aware = isChecksumAware(serverVersion);
  const trailer = aware ? 1 + BINLOG_CHECKSUM_LEN : 0;
  const postStart = b + ST_POST_HEADERS_OFFSET;
  const postEnd = raw.length - trailer;
  if (postEnd < postStart) {
    throw new ProtocolError(
      'ERR_TRUNCATED',
      `FORMAT_DESCRIPTION_EVENT of ${raw.length} bytes has no room for its checksum alg and CRC field`,
    );
  }
  let checksumAlg = BINLOG_CHECKSUM_ALG_UNDEF;
  if (aware) {
    checksumAlg = raw[postEnd]!;
    if (checksumAlg !== BINLOG_CHECKSUM_ALG_OFF && checksumAlg !== BINLOG_CHECKSUM_ALG_CRC32) {
      throw new ProtocolError('ERR_UNSUPPORTED', `unknown binlog checksum algorithm ${checksumAlg} in the FDE`);
    }
  }
  return {
    binlogVersion,
    serverVersion,
    createTimestamp,
    headerLength,
    postHeaderLengths: raw.subarray(postStart, postEnd),
    checksumAlg,
  };
}

/**
 * Encodes an FDE. On a checksum-aware version the alg byte and the CRC field are always written, and the CRC
 * field always holds the real CRC32 (as the servers write it, whatever the alg).
 */
export function encodeFormatDescription(fde: FormatDescription, header: Omit<EventHeaderInit, 'typeCode'>): Buffer {
  const version = Buffer.from(fde.serverVersion, 'latin1');
  if (version.length > ST_SERVER_VER_LEN) throw new RangeError(`server version longer than ${ST_SERVER_VER_LEN} bytes`);
  const aware = fde.checksumAlg !== BINLOG_CHECKSUM_ALG_UNDEF;
  const bodySize = ST_POST_HEADERS_OFFSET + fde.postHeaderLengths.length + (aware ? 1 : 0);
  const body = new ByteWriter(bodySize)
    .u16(fde.binlogVersion)
    .bytes(version)
    .zeros(ST_SERVER_VER_LEN - version.length)
    .u32(fde.createTimestamp)
    .u8(fde.headerLength)
    .bytes(fde.postHeaderLengths);
  if (aware) body.u8(fde.checksumAlg);
  return buildEvent({ ...header, typeCode: FORMAT_DESCRIPTION_EVENT }, body.finish(), aware);
}
