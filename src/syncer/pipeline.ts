/**
 * The event pipeline of one dump connection: packets in, storage units out. No I/O: the syncer feeds it the
 * payloads of the dump stream and implements the sink.
 *
 *   packet payload ─▶ strip 0x00 (semi-sync: 0x00 0xEF flag) ─▶ event view ─▶ CRC32 check ─▶ classify:
 *     heartbeat (27/41)          status only (lag, the primary's position)
 *     fake ROTATE (artificial)   sets (file, position); never stored
 *     FDE with log_pos 0         metadata of the file (a dump that starts inside a file); never stored
 *     other artificial events    MariaDB's fake GTID_LIST and the like; never stored
 *     real events                position check ─▶ catch-up (skip what precedes the target) ─▶ transaction
 *                                tracker ─▶ a unit per control event / per complete transaction
 *
 * Checksums: a fake ROTATE follows the checksum the session negotiated; an FDE carries its own alg (and its CRC
 * is computed with LOG_EVENT_BINLOG_IN_USE_F clear, see protocol/binlog/checksum.ts); every other event
 * follows the alg of the FDE in force. A mismatch throws ChecksumError: the connection is dropped and nothing
 * of the open transaction reaches storage.
 *
 * Positions: the fake ROTATE gives the position of the next event; each real event starts where the previous
 * one ended. Where the header's log_pos is non-zero it must equal start + size (mod 2^32): otherwise the
 * primary skipped bytes. That is expected only while catching up (a GTID connect skips the groups we already
 * have); once storing, a hole is an error (ERR_UPSTREAM_GAP), because storage keeps the primary's files
 * contiguous. log_pos 0 inside groups (MariaDB 11.4+) is accepted: the running position is used.
 *
 * Catch-up: storing starts with the event that starts exactly at the target (file, pos). Events before it are
 * duplicates (a resume) or the part of the file before a requested start (a fresh start reads the file from
 * position 4, to learn its FDE and the GTID state at the start position). An event that straddles the target
 * means our history and the primary's differ (ERR_UPSTREAM_DIVERGED). When the stream reaches a later file
 * before the target, a resume goes on from that file's position 4 (our last file was complete, or the primary
 * lost its tail); a fresh start fails (the position is past the end of its file).
 *
 * Large transactions: once an open transaction holds more than `largeTransactionBytes`, its events are handed
 * to the sink as a stream (largeBegin / largeEvent / largeEnd) instead of being buffered.
 *
 * Semi-sync: the return value of `push` says whether the primary wants an acknowledgement for the packet. The
 * pipeline then calls `sink.ack(file, end)` right after the unit that contains the event (or at once for an
 * event it does not store); the sink sends it only after everything handed over so far is durable.
 */
import { decodeSemiSyncEventPacket } from '../../protocol/commands.js';
import { OK_HEADER } from '../../protocol/constants.js';
import { ProtocolError } from '../../protocol/errors.js';
import {
  ANONYMOUS_GTID_LOG_EVENT,
  BINLOG_CHECKSUM_ALG_CRC32,
  FORMAT_DESCRIPTION_EVENT,
  GTID_LOG_EVENT,
  GTID_TAGGED_LOG_EVENT,
  HEARTBEAT_LOG_EVENT,
  HEARTBEAT_LOG_EVENT_V2,
  LOG_EVENT_ARTIFICIAL_F,
  MARIADB_GTID_EVENT,
  MARIADB_GTID_LIST_EVENT,
  PREVIOUS_GTIDS_LOG_EVENT,
  ROTATE_EVENT,
} from '../../protocol/binlog/constants.js';
import { verifyEventChecksum } from '../../protocol/binlog/checksum.js';
import { ChecksumRun } from '../../protocol/binlog/checksum_run.js';
import { decodeFormatDescription, type FormatDescription } from '../../protocol/binlog/fde.js';
import { BinlogEvent } from '../../protocol/binlog/header.js';
import { decodeHeartbeat } from '../../protocol/binlog/heartbeat.js';
import { decodeMysqlGtid } from '../../protocol/binlog/gtid.js';
import { decodeMariadbGtid } from '../../protocol/binlog/mariadb_gtid.js';
import { decodeMariadbGtidList } from '../../protocol/binlog/mariadb_gtid_list.js';
import { decodePreviousGtids } from '../../protocol/binlog/previous_gtids.js';
import { decodeRotate } from '../../protocol/binlog/rotate.js';
import { TransactionTracker, type GroupKind } from '../../protocol/binlog/tracker.js';
import { MariadbGtidPosition, type MariadbGtid } from '../../protocol/gtid/mariadb.js';
import { MysqlGtidSet, type MysqlGtid } from '../../protocol/gtid/mysql.js';
import { UpstreamError } from '../upstream/errors.js';
import type { DumpTarget, Flavor } from '../upstream/session.js';

