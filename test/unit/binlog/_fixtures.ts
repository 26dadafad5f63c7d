/**
 * Access to the real binlog files in ../shared/fixtures/binlog (read-only) and a decode-everything helper
 * shared by the binlog unit tests.
 */
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ANNOTATE_ROWS_EVENT,
  ANONYMOUS_GTID_LOG_EVENT,
  BINLOG_CHECKPOINT_EVENT,
  EXECUTE_LOAD_QUERY_EVENT,
  FORMAT_DESCRIPTION_EVENT,
  GTID_LOG_EVENT,
  GTID_TAGGED_LOG_EVENT,
  HEARTBEAT_LOG_EVENT,
  HEARTBEAT_LOG_EVENT_V2,
  MARIADB_GTID_EVENT,
  MARIADB_GTID_LIST_EVENT,
  PREVIOUS_GTIDS_LOG_EVENT,
  QUERY_COMPRESSED_EVENT,
  QUERY_EVENT,
  ROTATE_EVENT,
  TRANSACTION_PAYLOAD_EVENT,
  XA_PREPARE_LOG_EVENT,
  XID_EVENT,
  decodeAnnotateRows,
  decodeBinlogCheckpoint,
  decodeFormatDescription,
  decodeHeartbeat,
  decodeMariadbGtid,
  decodeMariadbGtidList,
  decodeMysqlGtid,
  decodePreviousGtids,
  decodeQuery,
  decodeRotate,
  decodeTransactionPayload,
  decodeXaPrepare,
  decodeXid,
  type BinlogEvent,
  type EventContext,
} from '../../../protocol/binlog/index.js';

export const FIXTURES = fileURLToPath(new URL('../../../../shared/fixtures/binlog/', import.meta.url));

export interface FixtureFile {
  /** e.g. `mariadb-10.11-crc32/bin.000001` */
  name: string;
  path: string;
  /** The mysqlbinlog / mariadb-binlog decode shipped beside it, if any. */
  txt: string | undefined;
}

function txtFor(dir: string, file: string): string | undefined {
  const candidates = [`${file}.txt`];
  const m = /\.(\d+)$/.exec(file);
  if (m) candidates.push(`${Number(m[1])}.txt`);
  for (const c of candidates) {
    const p = join(dir, c);
    if (existsSync(p)) return readFileSync(p, 'utf8');
  }
  return undefined;
}

/** Every binlog file of the fixture tree except `truncated/`, sorted by name. */
export function fixtureFiles(): FixtureFile[] {
  const out: FixtureFile[] = [];
  for (const d of readdirSync(FIXTURES).sort()) {
    const dir = join(FIXTURES, d);
    if (d === 'truncated' || !statSync(dir).isDirectory()) continue;
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith('.txt') || f.endsWith('.sql') || f.endsWith('.md')) continue;
      out.push({ name: `${d}/${f}`, path: join(dir, f), txt: txtFor(dir, f) });
    }
  }
  return out;
}

export function readFixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, name));
}

/** Runs the decoder that matches the event's type (if we have one); returns the decoded value or undefined. */
export function decodeAny(event: BinlogEvent, ctx: EventContext): unknown {
  switch (event.typeCode) {
    case FORMAT_DESCRIPTION_EVENT:
      return decodeFormatDescription(event);
    case ROTATE_EVENT:
      return decodeRotate(event, ctx);
    case QUERY_EVENT:
    case QUERY_COMPRESSED_EVENT:
    case EXECUTE_LOAD_QUERY_EVENT:
      return decodeQuery(event, ctx);
    case XID_EVENT:
      return decodeXid(event, ctx);
    case XA_PREPARE_LOG_EVENT:
      return decodeXaPrepare(event, ctx);
    case GTID_LOG_EVENT:
    case ANONYMOUS_GTID_LOG_EVENT:
    case GTID_TAGGED_LOG_EVENT:
      return decodeMysqlGtid(event, ctx);
    case PREVIOUS_GTIDS_LOG_EVENT:
      return decodePreviousGtids(event, ctx);
    case TRANSACTION_PAYLOAD_EVENT:
      return decodeTransactionPayload(event, ctx);
    case MARIADB_GTID_EVENT:
      return decodeMariadbGtid(event, ctx);
    case MARIADB_GTID_LIST_EVENT:
      return decodeMariadbGtidList(event, ctx);
    case BINLOG_CHECKPOINT_EVENT:
      return decodeBinlogCheckpoint(event, ctx);
    case ANNOTATE_ROWS_EVENT:
      return decodeAnnotateRows(event, ctx);
    case HEARTBEAT_LOG_EVENT:
    case HEARTBEAT_LOG_EVENT_V2:
      return decodeHeartbeat(event, ctx);
    default:
      return undefined;
  }
}
