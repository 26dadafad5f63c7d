/**
 * Event-group (transaction) boundaries in a MySQL or MariaDB binlog stream (§4.6).
 *
 * Fed every event in order, `TransactionTracker.push` says whether the event is a between-group control event,
 * opens a group, continues it, or completes it (and then with the group's kind and GTID). It decides from the
 * type code first; only QUERY-like events (QUERY, QUERY_COMPRESSED, EXECUTE_LOAD_QUERY) have their statement's
 * first words read, and only an XA_PREPARE's one_phase byte and a GTID event's own fields are looked at.
 * Results that are not completions are shared constants, so the common path allocates nothing.
 *
 * Groups:
 *
 *   MySQL (5.7+, GTID / ANONYMOUS_GTID / GTID_TAGGED start a group):
 *     GTID → QUERY BEGIN → … → XID | QUERY COMMIT | QUERY ROLLBACK                transaction / rollback
 *     GTID → QUERY XA START → … → QUERY XA END → XA_PREPARE_LOG_EVENT             xa_prepare
 *                                               (one_phase = 1: XA COMMIT … ONE PHASE → transaction)
 *     GTID → QUERY XA COMMIT | XA ROLLBACK                                        xa_commit / xa_rollback
 *     GTID → [INTVAR | RAND | USER_VAR | ROWS_QUERY …] → QUERY (DDL, any other)    ddl
 *     GTID → TRANSACTION_PAYLOAD                                                  transaction
 *   MariaDB (GTID 162 starts every group; it stands for BEGIN, there is no QUERY BEGIN):
 *     GTID(FL_STANDALONE) → {INTVAR, RAND, USER_VAR, TABLE_MAP, ANNOTATE_ROWS}* → first other event
 *                                                     ddl (or xa_commit / xa_rollback for XA COMMIT/ROLLBACK)
 *     GTID → … → XID | QUERY COMMIT | QUERY ROLLBACK                              transaction / rollback
 *     GTID(FL_PREPARED_XA) → … → QUERY XA END → XA_PREPARE_LOG_EVENT              xa_prepare
 *       (10.11 writes exactly this, see the mariadb-10.11-crc32 fixture; a QUERY `XA PREPARE` is accepted too)
 *   No GTIDs (5.6-style files):
 *     QUERY BEGIN → … → XID | QUERY COMMIT | ROLLBACK; or [INTVAR | RAND | USER_VAR | TABLE_MAP | ROWS_QUERY]*
 *     → one QUERY (a group of its own: ddl)
 *
 * Between groups: FDE, ROTATE, PREVIOUS_GTIDS, GTID_LIST, BINLOG_CHECKPOINT, STOP, INCIDENT, START_ENCRYPTION
 * (and unknown types). Heartbeats are control events wherever they come (senders emit them between events).
 *
 * An event that cannot occur where it comes (a GTID or a control event while a group is open, an XID or a rows
 * event outside any group, a COMMIT right after a GTID, …) throws ProtocolError ERR_MALFORMED. A primary's binlog
 * never holds a partial group (binlog writes are whole groups and crash recovery truncates a torn tail), so the
 * only legal way to abandon an open group is a reconnect: call `reset()`.
 */
import { ProtocolError } from '../errors.js';
import type { MariadbGtid } from '../gtid/mariadb.js';
import type { MysqlGtid } from '../gtid/mysql.js';
import {
  ANNOTATE_ROWS_EVENT,
  ANONYMOUS_GTID_LOG_EVENT,
  APPEND_BLOCK_EVENT,
  BEGIN_LOAD_QUERY_EVENT,
  BINLOG_CHECKPOINT_EVENT,
  BINLOG_CHECKSUM_ALG_CRC32,
  BINLOG_CHECKSUM_LEN,
  DELETE_FILE_EVENT,
  EXECUTE_LOAD_QUERY_EVENT,
  FL_STANDALONE,
  FORMAT_DESCRIPTION_EVENT,
  GTID_LOG_EVENT,
  GTID_TAGGED_LOG_EVENT,
  HEARTBEAT_LOG_EVENT,
  HEARTBEAT_LOG_EVENT_V2,
  INCIDENT_EVENT,
  INTVAR_EVENT,
  LOG_EVENT_HEADER_LEN,
  MARIADB_GTID_EVENT,
  MARIADB_GTID_LIST_EVENT,
  PREVIOUS_GTIDS_LOG_EVENT,
  QUERY_COMPRESSED_EVENT,
  QUERY_EVENT,
  RAND_EVENT,
  ROTATE_EVENT,
  ROWS_QUERY_LOG_EVENT,
  START_ENCRYPTION_EVENT,
  START_EVENT_V3,
  STOP_EVENT,
  TABLE_MAP_EVENT,
  TRANSACTION_PAYLOAD_EVENT,
  USER_VAR_EVENT,
  XA_PREPARE_LOG_EVENT,
  XID_EVENT,
} from './constants.js';
import { checksumAlgOf, postHeaderLengthOf, type EventContext } from './context.js';
import { decodeGtidTagged } from './gtid_tagged.js';
import type { BinlogEvent } from './header.js';
import { uncompressMariadbBlockPrefix } from './mariadb_compressed.js';
import { querySqlOffset, queryKind, type QueryKind } from './query.js';
import { uuidFromBytes } from './uuid.js';

