/**
 * The only events a MariaDB source rewrites for old replicas (`@mariadb_slave_capability`, §3.8): an event the
 * replica cannot parse becomes a no-op of exactly the same size, so that positions stay contiguous for
 * replicas that cannot tolerate holes, and a GTID event becomes a BEGIN for replicas without GTID support.
 * The header's timestamp, server_id, event_size and log_pos are kept; flags lose LOG_EVENT_THREAD_SPECIFIC_F
 * and gain LOG_EVENT_SUPPRESS_USE_F; the CRC is recomputed when the stream has CRC32. Inputs are never
 * modified (stored bytes are shared between readers): the result is a copy.
 *
 * Dummy QUERY (when the event's data, CRC excluded, is at least 34 bytes):
 *
 *   offset  size  field
 *   0       19    header, type = QUERY_EVENT (2)
 *   19      4     thread_id 0
 *   23      4     exec_time 0
 *   27      1     db_len 0
 *   28      2     error_code 0
 *   30      2     status_vars_len 0
 *   32      1     0 (empty database name, NUL)
 *   33      n     "# Dummy event replacing event type <t> that slave cannot handle." cut or space-padded to n
 *
 * Dummy USER_VAR (data of 25..33 bytes; MariaDB's fallback for tiny events):
 *
 *   0       19    header, type = USER_VAR_EVENT (14)
 *   19      4     name length n = data - 24
 *   23      n     the first n bytes of "!dummyvar"
 *   23+n    1     1 (the value is NULL)
 *
 * BEGIN from a GTID event (data of 38 bytes, or 40 with a group commit id):
 *
 *   0       19    header, type = QUERY_EVENT
 *   19      13    post-header as above, status_vars_len s = data - 38
 *   32      s     s/2 empty time zone status variables (Q_TIME_ZONE_CODE 5, length 0): no effect on the replica
 *   32+s    1     0 (empty database name)
 *   33+s    5     "BEGIN"
 *
 * MariaDB itself only rewrites 38- and 40-byte GTID events and fails the dump otherwise; we pad any even size
 * the same way and fail on odd sizes (a GTID event with XA or extra flags, which only a MariaDB 10.x+ replica —
 * one that has the GTID capability — can receive anyway).
 */
import {
  BINLOG_CHECKSUM_ALG_CRC32,
  BINLOG_CHECKSUM_LEN,
  LOG_EVENT_HEADER_LEN,
  LOG_EVENT_SUPPRESS_USE_F,
  LOG_EVENT_THREAD_SPECIFIC_F,
  QUERY_EVENT,
  USER_VAR_EVENT,
} from '../../../protocol/binlog/constants.js';
import { crc32 } from '../../../protocol/binlog/checksum.js';
import { EVENT_TYPE_OFFSET, FLAGS_OFFSET } from '../../../protocol/binlog/header.js';

const QUERY_HEADER_LEN = 13;
const Q_STATUS_VARS_LEN_OFFSET = 11;
const Q_TIME_ZONE_CODE = 5;
const UV_NAME_LEN_SIZE = 4;
/** 19 + name length 4 + one name byte + the NULL flag. */
const MIN_USER_VAR_EVENT_LEN = LOG_EVENT_HEADER_LEN + UV_NAME_LEN_SIZE + 1 + 1;
/** 19 + 13 + the database NUL + one comment byte. */
const MIN_QUERY_EVENT_LEN = LOG_EVENT_HEADER_LEN + QUERY_HEADER_LEN + 1 + 1;
const DUMMY_VAR_NAME = Buffer.from('!dummyvar', 'latin1');
const BEGIN = Buffer.from('BEGIN', 'latin1');
/** A MariaDB GTID event's body without its optional parts. */
const GTID_HEADER_LEN = 19;

function dataLength(raw: Buffer, alg: number): number {
  return alg === BINLOG_CHECKSUM_ALG_CRC32 ? raw.length - BINLOG_CHECKSUM_LEN : raw.length;
}

function startRewrite(raw: Buffer, type: number): Buffer {
  const out = Buffer.from(raw);
  out.writeUInt16LE((out.readUInt16LE(FLAGS_OFFSET) & ~LOG_EVENT_THREAD_SPECIFIC_F) | LOG_EVENT_SUPPRESS_USE_F, FLAGS_OFFSET);
  out[EVENT_TYPE_OFFSET] = type;
  return out;
}

function finish(out: Buffer, dataLen: number, alg: number): Buffer {
  if (alg === BINLOG_CHECKSUM_ALG_CRC32) out.writeUInt32LE(crc32(out.subarray(0, dataLen)) >>> 0, dataLen);
  return out;
}

/** Zeroes a QUERY post-header (thread_id, exec_time, db_len, error_code) and sets status_vars_len. */
function writeQueryPostHeader(out: Buffer, statusVarsLen: number): void {
  out.fill(0, LOG_EVENT_HEADER_LEN, LOG_EVENT_HEADER_LEN + QUERY_HEADER_LEN);
  out.writeUInt16LE(statusVarsLen, LOG_EVENT_HEADER_LEN + Q_STATUS_VARS_LEN_OFFSET);
}

/** The same-size no-op MariaDB sends instead of an event the replica cannot handle; null when too short. */
export function dummyEvent(raw: Buffer, alg: number): Buffer | null {
  const dataLen = dataLength(raw, alg);
  if (dataLen < MIN_USER_VAR_EVENT_LEN) return null;
  const oldType = raw[EVENT_TYPE_OFFSET]!;
  if (dataLen < MIN_QUERY_EVENT_LEN) {
    const out = startRewrite(raw, USER_VAR_EVENT);
    const nameLen = dataLen - (MIN_USER_VAR_EVENT_LEN - 1);
    let p = out.writeUInt32LE(nameLen, LOG_EVENT_HEADER_LEN);
    p += DUMMY_VAR_NAME.copy(out, p, 0, nameLen);
    out[p] = 1;
    return finish(out, dataLen, alg);
  }
  const out = startRewrite(raw, QUERY_EVENT);
  writeQueryPostHeader(out, 0);
  const db = LOG_EVENT_HEADER_LEN + QUERY_HEADER_LEN;
  out[db] = 0;
  const commentStart = db + 1;
  const commentLen = dataLen - commentStart;
  const message = Buffer.from(`# Dummy event replacing event type ${oldType} that slave cannot handle.`, 'latin1');
  const n = message.copy(out, commentStart, 0, Math.min(commentLen, message.length));
  out.fill(0x20, commentStart + n, dataLen);
  return finish(out, dataLen, alg);
}

/** A GTID event turned into `BEGIN` of the same size, for replicas without GTID support; null if impossible. */
export function beginEvent(raw: Buffer, alg: number): Buffer | null {
  const dataLen = dataLength(raw, alg);
  const padding = dataLen - (LOG_EVENT_HEADER_LEN + GTID_HEADER_LEN);
  if (padding < 0 || padding % 2 !== 0 || padding > 0xffff) return null;
  const out = startRewrite(raw, QUERY_EVENT);
  writeQueryPostHeader(out, padding);
  let p = LOG_EVENT_HEADER_LEN + QUERY_HEADER_LEN;
  for (let i = 0; i < padding; i += 2) {
    out[p++] = Q_TIME_ZONE_CODE;
    out[p++] = 0;
  }
  out[p++] = 0;
  BEGIN.copy(out, p);
  return finish(out, dataLen, alg);
}
