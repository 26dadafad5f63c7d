/**
 * The streaming loop of a dump (§3.4, §3.6, §3.8, §7.3): fake ROTATE, FDE, the stored events, rotations into
 * the next files, heartbeats, EOF. What reaches the replica is what the primary's own dump thread sends.
 *
 * Per file the sender opens (the first one and every one it rotates into):
 *   1. fake ROTATE (timestamp 0, log_pos 0, ARTIFICIAL, our server_id, body = start position + name). Its CRC
 *      follows the checksum alg in force: before the first FDE that is the replica's @master_binlog_checksum
 *      (CRC32 -> CRC, NONE or never set -> none), afterwards the last FDE's alg (MySQL `m_event_checksum_alg`,
 *      MariaDB `current_checksum_alg` both switch at the FDE). A client that parses CRCs per FDE needs that.
 *   2. the file's FDE with LOG_EVENT_BINLOG_IN_USE_F cleared, and:
 *        the file's stream starting past 4 (a file/pos dump's first file, or a dump starting in a file the
 *        store holds only from its middle): log_pos = 0 and created = 0;
 *        MySQL GTID dump: created = 0 when the first transaction of the start file is skipped (every file of
 *        the dump, as MySQL's flag is set once);
 *        MariaDB GTID dump: created = 0 while a requested position is not reached yet;
 *      CRC recomputed. A replica that never declared its checksum gets ERR 1236 here if the FDE says CRC32
 *      (both servers do this: MariaDB's `is_slave_checksum_aware` only asks whether the variable exists).
 *   3. the stored events from the start position, unchanged (zero-copy slices of the stored bytes), except the
 *      flavour's filters: MySQL GTID skipping of whole transactions; MariaDB GTID skipping, capability
 *      rewriting, ANNOTATE_ROWS and skip_replication filtering (rewrite.ts, mariadb_gtid.ts).
 *
 * Throughput: the store yields batches of units (whole transactions); events are found by their event_size
 * field without building objects; runs of unchanged events go out with one `sendEvents` call (or one
 * `sendEvent` per event when the output has no batch form). The loop awaits only per batch, for `drain()` when
 * the output said it is full (checked after each unit, so at most one unit is queued beyond the output's
 * high-water mark), and while waiting for the tail. Memory per replica: one batch (the store's readBatchBytes)
 * plus the socket buffer.
 *
 * Heartbeats: when nothing was sent for the period, while waiting for the tail, with the current file and the
 * position after the last event read. MySQL GTID dumps also send one with the position after skipped
 * transactions before the next event sent, every period while skipping, and when caught up after a skip.
 *
 * Semi-sync (the replica set @rpl_semi_sync_slave / _replica): the output adds [0xEF][flag] to every packet.
 * The sender asks for an ACK (flag 1) on the last event of a transaction that arrived live: stored after the
 * dump started and the newest durable unit when it is sent, i.e. a commit someone could be waiting on, as a
 * source flags only waiting commits. History a replica catches up on is never flagged (an ACK of a later
 * position covers all earlier ones, and a flag makes the replica flush its relay log first). ACKs the replica
 * sends back are recorded in `progress` (ackFile, ackPosition, acks) for upstream semi-sync chaining.
 *
 * MariaDB specifics kept on purpose: the fake GTID_LIST after a domain reached its position comes after the
 * last event of the skipped group, or right after the GTID event when the group itself is sent (seq_no past
 * the requested one without strict mode), as `send_events` does; a START_ENCRYPTION event is only sent right
 * after the FDE of a file streamed from position 4 (MariaDB's sender never sends it from its event loop).
 */
import {
  ANNOTATE_ROWS_EVENT,
  ANONYMOUS_GTID_LOG_EVENT,
  BINLOG_CHECKPOINT_EVENT,
  BINLOG_CHECKSUM_ALG_CRC32,
  BINLOG_CHECKSUM_ALG_OFF,
  BINLOG_CHECKSUM_ALG_UNDEF,
  FL_STANDALONE,
  FORMAT_DESCRIPTION_EVENT,
  GTID_LIST_FLAG_UNTIL_REACHED,
  GTID_LOG_EVENT,
  GTID_TAGGED_LOG_EVENT,
  LOG_EVENT_HEADER_LEN,
  LOG_EVENT_SKIP_REPLICATION_F,
  MARIADB_GTID_EVENT,
  MARIADB_GTID_LIST_EVENT,
  MARIA_SLAVE_CAPABILITY_ANNOTATE,
  MARIA_SLAVE_CAPABILITY_BINLOG_CHECKPOINT,
  MARIA_SLAVE_CAPABILITY_GTID,
  MARIA_SLAVE_CAPABILITY_TOLERATE_HOLES,
  QUERY_EVENT,
  ROTATE_EVENT,
  START_ENCRYPTION_EVENT,
  XID_EVENT,
} from '../../../protocol/binlog/constants.js';
import { buildFakeRotate, buildMariadbGtidList, restampFde } from '../../../protocol/binlog/builders.js';
import { decodeMariadbGtidList } from '../../../protocol/binlog/mariadb_gtid_list.js';
import { queryKindOf } from '../../../protocol/binlog/tracker.js';
import { BinlogEvent, EVENT_LEN_OFFSET, EVENT_TYPE_OFFSET, FLAGS_OFFSET, TIMESTAMP_OFFSET } from '../../../protocol/binlog/header.js';
import { decodeFormatDescription, FDE_CREATED_EVENT_OFFSET } from '../../../protocol/binlog/fde.js';
import { BINLOG_DUMP_NON_BLOCK, BINLOG_SEND_ANNOTATE_ROWS_EVENT, USE_HEARTBEAT_EVENT_V2 } from '../../../protocol/constants.js';
import { formatMariadbGtid, type MariadbGtid } from '../../../protocol/gtid/mariadb.js';
import { formatMysqlGtid, type MysqlGtid, type MysqlGtidSet } from '../../../protocol/gtid/mysql.js';
import { DumpError, isTransientStorageError, messages, shutdownError, withLocation, type DumpErrorCode, type Wording } from './errors.js';
import { buildDumpHeartbeat, heartbeatPeriodMs } from './heartbeat.js';
import { isPartOfGroup, type MariadbGtidFilter } from './mariadb_gtid.js';
import { beginEvent, dummyEvent } from './rewrite.js';
import { DIRECT_BYTES, framePackets } from '../dump_output.js';
import { BIN_LOG_HEADER_SIZE, type StartPoint } from './start.js';
import { FrameRing, type RingSlice } from './frame-ring.js';
import { findFile, recordField, recordGtid, unpackUnit, UuidCache, type DumpStore, type PackedUnits, type ReadItem, type StoredUnit } from './store.js';
import type { DumpContext } from './types.js';

