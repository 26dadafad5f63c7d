/**
 * QUERY_EVENT (2), and the same layout in QUERY_COMPRESSED_EVENT (165, MariaDB) and EXECUTE_LOAD_QUERY (18).
 *
 * Post-header (13 bytes on v4; the FDE gives the length, EXECUTE_LOAD_QUERY's is longer):
 *
 *   offset  size  field
 *   0       4     thread_id
 *   4       4     exec_time
 *   8       1     db_len
 *   9       2     error_code
 *   11      2     status_vars_len
 *
 * Then, from the end of the post-header:
 *
 *   status_vars_len   status variables (relayed unchanged; unknown codes cannot be skipped, so not parsed)
 *   db_len + 1        default database name + NUL
 *   rest              SQL text up to the CRC trailer; in QUERY_COMPRESSED a MariaDB compressed block
 */
import { ProtocolError } from '../errors.js';
import { EXECUTE_LOAD_QUERY_EVENT, QUERY_COMPRESSED_EVENT, QUERY_EVENT } from './constants.js';
import { needPostHeader, viewOf, type EventContext } from './context.js';
import type { BinlogEvent } from './header.js';
import { uncompressMariadbBlock } from './mariadb_compressed.js';

export const QUERY_HEADER_LEN = 13;
const Q_THREAD_ID_OFFSET = 0;
const Q_EXEC_TIME_OFFSET = 4;
const Q_DB_LEN_OFFSET = 8;
const Q_ERR_CODE_OFFSET = 9;
const Q_STATUS_VARS_LEN_OFFSET = 11;

export interface Query {
  threadId: number;
  execTime: number;
  errorCode: number;
  database: string;
  statusVars: Buffer;
  /** The SQL bytes (inflated for QUERY_COMPRESSED). */
  sql: Buffer;
  /** `sql` as UTF-8 text. */
  text: string;
  compressed: boolean;
}

/**
 * Offset in `body` where the SQL (or compressed block) starts. Reads only the two length fields, so transaction
 * tracking can classify a QUERY without decoding the rest.
 */
export function querySqlOffset(body: Buffer, postHeaderLength: number): number {
  if (postHeaderLength < QUERY_HEADER_LEN || body.length < postHeaderLength) {
    throw new ProtocolError(
      'ERR_TRUNCATED',
      `QUERY body of ${body.length} bytes is shorter than its ${Math.max(postHeaderLength, QUERY_HEADER_LEN)}-byte post-header`,
    );
  }
  const dbLen = body[Q_DB_LEN_OFFSET]!;
  const statusLen = body.readUInt16LE(Q_STATUS_VARS_LEN_OFFSET);
  const sqlStart = postHeaderLength + statusLen + dbLen + 1;
  if (sqlStart > body.length) {
    throw new ProtocolError(
      'ERR_TRUNCATED',
      `QUERY status vars (${statusLen}) and db name (${dbLen}) overrun a body of ${body.length} bytes`,
    );
  }
  if (body[sqlStart - 1] !== 0) {
    throw new ProtocolError('ERR_MALFORMED', 'QUERY default database name is not NUL-terminated');
  }
  return sqlStart;
}

export function decodeQuery(event: BinlogEvent | Buffer, ctx: EventContext): Query {
  const view = viewOf(event, ctx, [QUERY_EVENT, QUERY_COMPRESSED_EVENT, EXECUTE_LOAD_QUERY_EVENT], 'a QUERY event');
  needPostHeader(view, QUERY_HEADER_LEN, 'QUERY');
  const { body, postHeaderLength } = view;
  const sqlStart = querySqlOffset(body, postHeaderLength);
  const dbLen = body[Q_DB_LEN_OFFSET]!;
  const statusLen = body.readUInt16LE(Q_STATUS_VARS_LEN_OFFSET);
  const statusVars = body.subarray(postHeaderLength, postHeaderLength + statusLen);
  const database = body.subarray(postHeaderLength + statusLen, postHeaderLength + statusLen + dbLen).toString('utf8');
  const compressed = view.event.typeCode === QUERY_COMPRESSED_EVENT;
  const sql = compressed ? uncompressMariadbBlock(body.subarray(sqlStart)) : body.subarray(sqlStart);
  return {
    threadId: body.readUInt32LE(Q_THREAD_ID_OFFSET),
    execTime: body.readUInt32LE(Q_EXEC_TIME_OFFSET),
    errorCode: body.readUInt16LE(Q_ERR_CODE_OFFSET),
    database,
    statusVars,
    sql,
    text: sql.toString('utf8'),
    compressed,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Classification of the statement text (transaction boundaries, §4.6).

export type QueryKind =
  | 'BEGIN'
  | 'COMMIT'
  | 'ROLLBACK'
  | 'XA_START'
  | 'XA_END'
  | 'XA_PREPARE'
  | 'XA_COMMIT'
  | 'XA_ROLLBACK'
  | 'SAVEPOINT'
  | 'OTHER';

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
}

function isWordChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x24 || c >= 0x80
  );
}