export type GroupKind = 'transaction' | 'rollback' | 'ddl' | 'xa_prepare' | 'xa_commit' | 'xa_rollback';

export type TrackerRole = 'control' | 'start' | 'inside' | 'end';

export interface TrackerStep {
  readonly complete: false;
  /** control: between groups; start: opens a group; inside: continues the open group. */
  readonly role: 'control' | 'start' | 'inside';
}

export interface GroupComplete {
  readonly complete: true;
  /** The event closes the group (a one-event group, e.g. a DDL without GTID, is opened and closed here). */
  readonly role: 'end';
  readonly kind: GroupKind;
  /** MySQL `{uuid, tag, gno}` or MariaDB `{domainId, serverId, seqNo}`; undefined for anonymous/GTID-less groups. */
  readonly gtid: MysqlGtid | MariadbGtid | undefined;
  /** Events in the group, this one included. */
  readonly events: number;
  /** Bytes of the group's events, this one included (MySQL: equals the GTID's transaction_length). */
  readonly bytes: number;
}

export type TrackerResult = TrackerStep | GroupComplete;

const CONTROL: TrackerStep = Object.freeze({ complete: false, role: 'control' });
const START: TrackerStep = Object.freeze({ complete: false, role: 'start' });
const INSIDE: TrackerStep = Object.freeze({ complete: false, role: 'inside' });

// Event categories, looked up by type code.
// 0: anything else: inside a group it continues it, outside it is a control event
const C_CONTROL = 1; // between groups only
const C_HEARTBEAT = 2; // anywhere, changes nothing
const C_MYSQL_GTID = 3;
const C_MARIADB_GTID = 4;
const C_QUERY = 5; // QUERY, QUERY_COMPRESSED, EXECUTE_LOAD_QUERY
const C_XID = 6;
const C_XA_PREPARE = 7;
const C_PAYLOAD = 8;
const C_PREFIX = 9; // INTVAR, RAND, USER_VAR, TABLE_MAP, ANNOTATE_ROWS, ROWS_QUERY, LOAD DATA blocks
const C_ROWS = 10; // rows events and the like: only inside a group

const CATEGORY = new Uint8Array(256);
for (const t of [
  START_EVENT_V3,
  FORMAT_DESCRIPTION_EVENT,
  ROTATE_EVENT,
  STOP_EVENT,
  INCIDENT_EVENT,
  PREVIOUS_GTIDS_LOG_EVENT,
  MARIADB_GTID_LIST_EVENT,
  BINLOG_CHECKPOINT_EVENT,
  START_ENCRYPTION_EVENT,
]) {
  CATEGORY[t] = C_CONTROL;
}
CATEGORY[HEARTBEAT_LOG_EVENT] = C_HEARTBEAT;
CATEGORY[HEARTBEAT_LOG_EVENT_V2] = C_HEARTBEAT;
CATEGORY[GTID_LOG_EVENT] = C_MYSQL_GTID;
CATEGORY[ANONYMOUS_GTID_LOG_EVENT] = C_MYSQL_GTID;
CATEGORY[GTID_TAGGED_LOG_EVENT] = C_MYSQL_GTID;
CATEGORY[MARIADB_GTID_EVENT] = C_MARIADB_GTID;
CATEGORY[QUERY_EVENT] = C_QUERY;
CATEGORY[QUERY_COMPRESSED_EVENT] = C_QUERY;
CATEGORY[EXECUTE_LOAD_QUERY_EVENT] = C_QUERY;
CATEGORY[XID_EVENT] = C_XID;
CATEGORY[XA_PREPARE_LOG_EVENT] = C_XA_PREPARE;
CATEGORY[TRANSACTION_PAYLOAD_EVENT] = C_PAYLOAD;
for (const t of [
  INTVAR_EVENT,
  RAND_EVENT,
  USER_VAR_EVENT,
  TABLE_MAP_EVENT,
  ANNOTATE_ROWS_EVENT,
  ROWS_QUERY_LOG_EVENT,
  BEGIN_LOAD_QUERY_EVENT,
  APPEND_BLOCK_EVENT,
]) {
  CATEGORY[t] = C_PREFIX;
}
// Rows events (v0/v1/v2, PARTIAL_UPDATE, MariaDB compressed) and DELETE_FILE: never outside a group.
for (const t of [20, 21, 22, 23, 24, 25, 30, 31, 32, 39, 166, 167, 168, 169, 170, 171, DELETE_FILE_EVENT]) {
  CATEGORY[t] = C_ROWS;
}