/** Everything the start checks decided; the sender only streams. */
export interface DumpPlan {
  mode: 'file' | 'mysql-gtid' | 'mariadb-gtid';
  start: StartPoint;
  /** What the replica asked, for the error location suffix. */
  requestedFile: string;
  requestedPos: bigint;
  wording: Wording;
  /** MySQL GTID dump: the replica's set (transactions in it are skipped). */
  exclude: MysqlGtidSet | null;
  /** MySQL GTID dump: zero the FDEs' `created` (the start file's first transaction is skipped). */
  clearCreated: boolean;
  /** MariaDB GTID connect. */
  mariadb: MariadbGtidFilter | null;
}

/** Errors raised while a file is open get MySQL's/MariaDB's location suffix. */
const LOCATED: ReadonlySet<DumpErrorCode> = new Set<DumpErrorCode>([
  'ERR_DUMP_CHECKSUM',
  'ERR_DUMP_ANONYMOUS',
  'ERR_DUMP_EVENT',
  'ERR_DUMP_STORAGE',
  'ERR_DUMP_POSITION',
]);

/**
 * Bytes per storage batch of a dump: the reader holds up to about three of these (LevelDB's read-ahead, the
 * prefetched batch, the batch being sent), fewer when replicas share segments (the shared read cache). 256 KiB
 * (four segments) halves the LevelDB round trips of 64 KiB: one raw reader 0.25-0.32 s -> 0.23-0.26 s for the
 * bench's 92 MB, 50 readers 246 -> 327 MB/s before the shared cache (bench/run.ts, scenarios 2b and 4).
 */
const DUMP_BATCH_BYTES = 256 << 10;

const NO_ACK = undefined;
const NEED_ACK = { needAck: true } as const;

/**
 * Framed packets of a packed run, shared by the dumps that send the same segment (see sendPacked). Keyed by
 * the segment value, which the shared read cache hands to every reader at that point of the log; an entry
 * dies with the segment. `framed` is null until a second dump sends the same run (one reader alone never pays
 * for the copy); the packets themselves are in the store's frame ring, and framed again if they were
 * overwritten there.
 */
interface SharedFrames {
  /** The run: offset of its first record, number of records, ANNOTATE_ROWS dropped or not. */
  first: number;
  count: number;
  drop: boolean;
  framed: RingSlice | null;
  events: number;
  bytes: number;
  /** Offset in the value of the run's last event (sent or dropped). */
  lastEvent: number;
}
const SHARED_FRAMES = new WeakMap<Buffer, SharedFrames>();
/**
 * Shared framing is for runs of at most this many bytes whose packets are all small enough for the output's
 * coalescing path (DIRECT_BYTES: no packet of 0xFFFFFF bytes or more to split).
 */
const SHARED_FRAME_MAX_BYTES = 128 << 10;
const RINGS = new WeakMap<DumpStore, FrameRing>();
/**
 * Where the shared framed packets of a store's dumps are kept: a ring of 1.25 times the store's shared read
 * cache (20 MiB for the default 16 MiB), a little more than the framing of the segments the cache holds, so
 * that frames live about as long as their segments. A buffer per framed run was ~100 MB of garbage per pass of
 * fifty replicas over the bench's 92 MB history, freed only at V8's full collections: it set the peak RSS.
 * The ring's memory is taken at its first use.
 */
export function frameRingOf(store: DumpStore): FrameRing {
  let ring = RINGS.get(store);
  if (ring === undefined) {
    ring = new FrameRing(Math.max(2 * SHARED_FRAME_MAX_BYTES, store.readCacheBytes + (store.readCacheBytes >> 2)));
    RINGS.set(store, ring);
  }
  return ring;
}

/** Why the batch loop stopped early. */
const CONTINUE = 0;
const BLOCKED = 1;
const FINISHED = 2;

export class BinlogSender {
  private readonly out: DumpContext['output'];
  private readonly flavor: 'mysql' | 'mariadb';
  private readonly serverId: number;
  private readonly periodMs: number;
  private readonly heartbeatV2: boolean;
  private readonly nonBlocking: boolean;
  private readonly annotate: boolean;
  private readonly capability: number;
  private readonly skipReplication: boolean;
  private readonly semiSync: boolean;
  private readonly frames: FrameRing;

  /** Checksum alg in force for artificial events (see the module comment). */
  private alg: number;
  private curFile: string | null = null;
  /** Position after the last event read (sent or skipped). */
  private curPos = 0n;
  /**
   * Start of the last event read, kept as a base and an offset so that the per-unit hot path makes no bigint:
   * the position is built only when it is read (progress, errors).
   */
  private lastEventBase = 0n;
  private lastEventOff = 0;
  private get lastEventPos(): bigint {
    return this.lastEventOff === 0 ? this.lastEventBase : this.lastEventBase + BigInt(this.lastEventOff);
  }
  private set lastEventPos(pos: bigint) {
    this.lastEventBase = pos;
    this.lastEventOff = 0;
  }
  /** End of the current file's FDE (its events start there). */
  private fdeEnd = 0n;
  /** The current file's recorded FDE while its stream has not shown whether it starts with the stored FDE. */
  private fdeFallback: Buffer | null = null;
  private lastSentAt = 0;
  private blocked = false;

  // MySQL GTID skipping (Binlog_sender::send_events)
  private inExclude = false;
  private pendingSkipPos: bigint | null = null;

  // MariaDB: the decision for the unit being streamed (a huge unit comes in several chunks)
  private skipUnit = false;

  /** The last durable unit when the dump started: units up to it are history. */
  private startSeq = 0;

  // progress
  private eventsSent = 0;
  private bytesSent = 0;
  private lastTimestamp: number | null = null;
  private lastGtid: MysqlGtid | MariadbGtid | null = null;
  /** Or the last transaction sent by the packed path (its GTID is decoded only for the progress). */
  private lastGtidRun: PackedUnits | null = null;
  private lastGtidIndex = 0;
  /** Converts record GTIDs (the same server's UUID is decoded once). */
  private readonly uuids = new UuidCache();
  /** Scratch list of [start, end) runs for the packed path (reused). */
  private readonly ranges: number[] = [];