/** Skips whitespace and comments (`/* *\/`, `-- `, `#`) from `pos`; returns the next offset (≤ end). */
function skipBlank(b: Buffer, pos: number, end: number): number {
  while (pos < end) {
    const c = b[pos]!;
    if (isSpace(c) || c === 0x3b /* ; */) {
      pos++;
    } else if (c === 0x2f /* / */ && pos + 1 < end && b[pos + 1] === 0x2a /* * */) {
      const close = b.indexOf('*/', pos + 2, 'latin1');
      pos = close < 0 || close + 2 > end ? end : close + 2;
    } else if (c === 0x23 /* # */ || (c === 0x2d && pos + 1 < end && b[pos + 1] === 0x2d && (pos + 2 >= end || isSpace(b[pos + 2]!)))) {
      const nl = b.indexOf(0x0a, pos);
      pos = nl < 0 || nl >= end ? end : nl + 1;
    } else {
      break;
    }
  }
  return pos;
}

/** Reads the next word at or after `pos`, upper-cased (ASCII only, at most 16 chars). */
function nextWord(b: Buffer, pos: number, end: number): { word: string; next: number } {
  const start = skipBlank(b, pos, end);
  let p = start;
  while (p < end && isWordChar(b[p]!)) p++;
  const word = p - start <= 16 ? b.toString('latin1', start, p).toUpperCase() : '';
  return { word, next: p };
}

/**
 * Classifies a statement by its first keywords, case-insensitively, after leading whitespace and comments.
 * Recognises what servers write: `BEGIN`, `COMMIT`, `ROLLBACK`, `ROLLBACK TO sp` / `SAVEPOINT sp` /
 * `RELEASE SAVEPOINT sp` (→ SAVEPOINT), `XA START X'..',X'..',1` (also `XA BEGIN`), `XA END`, `XA PREPARE`,
 * `XA COMMIT` (with or without ONE PHASE), `XA ROLLBACK`; `START TRANSACTION` counts as BEGIN.
 */
export function queryKind(sql: Buffer | string, start = 0, end?: number): QueryKind {
  const b = typeof sql === 'string' ? Buffer.from(sql, 'utf8') : sql;
  const stop = Math.min(end ?? b.length, b.length);
  const first = nextWord(b, start, stop);
  switch (first.word) {
    case 'BEGIN':
      return 'BEGIN';
    case 'COMMIT':
      return 'COMMIT';
    case 'SAVEPOINT':
      return 'SAVEPOINT';
    case 'ROLLBACK': {
      let w = nextWord(b, first.next, stop);
      if (w.word === 'WORK') w = nextWord(b, w.next, stop);
      return w.word === 'TO' ? 'SAVEPOINT' : 'ROLLBACK';
    }
    case 'RELEASE':
      return nextWord(b, first.next, stop).word === 'SAVEPOINT' ? 'SAVEPOINT' : 'OTHER';
    case 'START':
      return nextWord(b, first.next, stop).word === 'TRANSACTION' ? 'BEGIN' : 'OTHER';
    case 'XA':
      switch (nextWord(b, first.next, stop).word) {
        case 'START':
        case 'BEGIN':
          return 'XA_START';
        case 'END':
          return 'XA_END';
        case 'PREPARE':
          return 'XA_PREPARE';
        case 'COMMIT':
          return 'XA_COMMIT';
        case 'ROLLBACK':
          return 'XA_ROLLBACK';
        default:
          return 'OTHER';
      }
    default:
      return 'OTHER';
  }
}