export interface NewFileMeta {
  /** The file's FORMAT_DESCRIPTION_EVENT as the primary sent it. */
  fde: Buffer;
  /** GTID state at the first stored position (MySQL set / MariaDB position text), when known. */
  startGtids?: string;
}

export interface SyncUnit {
  file: string;
  /** Offset in the primary's file of the first event. */
  pos: bigint;
  /** Offset just after the last event. */
  endPos: bigint;
  events: Buffer[];
  bytes: number;
  kind: 'transaction' | 'control';
  /** The tracker's classification of a transaction. */
  groupKind: GroupKind | null;
  /** Type code of the first event. */
  eventType: number;
  gtid: MysqlGtid | MariadbGtid | null;
  /** Header timestamp of the first event (seconds). */
  timestamp: number;
  /** On the first unit stored for a file. */
  newFile?: NewFileMeta;
  /** On a PREVIOUS_GTIDS / GTID_LIST control unit: the file's starting GTID state. */
  fileStartGtids?: string;
}

export interface LargeBegin {
  file: string;
  pos: bigint;
  timestamp: number;
  /** The transaction's GTID, decoded from its first event (null for anonymous / GTID-less groups). */
  gtid: MysqlGtid | MariadbGtid | null;
  newFile?: NewFileMeta;
}

export interface LargeEnd {
  endPos: bigint;
  groupKind: GroupKind;
  gtid: MysqlGtid | MariadbGtid | null;
  events: number;
  bytes: number;
}

export interface PipelineSink {
  unit(unit: SyncUnit): void;
  largeBegin(meta: LargeBegin, events: Buffer[]): void;
  largeEvent(event: Buffer): void;
  largeEnd(end: LargeEnd): void;
  /** Acknowledge (file, pos) to the primary once everything handed over so far is durable. */
  ack(file: string, pos: bigint): void;
  heartbeat(file: string, pos: bigint): void;
  /** Locate mode: where the primary starts sending for the requested GTIDs. */
  located(file: string, pos: bigint): void;
  /** Something worth a log line. */
  notice(message: string, data?: Record<string, unknown>): void;
}

export interface PipelineOptions {
  flavor: Flavor;
  /** Packets carry the semi-sync header (0xEF, flag). */
  semiSync: boolean;
  /** The checksum alg of the fake ROTATE (what the session negotiated). */
  fakeRotateChecksumAlg: number;
  /** Where storing starts; null in locate mode. */
  target: DumpTarget | null;
  /** Transactions above this size are streamed to the sink (default 32 MiB). */
  largeTransactionBytes?: number;
  /**
   * Hold complete units until `flush()` (the caller calls it after each read from the socket), so that one CRC
   * call checks all the events of the read (default false: each unit is checked and handed over at once).
   */
  holdUnits?: boolean;
  sink: PipelineSink;
}

const MASK32 = 0xffffffffn;
const TWO32 = 0x100000000n;
/** Positions up to here take the number fast path of startOf (well within 2^53 with any event size added). */
const MAX_SAFE_POS = 0x1fffffffffffn;