/** The events MariaDB counts as part of a standalone group before its statement (`is_part_of_group`). */
function isMariadbStandalonePrefix(type: number): boolean {
  return (
    type === INTVAR_EVENT ||
    type === RAND_EVENT ||
    type === USER_VAR_EVENT ||
    type === TABLE_MAP_EVENT ||
    type === ANNOTATE_ROWS_EVENT
  );
}

const S_IDLE = 0;
const S_AFTER_MYSQL_GTID = 1; // MySQL GTID seen; waiting for BEGIN / the statement / the payload
const S_IN_TRX = 2; // after BEGIN / XA START / a MariaDB non-standalone GTID
const S_STANDALONE = 3; // after a MariaDB FL_STANDALONE GTID
const S_PENDING_STATEMENT = 4; // no GTID: INTVAR/RAND/USER_VAR/TABLE_MAP seen, waiting for the QUERY

const STATE_NAMES = ['between groups', 'after a MySQL GTID', 'inside a transaction', 'inside a standalone group', 'before a statement'];

function typeName(type: number): string {
  return `event type ${type}`;
}

export class TransactionTracker {
  private state = S_IDLE;
  private events = 0;
  private bytes = 0;
  private gtid: MysqlGtid | MariadbGtid | undefined;
  /** MySQL GTID event whose GTID is decoded only when the group completes. */
  private pendingGtidEvent: BinlogEvent | undefined;
  private pendingGtidCtx: EventContext = 0;

  /** True while a group is open. */
  get inGroup(): boolean {
    return this.state !== S_IDLE;
  }

  /** Forgets any open group (after a reconnect, or when a stream restarts). */
  reset(): void {
    this.state = S_IDLE;
    this.events = 0;
    this.bytes = 0;
    this.gtid = undefined;
    this.pendingGtidEvent = undefined;
  }

  /**
   * Classifies the next event of the stream. `ctx` is the FDE in force (or just its checksum alg), needed to
   * find a QUERY's text and the end of the body.
   */
  push(event: BinlogEvent, ctx: EventContext): TrackerResult {
    const type = event.typeCode;
    const cat = CATEGORY[type]!;
    if (cat === C_HEARTBEAT) return CONTROL;
    switch (this.state) {
      case S_IDLE:
        return this.idle(event, type, cat, ctx);
      case S_AFTER_MYSQL_GTID:
        return this.afterMysqlGtid(event, type, cat, ctx);
      case S_IN_TRX:
        return this.inTrx(event, type, cat, ctx);
      case S_STANDALONE:
        return this.standalone(event, type, cat, ctx);
      default:
        return this.pendingStatement(event, type, cat, ctx);
    }
  }

  private open(event: BinlogEvent, state: number): TrackerStep {
    this.state = state;
    this.events = 1;
    this.bytes = event.raw.length;
    return START;
  }

  private add(event: BinlogEvent): TrackerStep {
    this.events++;
    this.bytes += event.raw.length;
    return INSIDE;
  }