  constructor(
    private readonly ctx: DumpContext,
    private readonly store: DumpStore,
    private readonly plan: DumpPlan,
  ) {
    const { vars, request, output } = ctx;
    this.out = output;
    this.frames = frameRingOf(store);
    this.flavor = vars.flavor;
    this.serverId = ctx.identity.serverId;
    this.periodMs = heartbeatPeriodMs(vars.heartbeatPeriodNs);
    this.heartbeatV2 = vars.flavor === 'mysql' && (request.flags & USE_HEARTBEAT_EVENT_V2) !== 0;
    this.nonBlocking = (request.flags & BINLOG_DUMP_NON_BLOCK) !== 0 || request.serverId === 0;
    this.annotate = (request.flags & BINLOG_SEND_ANNOTATE_ROWS_EVENT) !== 0;
    this.capability = vars.mariadbSlaveCapability;
    this.skipReplication = vars.skipReplication;
    this.semiSync = vars.semiSync;
    this.alg = vars.clientChecksum === 'CRC32' ? BINLOG_CHECKSUM_ALG_CRC32 : vars.clientChecksum === 'NONE' ? BINLOG_CHECKSUM_ALG_OFF : BINLOG_CHECKSUM_ALG_UNDEF;
  }

  /** Streams until the end (non-blocking, UNTIL), the replica goes away, or an error (thrown as DumpError). */
  async run(): Promise<void> {
    const { start } = this.plan;
    const signal = this.out.signal;
    let reader: AsyncIterableIterator<ReadItem[]>;
    this.startSeq = this.store.durableSeq;
    try {
      reader = await this.store.openReader({ from: { file: start.file.name, pos: start.pos }, follow: !this.nonBlocking, signal, batchBytes: DUMP_BATCH_BYTES, packed: true });
    } catch (err) {
      throw this.openError(err);
    }
    try {
      this.lastSentAt = Date.now();
      this.enterFile(start.file.name, start.pos, start.file.fde);
      await this.waitDrain();
      for (;;) {
        if (signal.aborted) return;
        const r = await this.nextBatch(reader);
        if (r.done === true) break;
        if (await this.processBatch(r.value)) return;
      }
      if (signal.aborted) return;
      // A following reader only ends when the store closes: the proxy is stopping.
      if (!this.nonBlocking) throw shutdownError();
      // Non-blocking dump at the end of the stored binlog.
      this.skipHeartbeatAtEnd();
      this.out.sendEof();
    } finally {
      await reader.return?.();
    }
  }

  // ---- batches -------------------------------------------------------------------------------------------

  /** Processes a batch; true when the dump is over (UNTIL reached). */
  private async processBatch(units: ReadItem[]): Promise<boolean> {
    let i = 0;
    while (i < units.length) {
      const r = this.processUnits(units, i);
      this.updateProgress();
      if (r.status === FINISHED) {
        await this.waitDrain();
        return true;
      }
      i = r.next;
      if (r.status === BLOCKED) await this.waitDrain();
      if (this.out.signal.aborted) return true;
    }
    // Caught up: MySQL sends a heartbeat with the position after skipped transactions before it waits.
    const last = units[units.length - 1];
    if (last !== undefined && lastSeqOf(last) >= this.store.durableSeq) this.skipHeartbeatAtEnd();
    return false;
  }

  /** Sends units from `from` on until the output asks to wait or the batch ends. Synchronous. */
  private processUnits(units: ReadItem[], from: number): { status: number; next: number } {
    // Semi-sync: ask for an ACK on the commit of the newest transaction when it arrived live (stored after the
    // dump started and nothing newer is durable yet), as a source does for commits that wait; never for
    // history (an ACK of a later position covers every earlier one).
    const liveSeq = this.semiSync ? this.store.durableSeq : Infinity;
    for (let i = from; i < units.length; i++) {
      const u = units[i]!;
      const lastItem = i === units.length - 1;
      if ('packed' in u) {
        if (this.processPacked(u, lastItem, liveSeq)) return { status: FINISHED, next: i + 1 };
      } else {
        const ackLast = this.semiSync && u.kind === 'transaction' && u.lastChunk && u.seq >= liveSeq && u.seq > this.startSeq && lastItem;
        if (this.processUnit(u, ackLast)) return { status: FINISHED, next: i + 1 };
      }
      if (this.blocked) return { status: BLOCKED, next: i + 1 };
    }
    return { status: CONTINUE, next: units.length };
  }

  /**
   * A run of whole transactions of one segment. While nothing needs a decision per unit (no MariaDB GTID filter
   * still looking for its position, a replica that takes every event as stored, the run in the current file),
   * the events of consecutive transactions go out from the segment bytes with one output call for the run and
   * no object per unit; a transaction that does need the per-unit path (in a MySQL replica's GTID set, an event
   * to rewrite, the semi-sync commit that asks for an ACK) is expanded into a StoredUnit and goes through
   * processUnit, as is every unit when the fast path does not apply. True when the dump is over (UNTIL
   * reached). Does not stop when the output is full: it queues at most one batch beyond the high-water mark.
   */
  private processPacked(run: PackedUnits, lastItem: boolean, liveSeq: number): boolean {
    const n = run.records.length;
    // Semi-sync: the commit that asks for an ACK (see processUnits) goes through the per-unit path.
    const lastSeq = run.firstSeq + n - 1;
    const packedEnd = this.semiSync && lastItem && lastSeq >= liveSeq && lastSeq > this.startSeq ? n - 1 : n;
    let i = 0;
    while (i < n) {
      if (i < packedEnd && run.file === this.curFile && this.fdeFallback === null && this.packable()) {
        i = this.sendPacked(run, i, packedEnd);
        if (i === n) break;
      }
      // The per-unit path for unit i (its seq is firstSeq + i).
      const seq = run.firstSeq + i;
      const ackLast = this.semiSync && seq >= liveSeq && seq > this.startSeq && lastItem && i === n - 1;
      if (this.processUnit(unpackUnit(run, i), ackLast)) return true;
      i++;
    }
    return false;
  }

  /**
   * True when whole transactions go out unchanged, as stored (a MySQL GTID dump still checks each one against
   * the replica's set in sendPacked).
   */
  private packable(): boolean {
    if (this.ctx.packed === false) return false;
    if (this.flavor === 'mysql') return true;
    const filter = this.plan.mariadb;
    return (filter === null || (!filter.active && !filter.sendFakeList)) && this.capability >= MARIA_SLAVE_CAPABILITY_GTID && !this.skipReplication;
  }