interface OpenGroup {
  first: BinlogEvent;
  file: string;
  pos: bigint;
  timestamp: number;
  events: Buffer[];
  bytes: number;
  count: number;
  streaming: boolean;
  newFile: NewFileMeta | undefined;
  acks: bigint[];
}

/** Sequence number of a binlog file name (`bin.000123` → 123), or null for a name without one. */
export function fileSequence(name: string): number | null {
  const m = /\.(\d+)$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** Negative when `a` comes before `b` in the primary's index (by the numeric extension). */
export function compareFiles(a: string, b: string): number {
  if (a === b) return 0;
  const na = fileSequence(a);
  const nb = fileSequence(b);
  if (na !== null && nb !== null && na !== nb) return na - nb;
  return a < b ? -1 : 1;
}

function gtidStateText(state: MysqlGtidSet | MariadbGtidPosition): string {
  return state.toString();
}

export class StreamPipeline {
  private readonly flavor: Flavor;
  private readonly semiSync: boolean;
  private readonly fakeRotateAlg: number;
  private readonly sink: PipelineSink;
  private readonly largeBytes: number;
  private readonly target: DumpTarget | null;
  private readonly tracker = new TransactionTracker();
  /**
   * CRC32 checks of ordinary events, one zlib call per run of events received together (ChecksumRun). The run
   * is verified (flush()) before anything reaches the sink (a unit, an ACK, a heartbeat, a located position),
   * before an error leaves push() (a corrupted event is reported as such, whatever decoding its bytes did), and
   * in flush() (the end of a socket read, the end of the stream): nothing of a corrupted event is ever stored
   * or acknowledged.
   */
  private readonly checks = new ChecksumRun();
  private readonly holdUnits: boolean;
  /** holdUnits: complete units not handed to the sink yet, and `checks.added` when each was complete. */
  private held: SyncUnit[] = [];
  private heldAt: number[] = [];

  private file: string | null = null;
  /** Where the next event of `file` starts. */
  private pos = 0n;
  private fde: FormatDescription | null = null;
  /** The current file's FDE bytes (for the first unit of a file stored from the middle). */
  private fdeRaw: Buffer | null = null;
  private catchingUp: boolean;
  /** GTID state while catching up in the target file of a fresh start. */
  private startState: MysqlGtidSet | MariadbGtidPosition | null = null;
  /** The next stored unit is the first of its file in storage. */
  private newFilePending = false;
  private group: OpenGroup | null = null;
  private locatedAt: { file: string; pos: bigint } | null = null;
  /** Set by startOf(): the primary skipped bytes before the event. */
  private jumped = false;
  /** Catching up, the stream left the target file exactly at the target position (it ended there). */
  private targetFileEndedAtTarget = false;

  constructor(opts: PipelineOptions) {
    this.flavor = opts.flavor;
    this.semiSync = opts.semiSync;
    this.fakeRotateAlg = opts.fakeRotateChecksumAlg;
    this.sink = opts.sink;
    this.largeBytes = opts.largeTransactionBytes ?? 32 * 1024 * 1024;
    this.target = opts.target;
    this.holdUnits = opts.holdUnits === true;
    this.catchingUp = opts.target !== null;
  }

  /** The primary's current file and the position of its next event, as far as the stream told us. */
  get position(): { file: string | null; pos: bigint } {
    return { file: this.file, pos: this.pos };
  }

  /** True while events are skipped because they precede the target. */
  get isCatchingUp(): boolean {
    return this.catchingUp;
  }

  /** True while a transaction is open (its events are not stored yet). */
  get inTransaction(): boolean {
    return this.group !== null;
  }

  /** Handles one dump packet. Returns true when the primary asked for a semi-sync acknowledgement. */
  push(payload: Buffer): boolean {
    let offset: number;
    let needAck = false;
    if (this.semiSync) {
      const h = decodeSemiSyncEventPacket(payload);
      needAck = h.needAck;
      offset = h.eventOffset;
    } else {
      if (payload.length === 0 || payload[0] !== OK_HEADER) {
        throw new ProtocolError('ERR_MALFORMED', `dump packet starts with 0x${(payload[0] ?? 0).toString(16)}, not 0x00`);
      }
      offset = 1;
    }
    this.handleEvent(payload.subarray(offset), needAck);
    return needAck;
  }

  /**
   * Handles one event that did not come in a dump packet (the import command reads files): the same path as
   * `push` without the packet prefix, so nothing is copied or sliced per event.
   */
  pushEvent(raw: Buffer): void {
    this.handleEvent(raw, false);
  }

  /**
   * Verifies the checksums of every event received so far and hands the units held (holdUnits) to the sink.
   * Throws ChecksumError for a corrupted event, after handing over only the units complete before it. The
   * syncer calls it after each read from the socket and when the stream ends (so that a corrupted event just
   * before the end is reported as such); every emission to the sink goes through it first, so the sink sees
   * events in stream order.
   */
  flush(): void {
    const held = this.held;
    if (held.length === 0) {
      this.checks.verify();
      return;
    }
    this.held = [];
    const heldAt = this.heldAt;
    this.heldAt = [];
    try {
      this.checks.verify();
    } catch (err) {
      // The units complete before the bad event are stored, as if each had been checked when it completed.
      const bad = this.checks.failedAt;
      for (let i = 0; i < held.length && heldAt[i]! <= bad; i++) this.sink.unit(held[i]!);
      throw err;
    }
    for (const u of held) this.sink.unit(u);
  }

  /** A complete unit: held until flush() (holdUnits), or checked and handed over now. */
  private emitUnit(unit: SyncUnit): void {
    if (this.holdUnits) {
      this.held.push(unit);
      this.heldAt.push(this.checks.added);
      return;
    }
    this.flush();
    this.sink.unit(unit);
  }

  private currentAlg(): number {
    return this.fde ? this.fde.checksumAlg : this.fakeRotateAlg;
  }

  private handleEvent(raw: Buffer, needAck: boolean): void {
    try {
      this.handleEventUnchecked(raw, needAck);
    } catch (err) {
      // Whatever went wrong, a corrupted event received before is the cause to report; the units complete
      // before the failing event are handed over (as they would have been without holding and batching).
      this.flush();
      throw err;
    }
  }

  /** handleEvent before the checks of the ordinary events (see `checks`). */
  private handleEventUnchecked(raw: Buffer, needAck: boolean): void {
    const ev = new BinlogEvent(raw);
    const type = ev.typeCode;

    if (type === HEARTBEAT_LOG_EVENT || type === HEARTBEAT_LOG_EVENT_V2) {
      this.flush();
      verifyEventChecksum(raw, this.currentAlg());
      const hb = decodeHeartbeat(ev, this.currentAlg());
      const file = hb.fileName || this.file || '';
      this.sink.heartbeat(file, hb.position);
      if (this.target === null && this.fde !== null && file !== '') this.locate(file, hb.position);
      return;
    }

    const artificial = (ev.flags & LOG_EVENT_ARTIFICIAL_F) !== 0;
    if (type === ROTATE_EVENT && (artificial || ev.logPos === 0)) {
      verifyEventChecksum(raw, this.fakeRotateAlg);
      const rotate = decodeRotate(ev, this.fakeRotateAlg);
      this.switchFile(rotate.nextFile, rotate.position);
      if (needAck) this.ackNow(rotate.nextFile, rotate.position);
      return;
    }

    if (type === FORMAT_DESCRIPTION_EVENT) {
      const fd = decodeFormatDescription(ev);
      verifyEventChecksum(raw, fd.checksumAlg);
      this.fde = fd;
      this.fdeRaw = raw;
      if (ev.logPos === 0) {
        // Sent by a dump that starts inside the file: metadata only, not at any position of the file.
        if (needAck) this.ackNow(this.requireFile(), this.pos);
        return;
      }
    } else {
      const alg = this.currentAlg();
      if (alg === BINLOG_CHECKSUM_ALG_CRC32) this.checks.add(raw);
      else verifyEventChecksum(raw, alg);
    }

    if (artificial) {
      // MariaDB's fake GTID_LIST once a GTID connect reached the requested state: log_pos is where streaming
      // goes on. Nothing artificial is ever stored.
      if (this.target === null && type === MARIADB_GTID_LIST_EVENT && this.file !== null) this.locate(this.file, BigInt(ev.logPos));
      if (needAck) this.ackNow(this.requireFile(), this.pos);
      return;
    }

    const file = this.requireFile();
    const start = this.startOf(ev);
    const jumped = this.jumped;
    const end = start + BigInt(raw.length);

    if (this.target === null) {
      // Locate mode: the first group the primary sends marks the start.
      if (isGroupStart(type)) this.locate(file, start);
      this.pos = end;
      if (needAck) this.ackNow(file, end);
      return;
    }

    if (this.catchingUp) {
      if (jumped) this.tracker.reset();
      if (!this.reachedTarget(file, start)) {
        this.skip(ev, file, end);
        if (needAck) this.ackNow(file, end);
        return;
      }
    } else if (jumped) {
      throw new UpstreamError(
        'ERR_UPSTREAM_GAP',
        `the primary skipped bytes in ${file}: expected an event at ${this.pos}, got one ending at ${ev.logPos} (size ${raw.length})`,
      );
    }
    this.store(ev, raw, file, start, end, needAck);
  }

  private requireFile(): string {
    if (this.file === null) throw new ProtocolError('ERR_MALFORMED', 'a binlog event arrived before the dump named its file (fake ROTATE)');
    return this.file;
  }

  private locate(file: string, pos: bigint): void {
    if (this.locatedAt !== null) return;
    this.flush();
    this.locatedAt = { file, pos };
    this.sink.located(file, pos);
  }

  private ackNow(file: string, pos: bigint): void {
    this.flush();
    this.sink.ack(file, pos);
  }

  private switchFile(name: string, position: bigint): void {
    if (this.group !== null) {
      throw new ProtocolError('ERR_MALFORMED', `the dump switched to ${name} while a transaction of ${this.group.file} was open`);
    }
    if (this.tracker.inGroup) this.tracker.reset();
    const changed = name !== this.file;
    if (changed && this.catchingUp && this.target !== null && this.file === this.target.file && this.pos === this.target.pos) {
      this.targetFileEndedAtTarget = true;
    }
    if (changed) {
      this.fdeRaw = null;
      this.startState = null;
      if (!this.catchingUp && this.file !== null) this.newFilePending = true;
    }
    this.file = name;
    this.pos = position;
  }

  /** The start offset of a real event, and whether the primary skipped bytes before it. */
  private startOf(ev: BinlogEvent): bigint {
    this.jumped = false;
    const logPos32 = ev.logPos;
    if (logPos32 === 0) return this.pos;
    // The usual case, without bigint arithmetic (an allocation each): a position below 4 GiB continued.
    if (this.pos <= MAX_SAFE_POS && (Number(this.pos) + ev.raw.length) % 0x100000000 === logPos32) return this.pos;
    const size = BigInt(ev.raw.length);
    const logPos = BigInt(logPos32);
    const expectedEnd = this.pos + size;
    if ((expectedEnd & MASK32) === logPos) return this.pos;
    let end = (this.pos & ~MASK32) | logPos;
    if (end < expectedEnd) {
      if (expectedEnd <= MASK32) {
        throw new ProtocolError(
          'ERR_MALFORMED',
          `event (type ${ev.typeCode}) ends at ${logPos}, before the current position ${this.pos} of ${this.file}`,
        );
      }
      end += TWO32;
    }
    this.jumped = true;
    return end - size;
  }

  /** Catch-up: true when the event at (file, start) is the target (storing begins with it). */
  private reachedTarget(file: string, start: bigint): boolean {
    const t = this.target!;
    const order = compareFiles(file, t.file);
    if (order < 0) return false;
    if (order === 0) {
      if (start < t.pos) return false;
      if (start > t.pos) {
        throw new UpstreamError(
          t.newFile ? 'ERR_SYNCER_START' : 'ERR_UPSTREAM_DIVERGED',
          t.newFile
            ? `${t.file}:${t.pos} is not an event boundary (an event spans it, next event starts at ${start})`
            : `the primary's ${t.file} has no event boundary at ${t.pos}, where the stored binlog ends (next event starts at ${start}): its history differs from what was stored`,
        );
      }
      if (this.tracker.inGroup) {
        throw new UpstreamError(
          t.newFile ? 'ERR_SYNCER_START' : 'ERR_UPSTREAM_DIVERGED',
          `${t.file}:${t.pos} is inside a transaction on the primary`,
        );
      }
      this.catchingUp = false;
      if (t.newFile) {
        this.newFilePending = true;
      }
      return true;
    }
    // A later file: our target file ended before the target position (or exactly at it).
    if (t.newFile && !this.targetFileEndedAtTarget) {
      throw new UpstreamError('ERR_SYNCER_START', `${t.file} on the primary ends before position ${t.pos}`);
    }
    if (start !== 4n) {
      throw new UpstreamError('ERR_UPSTREAM_DIVERGED', `the primary resumed in ${file} at ${start} instead of ${t.file}:${t.pos}`);
    }
    if (!t.newFile) {
      this.sink.notice('the primary resumed in a later file than the stored one', { storedFile: t.file, storedEnd: t.pos.toString(), file });
    }
    this.catchingUp = false;
    this.tracker.reset();
    this.newFilePending = true;
    this.startState = null;
    return true;
  }

  /** A skipped event (before the target): keeps the GTID state of a fresh start up to date. */
  private skip(ev: BinlogEvent, file: string, end: bigint): void {
    const t = this.target!;
    const ctx = this.fde ?? this.currentAlg();
    const r = this.tracker.push(ev, ctx);
    if (t.newFile && file === t.file) {
      const type = ev.typeCode;
      if (type === PREVIOUS_GTIDS_LOG_EVENT && this.flavor === 'mysql') {
        this.startState = decodePreviousGtids(ev, ctx).gtidSet.clone();
      } else if (type === MARIADB_GTID_LIST_EVENT && this.flavor === 'mariadb') {
        this.startState = MariadbGtidPosition.fromList(decodeMariadbGtidList(ev, ctx).gtids);
      } else if (r.complete && r.gtid) {
        this.addStartGtid(r.gtid);
      }
    }
    this.pos = end;
  }

  private addStartGtid(g: MysqlGtid | MariadbGtid): void {
    this.startState ??= this.flavor === 'mysql' ? MysqlGtidSet.empty() : MariadbGtidPosition.empty();
    if (this.startState instanceof MysqlGtidSet) this.startState.add(g as MysqlGtid);
    else this.startState.advance(g as MariadbGtid);
  }

  private takeNewFile(ev: BinlogEvent, raw: Buffer, start: bigint): NewFileMeta | undefined {
    if (!this.newFilePending) return undefined;
    this.newFilePending = false;
    if (ev.typeCode === FORMAT_DESCRIPTION_EVENT && start === 4n) return { fde: raw };
    if (this.fdeRaw === null) {
      throw new ProtocolError('ERR_MALFORMED', `no FORMAT_DESCRIPTION_EVENT was sent for ${this.file} before its first event`);
    }
    const meta: NewFileMeta = { fde: this.fdeRaw };
    if (this.startState !== null) meta.startGtids = gtidStateText(this.startState);
    return meta;
  }

  private store(ev: BinlogEvent, raw: Buffer, file: string, start: bigint, end: bigint, needAck: boolean): void {
    const ctx = this.fde ?? this.currentAlg();
    const r = this.tracker.push(ev, ctx);
    this.pos = end;
    if (!r.complete && r.role === 'control') {
      const unit: SyncUnit = {
        file,
        pos: start,
        endPos: end,
        events: [raw],
        bytes: raw.length,
        kind: 'control',
        groupKind: null,
        eventType: ev.typeCode,
        gtid: null,
        timestamp: ev.timestamp,
      };
      const newFile = this.takeNewFile(ev, raw, start);
      if (newFile) unit.newFile = newFile;
      if (ev.typeCode === PREVIOUS_GTIDS_LOG_EVENT && this.flavor === 'mysql') {
        unit.fileStartGtids = decodePreviousGtids(ev, ctx).gtidSet.toString();
      } else if (ev.typeCode === MARIADB_GTID_LIST_EVENT && this.flavor === 'mariadb') {
        unit.fileStartGtids = MariadbGtidPosition.fromList(decodeMariadbGtidList(ev, ctx).gtids).toString();
      }
      this.emitUnit(unit);
      if (needAck) this.ackNow(file, end);
      return;
    }

    if (this.group === null) {
      this.group = {
        first: ev,
        file,
        pos: start,
        timestamp: ev.timestamp,
        events: [],
        bytes: 0,
        count: 0,
        streaming: false,
        newFile: this.takeNewFile(ev, raw, start),
        acks: [],
      };
    }
    const g = this.group;
    g.count++;
    g.bytes += raw.length;
    if (g.streaming) {
      this.flush();
      this.sink.largeEvent(raw);
    } else {
      g.events.push(raw);
      if (g.bytes > this.largeBytes && !r.complete) {
        this.flush();
        g.streaming = true;
        const meta: LargeBegin = { file: g.file, pos: g.pos, timestamp: g.timestamp, gtid: groupGtid(g.first, ctx) };
        if (g.newFile) meta.newFile = g.newFile;
        const events = g.events;
        g.events = [];
        this.sink.largeBegin(meta, events);
      }
    }
    if (needAck) g.acks.push(end);
    if (!r.complete) return;

    // Checked before the group closes (without holdUnits: a corrupted event leaves the transaction open).
    if (!this.holdUnits || g.streaming) this.flush();
    this.group = null;
    const gtid = r.gtid ?? null;
    if (g.streaming) {
      this.sink.largeEnd({ endPos: end, groupKind: r.kind, gtid, events: g.count, bytes: g.bytes });
    } else {
      const unit: SyncUnit = {
        file: g.file,
        pos: g.pos,
        endPos: end,
        events: g.events,
        bytes: g.bytes,
        kind: 'transaction',
        groupKind: r.kind,
        eventType: g.events[0]![4]!,
        gtid,
        timestamp: g.timestamp,
      };
      if (g.newFile) unit.newFile = g.newFile;
      this.emitUnit(unit);
    }
    for (const pos of g.acks) this.ackNow(file, pos);
  }
}

/** The GTID a group's first event names (null for ANONYMOUS_GTID and groups without a GTID event). */
function groupGtid(first: BinlogEvent, ctx: FormatDescription | number): MysqlGtid | MariadbGtid | null {
  const type = first.typeCode;
  if (type === GTID_LOG_EVENT || type === GTID_TAGGED_LOG_EVENT) return decodeMysqlGtid(first, ctx).gtid ?? null;
  if (type === MARIADB_GTID_EVENT) return decodeMariadbGtid(first, ctx).gtid;
  return null;
}

function isGroupStart(type: number): boolean {
  return type === GTID_LOG_EVENT || type === ANONYMOUS_GTID_LOG_EVENT || type === GTID_TAGGED_LOG_EVENT || type === MARIADB_GTID_EVENT;
}