  private complete(event: BinlogEvent, kind: GroupKind): GroupComplete {
    const opened = this.state !== S_IDLE;
    const result: GroupComplete = {
      complete: true,
      role: 'end',
      kind,
      gtid: this.pendingGtidEvent !== undefined ? mysqlGtidOf(this.pendingGtidEvent, this.pendingGtidCtx) : this.gtid,
      events: opened ? this.events + 1 : 1,
      bytes: (opened ? this.bytes : 0) + event.raw.length,
    };
    this.reset();
    return result;
  }

  private malformed(event: BinlogEvent, why: string): ProtocolError {
    return new ProtocolError(
      'ERR_MALFORMED',
      `${typeName(event.typeCode)} (log_pos ${event.logPos}) cannot occur ${STATE_NAMES[this.state]}: ${why}`,
    );
  }

  private idle(event: BinlogEvent, type: number, cat: number, ctx: EventContext): TrackerResult {
    switch (cat) {
      case C_MYSQL_GTID:
        this.pendingGtidEvent = type === ANONYMOUS_GTID_LOG_EVENT ? undefined : event;
        this.pendingGtidCtx = ctx;
        return this.open(event, S_AFTER_MYSQL_GTID);
      case C_MARIADB_GTID: {
        const body = event.body(checksumAlgOf(ctx));
        if (body.length < 13) throw new ProtocolError('ERR_TRUNCATED', `MariaDB GTID body of ${body.length} bytes`);
        this.gtid = { domainId: body.readUInt32LE(8), serverId: event.serverId, seqNo: body.readBigUInt64LE(0) };
        return this.open(event, (body[12]! & FL_STANDALONE) !== 0 ? S_STANDALONE : S_IN_TRX);
      }
      case C_QUERY: {
        const k = queryKindOf(event, ctx);
        switch (k) {
          case 'BEGIN':
          case 'XA_START':
            return this.open(event, S_IN_TRX);
          case 'OTHER':
            return this.complete(event, 'ddl');
          case 'XA_COMMIT':
            return this.complete(event, 'xa_commit');
          case 'XA_ROLLBACK':
            return this.complete(event, 'xa_rollback');
          default:
            throw this.malformed(event, `a ${k} query outside a transaction`);
        }
      }
      case C_PREFIX:
        return this.open(event, S_PENDING_STATEMENT);
      case C_XID:
      case C_XA_PREPARE:
      case C_PAYLOAD:
      case C_ROWS:
        throw this.malformed(event, 'it belongs inside an event group');
      default:
        return CONTROL;
    }
  }

  private afterMysqlGtid(event: BinlogEvent, type: number, cat: number, ctx: EventContext): TrackerResult {
    switch (cat) {
      case C_QUERY: {
        const k = queryKindOf(event, ctx);
        switch (k) {
          case 'BEGIN':
          case 'XA_START':
            this.state = S_IN_TRX;
            return this.add(event);
          case 'OTHER':
            return this.complete(event, 'ddl');
          case 'XA_COMMIT':
            return this.complete(event, 'xa_commit');
          case 'XA_ROLLBACK':
            return this.complete(event, 'xa_rollback');
          default:
            throw this.malformed(event, `a ${k} query right after the GTID`);
        }
      }
      case C_PAYLOAD:
        return this.complete(event, 'transaction');
      case C_PREFIX:
        if (type === TABLE_MAP_EVENT || type === BEGIN_LOAD_QUERY_EVENT || type === APPEND_BLOCK_EVENT) {
          throw this.malformed(event, 'row or LOAD DATA events need a BEGIN after the GTID');
        }
        return this.add(event);
      default:
        throw this.malformed(event, 'the GTID must be followed by BEGIN, a statement or a TRANSACTION_PAYLOAD');
    }
  }

  private inTrx(event: BinlogEvent, _type: number, cat: number, ctx: EventContext): TrackerResult {
    switch (cat) {
      case C_XID:
        return this.complete(event, 'transaction');
      case C_XA_PREPARE:
        return this.complete(event, xaPrepareIsOnePhase(event, ctx) ? 'transaction' : 'xa_prepare');
      case C_QUERY: {
        const k = queryKindOf(event, ctx);
        switch (k) {
          case 'COMMIT':
            return this.complete(event, 'transaction');
          case 'ROLLBACK':
            return this.complete(event, 'rollback');
          case 'XA_PREPARE':
            return this.complete(event, 'xa_prepare');
          case 'XA_COMMIT':
            // XA COMMIT ... ONE PHASE written as a statement: the transaction commits here.
            return this.complete(event, 'transaction');
          case 'XA_ROLLBACK':
            return this.complete(event, 'rollback');
          case 'BEGIN':
          case 'XA_START':
            throw this.malformed(event, `a ${k} query inside an open transaction`);
          default:
            return this.add(event);
        }
      }
      case C_CONTROL:
      case C_MYSQL_GTID:
      case C_MARIADB_GTID:
        throw this.malformed(event, 'the open transaction has not ended');
      case C_PAYLOAD:
        throw this.malformed(event, 'a TRANSACTION_PAYLOAD must follow its GTID directly');
      default:
        return this.add(event);
    }
  }