  /**
   * Sends the transactions of `run` from index `from` on that need no per-event work; returns the index of
   * the first one not sent (run.records.length when all were). MariaDB replicas that did not ask for
   * ANNOTATE_ROWS do not get those events (nor START_ENCRYPTION outside a file's start): they are left out of
   * the runs. A transaction whose stored framing is damaged stops the fast path (the per-unit path reports it
   * with its location). The events go out with one output call for the lot.
   */
  private sendPacked(run: PackedUnits, from: number, to: number): number {
    const value = run.value;
    const recs = run.records;
    // Events a MariaDB replica with the GTID capability does not get unless it asked for ANNOTATE_ROWS: they
    // are dropped here as mariadbEvent() would (START_ENCRYPTION is only sent right after a file's FDE).
    const drop = this.flavor === 'mariadb' && !this.annotate;
    const out = this.out;
    // MySQL GTID dump: a transaction the replica has (or one without a GTID, which ends the dump) goes through
    // the per-unit path (mysqlSkips); the others are sent here, which is what mysqlSkips would decide for them.
    const exclude = this.flavor === 'mysql' ? this.plan.exclude : null;
    // Replicas reading the same segment (a fan-out catching up together) share its framed packets: the second
    // one frames them into a buffer of their own, every later one only copies it with its sequence ids.
    let shared: SharedFrames | undefined;
    if (from === 0 && to === recs.length && exclude === null && !this.semiSync && run.shared && out.sendFramed !== undefined) {
      shared = SHARED_FRAMES.get(value);
      if (shared === undefined || shared.first !== recs[0] || shared.count !== to || shared.drop !== drop) {
        SHARED_FRAMES.set(value, { first: recs[0]!, count: to, drop, framed: null, events: 0, bytes: 0, lastEvent: 0 });
        shared = undefined;
      } else if (shared.framed !== null && this.frames.holds(shared.framed)) {
        this.flushSkipHeartbeat();
        if (!out.sendFramed(shared.framed.bytes, shared.events, shared.bytes)) this.blocked = true;
        this.afterPacked(run, to, shared.events, shared.bytes, shared.lastEvent);
        return to;
      }
    }
    const ranges = this.ranges;
    let nr = 0;
    let i = from;
    let events = 0;
    let bytes = 0;
    let maxEvent = 0;
    let lastEvent = -1;
    for (; i < to; i++) {
      const r = recs[i]!;
      const start = recordField.dataStart(value, r);
      const end = recordField.end(value, r);
      if (exclude !== null && !this.sendsToGtidReplica(value, r, start, end, exclude)) break;
      const nr0 = nr;
      let off = start;
      let runStart = start;
      let count = 0;
      let sent = 0;
      let last = start;
      while (off < end) {
        if (off + LOG_EVENT_HEADER_LEN > end) break;
        const size = value.readUInt32LE(off + EVENT_LEN_OFFSET);
        if (size < LOG_EVENT_HEADER_LEN || off + size > end) break;
        last = off;
        if (size > maxEvent) maxEvent = size;
        if (drop) {
          const type = value[off + EVENT_TYPE_OFFSET];
          if (type === ANNOTATE_ROWS_EVENT || type === START_ENCRYPTION_EVENT) {
            if (off > runStart) {
              ranges[nr++] = runStart;
              ranges[nr++] = off;
              sent += off - runStart;
            }
            runStart = off + size;
            off += size;
            continue;
          }
        }
        off += size;
        count++;
      }
      if (off !== end) {
        // Damaged framing: the per-unit path reports it with its location. Nothing of this unit was sent.
        nr = nr0;
        break;
      }
      if (end > runStart) {
        ranges[nr++] = runStart;
        ranges[nr++] = end;
        sent += end - runStart;
      }
      events += count;
      bytes += sent;
      lastEvent = last;
    }
    if (i === from) return i;
    this.flushSkipHeartbeat();
    let ok = true;
    const room = nr > 0 ? ranges[nr - 1]! - ranges[0]! + events * 5 : 0; // framed without semi-sync: 5-byte heads
    if (shared !== undefined && i === to && nr > 0 && 1 + maxEvent < DIRECT_BYTES && room <= SHARED_FRAME_MAX_BYTES) {
      const framed = this.frames.write(room, (buf, start) => framePackets(buf, start, value, ranges, nr >> 1, events, 5, 0));
      Object.assign(shared, { framed, events, bytes, lastEvent });
      ok = out.sendFramed!(framed.bytes, events, bytes);
    } else if (out.sendEventRanges !== undefined) {
      if (nr > 0) ok = out.sendEventRanges(value, ranges, nr >> 1, events, maxEvent, bytes);
    } else {
      for (let k = 0; k < nr; k += 2) {
        for (let o = ranges[k]!; o < ranges[k + 1]!; ) {
          const size = value.readUInt32LE(o + EVENT_LEN_OFFSET);
          if (!out.sendEvent(value.subarray(o, o + size), NO_ACK)) ok = false;
          o += size;
        }
      }
    }
    if (!ok) this.blocked = true;
    if (exclude !== null) this.inExclude = false; // the last GTID seen was not in the set
    this.afterPacked(run, i, events, bytes, lastEvent);
    return i;
  }

  /**
   * MySQL GTID dump: true when the transaction of the record at `r` starts with its GTID event and that GTID is
   * not in the replica's set, i.e. mysqlSkips() would send it. Anything else (in the set, anonymous, no GTID
   * event first) is left to the per-unit path.
   */
  private sendsToGtidReplica(value: Buffer, r: number, start: number, end: number, exclude: MysqlGtidSet): boolean {
    if (end - start < LOG_EVENT_HEADER_LEN) return false;
    const type = value[start + EVENT_TYPE_OFFSET];
    if (type !== GTID_LOG_EVENT && type !== GTID_TAGGED_LOG_EVENT) return false;
    const gtid = recordGtid(value, r, this.uuids);
    return gtid !== null && !exclude.contains(gtid as MysqlGtid);
  }