  private standalone(event: BinlogEvent, type: number, cat: number, ctx: EventContext): TrackerResult {
    if (isMariadbStandalonePrefix(type)) return this.add(event);
    switch (cat) {
      case C_CONTROL:
      case C_MYSQL_GTID:
      case C_MARIADB_GTID:
        throw this.malformed(event, 'the standalone group has no statement');
      case C_QUERY: {
        const k = queryKindOf(event, ctx);
        switch (k) {
          case 'OTHER':
            return this.complete(event, 'ddl');
          case 'XA_COMMIT':
            return this.complete(event, 'xa_commit');
          case 'XA_ROLLBACK':
            return this.complete(event, 'xa_rollback');
          default:
            throw this.malformed(event, `a ${k} query cannot be a standalone statement`);
        }
      }
      default:
        return this.complete(event, 'ddl');
    }
  }

  private pendingStatement(event: BinlogEvent, _type: number, cat: number, ctx: EventContext): TrackerResult {
    switch (cat) {
      case C_PREFIX:
        return this.add(event);
      case C_QUERY: {
        const k = queryKindOf(event, ctx);
        switch (k) {
          case 'OTHER':
            return this.complete(event, 'ddl');
          case 'XA_COMMIT':
            return this.complete(event, 'xa_commit');
          case 'XA_ROLLBACK':
            return this.complete(event, 'xa_rollback');
          default:
            throw this.malformed(event, `a ${k} query after statement context events`);
        }
      }
      default:
        throw this.malformed(event, 'statement context events must be followed by their statement');
    }
  }
}

/** Classifies a QUERY-like event's statement by its first words (of a QUERY_COMPRESSED, only the start is inflated). */
export function queryKindOf(event: BinlogEvent, ctx: EventContext): QueryKind {
  const raw = event.raw;
  const end = checksumAlgOf(ctx) === BINLOG_CHECKSUM_ALG_CRC32 ? raw.length - BINLOG_CHECKSUM_LEN : raw.length;
  if (end < LOG_EVENT_HEADER_LEN) {
    throw new ProtocolError('ERR_TRUNCATED', `QUERY event of ${raw.length} bytes has no room for its CRC32`);
  }
  const body = raw.subarray(LOG_EVENT_HEADER_LEN, end);
  const sqlStart = querySqlOffset(body, postHeaderLengthOf(ctx, event.typeCode));
  if (event.typeCode === QUERY_COMPRESSED_EVENT) return queryKind(uncompressMariadbBlockPrefix(body.subarray(sqlStart)));
  return queryKind(body, sqlStart, body.length);
}

function xaPrepareIsOnePhase(event: BinlogEvent, ctx: EventContext): boolean {
  const body = event.body(checksumAlgOf(ctx));
  const p = postHeaderLengthOf(ctx, XA_PREPARE_LOG_EVENT);
  if (body.length < p + 1) throw new ProtocolError('ERR_TRUNCATED', 'XA_PREPARE_LOG_EVENT has no one_phase byte');
  return body[p] !== 0;
}

function mysqlGtidOf(event: BinlogEvent, ctx: EventContext): MysqlGtid {
  if (event.typeCode === GTID_TAGGED_LOG_EVENT) return decodeGtidTagged(event, ctx).gtid!;
  const body = event.body(checksumAlgOf(ctx));
  if (body.length < 25) throw new ProtocolError('ERR_TRUNCATED', `GTID event body of ${body.length} bytes`);
  const gno = body.readBigInt64LE(17);
  if (gno < 1n || gno >= 0x7fffffffffffffffn) throw new ProtocolError('ERR_MALFORMED', `GTID event gno ${gno}`);
  return { uuid: uuidFromBytes(body, 1), tag: '', gno };
}