  /** Progress and positions after the packed units before index `to` of `run` went out. */
  private afterPacked(run: PackedUnits, to: number, events: number, bytes: number, lastEvent: number): void {
    const value = run.value;
    const lastRec = run.records[to - 1]!;
    const lastStart = recordField.dataStart(value, lastRec);
    const pos = BigInt(recordField.posNumber(value, lastRec));
    this.lastEventBase = pos;
    this.lastEventOff = lastEvent - lastStart;
    this.curPos = pos + BigInt(recordField.end(value, lastRec) - lastStart);
    this.eventsSent += events;
    this.bytesSent += bytes;
    this.lastTimestamp = value.readUInt32LE(lastEvent + TIMESTAMP_OFFSET);
    this.lastSentAt = Date.now();
    this.lastGtidRun = run;
    this.lastGtidIndex = to - 1;
    this.lastGtid = null;
  }

  private async waitDrain(): Promise<void> {
    if (!this.blocked) return;
    this.blocked = false;
    await this.out.drain();
  }

  /**
   * The next batch, sending heartbeats while the reader waits for the tail. Ends (done) as soon as the output's
   * signal fires, whether or not the reader noticed it: the pending read is then abandoned (run() returns the
   * reader, which wakes it).
   */
  private async nextBatch(reader: AsyncIterableIterator<ReadItem[]>): Promise<IteratorResult<ReadItem[]>> {
    const pending = reader.next();
    const signal = this.out.signal;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<IteratorResult<ReadItem[]>>((resolve) => {
      onAbort = () => resolve({ done: true, value: undefined });
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      for (;;) {
        let timer: NodeJS.Timeout | undefined;
        const waits: Array<Promise<IteratorResult<ReadItem[]> | null>> = [pending, aborted];
        if (this.periodMs > 0) {
          const wait = Math.max(0, this.lastSentAt + this.periodMs - Date.now());
          waits.push(
            new Promise<null>((resolve) => {
              timer = setTimeout(resolve, wait, null);
            }),
          );
        }
        let r: IteratorResult<ReadItem[]> | null;
        try {
          r = await Promise.race(waits);
        } finally {
          clearTimeout(timer);
        }
        if (r !== null) {
          if (signal.aborted) this.abandon(pending);
          return r;
        }
        // Idle for a whole period: MySQL first owes the position after skipped transactions, then heartbeats.
        this.skipHeartbeatAtEnd();
        if (Date.now() - this.lastSentAt >= this.periodMs) this.sendHeartbeat(this.curPos);
        await this.waitDrain();
      }
    } finally {
      signal.removeEventListener('abort', onAbort!);
    }
  }

  /** A read we no longer wait for: its outcome only matters for the log. */
  private abandon(pending: Promise<IteratorResult<ReadItem[]>>): void {
    pending.then(
      () => this.ctx.log.trace('abandoned binlog read finished'),
      (err: unknown) => this.ctx.log.debug({ err }, 'abandoned binlog read failed'),
    );
  }

  // ---- units ---------------------------------------------------------------------------------------------

  /** Sends (or skips) one stored unit; true when the dump is over. */
  private processUnit(u: StoredUnit, ackLast: boolean): boolean {
    if (u.file !== this.curFile) this.enterFile(u.file, u.pos, null);
    if (this.fdeFallback !== null) {
      // The stream of this file starts here: its stored FDE comes first, or we send the file's recorded one.
      const fromFde = u.pos === BIN_LOG_HEADER_SIZE && u.data[EVENT_TYPE_OFFSET] === FORMAT_DESCRIPTION_EVENT;
      if (!fromFde) this.sendFde(this.fdeFallback, u.pos);
      this.fdeFallback = null;
    }
    if (this.flavor === 'mysql') {
      if (this.plan.exclude !== null && this.mysqlSkips(u)) {
        this.skipUnit_(u);
        return false;
      }
      this.sendUnitEvents(u, ackLast);
      return false;
    }
    return this.mariadbUnit(u, ackLast);
  }

  /** MySQL `skip_event` for a whole unit: a GTID decides its group; other events follow the last decision. */
  private mysqlSkips(u: StoredUnit): boolean {
    const exclude = this.plan.exclude!;
    if (u.kind === 'transaction') {
      const type = u.data[EVENT_TYPE_OFFSET]!;
      if (u.pos === u.unitPos && u.chunk === 0) {
        if (type === ANONYMOUS_GTID_LOG_EVENT) {
          // MySQL reports the event's start in the text and its end as the last position read.
          this.lastEventPos = u.pos;
          this.curPos = u.pos + BigInt(eventSize(u.data, 0));
          throw new DumpError('ERR_DUMP_ANONYMOUS', messages.anonymousInGtidDump(u.file, u.pos));
        }
        if ((type === GTID_LOG_EVENT || type === GTID_TAGGED_LOG_EVENT) && u.gtid !== null) {
          this.inExclude = exclude.contains(u.gtid as MysqlGtid);
        }
      }
      return this.inExclude;
    }
    if (u.data[EVENT_TYPE_OFFSET] === ROTATE_EVENT) {
      this.inExclude = false;
      return false;
    }
    return this.inExclude;
  }

  /** Skips a unit's events (reading advances the position; MySQL heartbeats while skipping). */
  private skipUnit_(u: StoredUnit): void {
    this.lastEventPos = u.pos;
    this.curPos = u.endPos;
    if (this.periodMs > 0 && Date.now() - this.lastSentAt >= this.periodMs) {
      this.sendHeartbeat(this.curPos);
      this.pendingSkipPos = null;
    } else {
      this.pendingSkipPos = this.curPos;
    }
  }

  /** MySQL: the heartbeat owed after skipped transactions, before anything else is sent. */
  private flushSkipHeartbeat(): void {
    if (this.pendingSkipPos !== null) {
      const pos = this.pendingSkipPos;
      this.pendingSkipPos = null;
      this.sendHeartbeat(pos);
    }
  }

  /** MySQL: caught up (or ending) right after skipped transactions. */
  private skipHeartbeatAtEnd(): void {
    if (this.pendingSkipPos !== null) {
      this.pendingSkipPos = null;
      this.sendHeartbeat(this.curPos);
    }
  }

  /**
   * Sends a unit's events unchanged: one pass over the event sizes (numbers, no per-event objects), then one
   * output call. The stored FDE that opens a file (position 4) goes restamped; with semi-sync the last event
   * of a live transaction goes on its own, asking for the ACK.
   */
  private sendUnitEvents(u: StoredUnit, ackLast: boolean): void {
    const data = u.data;
    const n = data.length;
    let start = 0;
    if (u.pos === BIN_LOG_HEADER_SIZE && data[EVENT_TYPE_OFFSET] === FORMAT_DESCRIPTION_EVENT) {
      start = eventSize(data, 0);
      this.lastEventPos = u.pos;
      this.curPos = u.pos + BigInt(start);
      this.sendFde(data.subarray(0, start), u.pos);
      if (start === n) return;
    }
    let count = 0;
    let last = start;
    for (let off = start; off < n; ) {
      last = off;
      off += eventSize(data, off);
      count++;
    }
    // = u.endPos - (n - last): the piece's bytes run from u.pos to u.endPos.
    this.lastEventBase = u.pos;
    this.lastEventOff = last;
    this.curPos = u.endPos;
    if (ackLast) {
      this.sendRunCounted(data, start, last, count - 1, -1);
      this.sendOne(data.subarray(last, n), true);
    } else {
      this.sendRunCounted(data, start, n, count, last);
    }
    if (u.kind === 'transaction' && u.gtid !== null) this.lastGtid = u.gtid;
  }

  /** MariaDB: GTID connect decisions, UNTIL, capability rewriting and filters, per event. */
  private mariadbUnit(u: StoredUnit, ackLast: boolean): boolean {
    const filter = this.plan.mariadb;
    const data = u.data;
    let skip = false;
    if (u.kind === 'transaction') {
      if (u.chunk === 0 && u.pos === u.unitPos) {
        this.skipUnit = false;
        if (filter !== null && filter.active && data[EVENT_TYPE_OFFSET] === MARIADB_GTID_EVENT && u.gtid !== null) {
          const standalone = (data[LOG_EVENT_HEADER_LEN + 12]! & FL_STANDALONE) !== 0;
          this.skipUnit = filter.onGtid(u.gtid as MariadbGtid, standalone) === 'skip';
        }
      }
      skip = this.skipUnit;
    }
    const fast =
      !skip &&
      (filter === null || (!filter.active && !filter.sendFakeList)) &&
      this.capability >= MARIA_SLAVE_CAPABILITY_GTID &&
      !this.skipReplication &&
      (u.kind === 'control' ? data[EVENT_TYPE_OFFSET] !== START_ENCRYPTION_EVENT : this.annotate || !hasFilteredEvent(data));
    if (fast) {
      this.sendUnitEvents(u, ackLast);
      return false;
    }
    // Positions are offsets in `data` here (no bigint per event); the absolute ones are made when needed.
    const base = u.pos;
    const n = data.length;
    let off = 0;
    let end = 0;
    let runStart = 0;
    let lastStart = 0;
    try {
      while (off < n) {
        lastStart = off;
        end = off + eventSize(data, off);
        const type = data[off + EVENT_TYPE_OFFSET]!;
        if (skip) {
          runStart = end;
        } else if (type === FORMAT_DESCRIPTION_EVENT && off === 0 && base === BIN_LOG_HEADER_SIZE) {
          // Sent apart from the event loop, as MariaDB's send_format_descriptor_event does: no UNTIL check.
          this.sendRun(data, runStart, off);
          runStart = end;
          this.curPos = base + BigInt(end);
          this.sendFde(data.subarray(off, end), base);
          off = end;
          continue;
        } else {
          // What the event becomes: null = sent unchanged (part of the run), a buffer = replacement, 'drop'.
          const action = this.mariadbEvent(data, off, end, type, base, filter);
          if (action !== null) {
            this.sendRun(data, runStart, off);
            runStart = end;
            if (action !== 'drop') this.sendOne(action, false);
          } else if (ackLast && end === n) {
            this.sendRun(data, runStart, off);
            runStart = end;
            this.sendOne(data.subarray(off, end), true);
          }
        }
        if (filter !== null) {
          // A fake GTID_LIST once a domain reached its position: after the group, or after a sent group's GTID.
          if (filter.sendFakeList && (!skip || (u.lastChunk && end === n))) {
            this.sendRun(data, runStart, end);
            runStart = end;
            filter.sendFakeList = false;
            this.sendOne(this.fakeGtidList(filter.untilBinlogState.list(), 0, base + BigInt(end)), false);
          }
          if (filter.hasUntil && this.untilReached(filter, data, off, type, u, end === n)) {
            this.sendRun(data, runStart, end);
            this.lastEventPos = base + BigInt(off);
            this.curPos = base + BigInt(end);
            this.sendOne(this.fakeGtidList(filter.untilBinlogState.list(), GTID_LIST_FLAG_UNTIL_REACHED, this.curPos), false);
            this.out.sendEof();
            return true;
          }
        }
        off = end;
      }
    } catch (err) {
      // Where the failing event is, for the error's location suffix.
      this.lastEventPos = base + BigInt(off);
      this.curPos = base + BigInt(Math.max(end, off));
      throw err;
    }
    this.sendRun(data, runStart, n);
    this.lastEventBase = base;
    this.lastEventOff = lastStart;
    this.curPos = u.endPos;
    if (!skip && u.kind === 'transaction' && u.gtid !== null) this.lastGtid = u.gtid;
    return false;
  }

  /** MariaDB `send_event_to_slave` filters for one event that is not in a skipped group. */
  private mariadbEvent(data: Buffer, off: number, end: number, type: number, base: bigint, filter: MariadbGtidFilter | null): Buffer | 'drop' | null {
    const cap = this.capability;
    if (type === START_ENCRYPTION_EVENT) {
      // MariaDB sends it only right after the FDE (as an ignorable event); never from the event loop.
      return base + BigInt(off) === this.fdeEnd ? null : 'drop';
    }
    if (type === MARIADB_GTID_LIST_EVENT && filter !== null && filter.hasUntil) {
      filter.onGtidList(decodeMariadbGtidList(data.subarray(off, end), this.streamAlg()).gtids);
    }
    let replacement: Buffer | null = null;
    if (type === ANNOTATE_ROWS_EVENT && !this.annotate) {
      if (cap >= MARIA_SLAVE_CAPABILITY_TOLERATE_HOLES) return 'drop';
      if (cap < MARIA_SLAVE_CAPABILITY_ANNOTATE) {
        replacement = dummyEvent(data.subarray(off, end), this.streamAlg());
        if (replacement === null) throw new DumpError('ERR_DUMP_EVENT', messages.mariadbDummyFailed('annotate'));
      }
    }
    if (type === MARIADB_GTID_EVENT && cap < MARIA_SLAVE_CAPABILITY_GTID) {
      const standalone = (data[off + LOG_EVENT_HEADER_LEN + 12]! & FL_STANDALONE) !== 0;
      if (standalone) {
        if (cap >= MARIA_SLAVE_CAPABILITY_TOLERATE_HOLES) return 'drop';
        replacement = dummyEvent(data.subarray(off, end), this.streamAlg());
      } else {
        replacement = beginEvent(data.subarray(off, end), this.streamAlg());
      }
      if (replacement === null) throw new DumpError('ERR_DUMP_EVENT', messages.mariadbGtidRewriteFailed());
    }
    if (
      (type === BINLOG_CHECKPOINT_EVENT && cap < MARIA_SLAVE_CAPABILITY_BINLOG_CHECKPOINT) ||
      (type === MARIADB_GTID_LIST_EVENT && cap < MARIA_SLAVE_CAPABILITY_GTID)
    ) {
      if (cap >= MARIA_SLAVE_CAPABILITY_TOLERATE_HOLES) return 'drop';
      replacement = dummyEvent(data.subarray(off, end), this.streamAlg());
      if (replacement === null) throw new DumpError('ERR_DUMP_EVENT', messages.mariadbDummyFailed('checkpoint'));
    }
    if (this.skipReplication && (data.readUInt16LE(off + FLAGS_OFFSET) & LOG_EVENT_SKIP_REPLICATION_F) !== 0) return 'drop';
    return replacement;
  }

  /** MariaDB `is_until_reached` after an event (sent or skipped). */
  private untilReached(filter: MariadbGtidFilter, data: Buffer, off: number, type: number, u: StoredUnit, lastOfPiece: boolean): boolean {
    switch (filter.untilGroup) {
      case 'stop_after_standalone':
        return !isPartOfGroup(type);
      case 'stop_after_transaction':
        if (u.kind === 'transaction') return u.lastChunk && lastOfPiece;
        return type === XID_EVENT || (type === QUERY_EVENT && isCommitOrRollback(data, off, this.streamAlg()));
      default:
        return false;
    }
  }

  // ---- files and artificial events -------------------------------------------------------------------------

  /**
   * The stream enters a file (the start file, or the next one after a rotation): fake ROTATE, then the FDE
   * (the stored one when the stream starts at it, else the file's recorded FDE: `fde`, or looked up).
   */
  private enterFile(name: string, pos: bigint, fde: Buffer | null): void {
    if (this.curFile !== null) {
      // MySQL ends a file's events with the heartbeat it owes after skipped transactions.
      this.skipHeartbeatAtEnd();
      this.inExclude = false;
    }
    let fdeRaw = fde;
    if (fdeRaw === null) {
      const info = findFile(this.store.listFiles(), name);
      if (info === undefined) throw new DumpError('ERR_DUMP_STORAGE', messages.storageRead(this.plan.wording));
      fdeRaw = info.fde;
    }
    this.curFile = name;
    this.curPos = pos;
    this.lastEventPos = pos;
    this.fdeEnd = 0n;
    this.sendOne(buildFakeRotate({ serverId: this.serverId, position: pos, fileName: name, checksum: this.alg === BINLOG_CHECKSUM_ALG_CRC32 }), false);
    if (pos > BIN_LOG_HEADER_SIZE) {
      this.sendFde(fdeRaw, pos);
      this.fdeFallback = null;
    } else {
      this.fdeFallback = fdeRaw;
    }
  }

  /**
   * Sends a file's FDE, restamped. `startPos` is where this file's stream starts (4, or the requested position
   * of a file/pos dump, or the first stored position of a file stored from the middle).
   */
  private sendFde(raw: Buffer, startPos: bigint): void {
    const fdeAlg = decodeFormatDescription(raw).checksumAlg;
    this.lastEventPos = BIN_LOG_HEADER_SIZE;
    if (this.ctx.vars.clientChecksum === null && fdeAlg === BINLOG_CHECKSUM_ALG_CRC32) {
      this.curPos = BIN_LOG_HEADER_SIZE + BigInt(raw.length);
      throw new DumpError('ERR_DUMP_CHECKSUM', messages.checksumUnknown(this.plan.wording));
    }
    // Past 4: the replica must neither count the FDE in its position nor take it for a source restart.
    const zeroAll = startPos > BIN_LOG_HEADER_SIZE;
    let zeroCreated = false;
    if (!zeroAll && this.plan.mode === 'mysql-gtid') zeroCreated = this.plan.clearCreated;
    if (!zeroAll && this.plan.mode === 'mariadb-gtid') zeroCreated = this.plan.mariadb !== null && !this.plan.mariadb.posReached();
    let out = restampFde(raw, { clearInUse: true, zeroLogPosAndCreated: zeroAll });
    if (zeroCreated && out.readUInt32LE(FDE_CREATED_EVENT_OFFSET) !== 0) {
      out.writeUInt32LE(0, FDE_CREATED_EVENT_OFFSET);
      out = restampFde(out, { clearInUse: true, zeroLogPosAndCreated: false });
    }
    this.sendOne(out, false);
    this.alg = fdeAlg;
    this.fdeEnd = BIN_LOG_HEADER_SIZE + BigInt(raw.length);
  }

  private fakeGtidList(gtids: MariadbGtid[], flags: number, logPos: bigint): Buffer {
    return buildMariadbGtidList({
      serverId: this.serverId,
      logPos: Number(logPos & 0xffffffffn),
      gtids,
      flags,
      checksum: this.alg === BINLOG_CHECKSUM_ALG_CRC32,
    });
  }

  private sendHeartbeat(position: bigint): void {
    if (this.curFile === null) return;
    const hb = buildDumpHeartbeat({
      flavor: this.flavor,
      v2: this.heartbeatV2,
      serverId: this.serverId,
      fileName: this.curFile,
      position,
      checksum: this.alg === BINLOG_CHECKSUM_ALG_CRC32,
    });
    if (!this.out.sendEvent(hb, NO_ACK)) this.blocked = true;
    this.lastSentAt = Date.now();
    this.updateProgress();
  }

  /** The alg of the events in the current file (for decoding stored events). */
  private streamAlg(): number {
    return this.alg;
  }

  // ---- output --------------------------------------------------------------------------------------------

  /** Sends stored events data[start, end) unchanged. */
  private sendRun(data: Buffer, start: number, end: number): void {
    if (end <= start) return;
    let count = 0;
    let last = start;
    for (let off = start; off < end; off += data.readUInt32LE(off + EVENT_LEN_OFFSET)) {
      count++;
      last = off;
    }
    this.sendRunCounted(data, start, end, count, last);
  }

  /** sendRun when the caller already walked the events: `count` of them, the last at `last` (-1: unknown). */
  private sendRunCounted(data: Buffer, start: number, end: number, count: number, last: number): void {
    if (end <= start) return;
    this.flushSkipHeartbeat();
    const out = this.out;
    let ok: boolean;
    if (out.sendEvents !== undefined) {
      ok = out.sendEvents(data, start, end);
    } else {
      ok = true;
      for (let off = start; off < end; ) {
        const size = data.readUInt32LE(off + EVENT_LEN_OFFSET);
        if (!out.sendEvent(data.subarray(off, off + size), NO_ACK)) ok = false;
        last = off;
        off += size;
      }
    }
    if (!ok) this.blocked = true;
    this.eventsSent += count;
    this.bytesSent += end - start;
    if (last >= 0) this.lastTimestamp = data.readUInt32LE(last + TIMESTAMP_OFFSET);
    this.lastSentAt = Date.now();
  }

  /** Sends one event (artificial, restamped, rewritten, or the one that asks for an ACK). */
  private sendOne(event: Buffer, needAck: boolean): void {
    this.flushSkipHeartbeat();
    if (!this.out.sendEvent(event, needAck ? NEED_ACK : NO_ACK)) this.blocked = true;
    this.eventsSent++;
    this.bytesSent += event.length;
    const ts = event.readUInt32LE(TIMESTAMP_OFFSET);
    if (ts !== 0) this.lastTimestamp = ts;
    this.lastSentAt = Date.now();
  }

  private updateProgress(): void {
    const p = this.ctx.progress;
    p.file = this.curFile;
    p.position = Number(this.curPos);
    p.eventsSent = this.eventsSent;
    p.bytesSent = this.bytesSent;
    p.lastEventTimestamp = this.lastTimestamp;
    if (this.lastGtidRun !== null) {
      const run = this.lastGtidRun;
      this.lastGtid ??= recordGtid(run.value, run.records[this.lastGtidIndex]!, this.uuids);
      this.lastGtidRun = null;
    }
    if (this.lastGtid !== null) {
      const g = this.lastGtid;
      p.gtid = 'uuid' in g ? formatMysqlGtid(g) : formatMariadbGtid(g);
      this.lastGtid = null;
    }
  }

  // ---- errors --------------------------------------------------------------------------------------------

  get wording(): Wording {
    return this.plan.wording;
  }

  /** The location suffix for errors raised while a file is open. */
  located(err: DumpError): DumpError {
    if (!LOCATED.has(err.code) || this.curFile === null || err.message.includes('; the first event')) return err;
    const message = withLocation(err.message, {
      startFile: this.plan.requestedFile,
      startPos: this.plan.requestedPos,
      lastFile: this.curFile,
      lastEventPos: this.flavor === 'mysql' ? this.curPos : this.lastEventPos,
      lastBytePos: this.curPos,
    });
    return new DumpError(err.code, message, { cause: err.cause, errno: err.errno });
  }

  /** A reader that cannot start where the checks said it could: the file changed under us, or a bad position. */
  private openError(err: unknown): DumpError {
    const code = (err as { code?: unknown } | null)?.code;
    const w = this.plan.wording;
    if (code === 'ERR_STORAGE_POSITION') {
      // Not an event boundary: MySQL reads garbage there, MariaDB calls it impossible.
      const text = messages.positionNotAtEvent(w);
      const file = this.plan.start.file.name;
      return new DumpError(
        'ERR_DUMP_POSITION',
        withLocation(text, {
          startFile: this.plan.requestedFile,
          startPos: this.plan.requestedPos,
          lastFile: file,
          lastEventPos: this.plan.start.pos,
          lastBytePos: this.plan.start.pos,
        }),
        { cause: err },
      );
    }
    if (isTransientStorageError(err)) return shutdownError(err);
    if (code === 'ERR_STORAGE_NOT_FOUND' || code === 'ERR_STORAGE_PURGED') {
      return new DumpError('ERR_DUMP_FILE_NOT_FOUND', messages.fileNotFound(), { cause: err });
    }
    return new DumpError('ERR_DUMP_STORAGE', messages.storageRead(w), { cause: err });
  }
}

/** Size of the event at `off`; DumpError when the stored framing is broken (storage checks it on append). */
/**
 * True when a transaction piece holds an event the per-event MariaDB path would change for a replica with the
 * GTID capability that did not ask for ANNOTATE_ROWS: an ANNOTATE_ROWS (dropped) or a START_ENCRYPTION (dropped
 * outside the file start). Without one, the piece goes out unchanged as one run (a scan of the type bytes is
 * far cheaper than the per-event loop).
 */
function hasFilteredEvent(data: Buffer): boolean {
  const n = data.length;
  let off = 0;
  while (off < n) {
    if (off + LOG_EVENT_HEADER_LEN > n) return true; // damaged: the per-event path reports it with its location
    const type = data[off + EVENT_TYPE_OFFSET];
    if (type === ANNOTATE_ROWS_EVENT || type === START_ENCRYPTION_EVENT) return true;
    const size = data.readUInt32LE(off + EVENT_LEN_OFFSET);
    if (size < LOG_EVENT_HEADER_LEN) return true;
    off += size;
  }
  return off !== n;
}

/** The last unit of a batch item. */
function lastSeqOf(item: ReadItem): number {
  return 'packed' in item ? item.firstSeq + item.records.length - 1 : item.seq;
}

function eventSize(data: Buffer, off: number): number {
  if (off + LOG_EVENT_HEADER_LEN > data.length) throw new DumpError('ERR_DUMP_EVENT', messages.bogusData());
  const size = data.readUInt32LE(off + EVENT_LEN_OFFSET);
  if (size < LOG_EVENT_HEADER_LEN || off + size > data.length) throw new DumpError('ERR_DUMP_EVENT', messages.bogusData());
  return size;
}

function isCommitOrRollback(data: Buffer, off: number, alg: number): boolean {
  const size = data.readUInt32LE(off + EVENT_LEN_OFFSET);
  const k = queryKindOf(new BinlogEvent(data.subarray(off, off + size)), alg);
  return k === 'COMMIT' || k === 'ROLLBACK';
}
