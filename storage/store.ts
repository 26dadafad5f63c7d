/**
 * BinlogStore: the durable, indexed log of the primary's binlog on LevelDB (classic-level). See index.ts for
 * the interface overview and keys.ts / records.ts for the layout.
 *
 * Writes. There is one writer (the syncer). `append()` validates a unit, gives it the next sequence, updates
 * the in-memory state at once and queues its records in the current *group*. A group becomes one LevelDB
 * batch written with `sync: true`: the units' segments, any file records, and a checkpoint of the state after
 * the group's last unit, so a crash keeps a whole group or none of it. Groups are written one at a time; in
 * 'group' durability an idle group waits at most `groupCommitDelayMs` (or until it holds `groupCommitBytes`,
 * or until someone calls waitDurable/flush), and the units appended while a group is being written form the
 * next group. In 'fsync' durability each append is its own write and resolves once it is on disk. A group of a
 * catch-up (externalGroupBytes, 1 MiB, or more) first writes its segments to the segment files and fsyncs
 * them; its batch then holds a 21-byte pointer in place of each segment (segment-files.ts).
 *
 * Visibility. Readers and look-ups see units only once they are durable (the batch that holds them was
 * fsync'd). Serving units that are merely written would let a replica apply a transaction that a power loss
 * could still take from the proxy; after the restart the proxy would fetch it again from the primary, but the
 * replica would already be ahead of the proxy's own log. Waiting for durability costs a group commit delay
 * (about 2 ms), which the semi-sync acknowledgement has to wait for anyway.
 *
 * serveBeforeSync (opt-in) trades that guarantee for latency: while readers are open, each whole (unchunked)
 * unit is copied into the tail cache as it is appended and the *visible* tip moves with it, so live readers get
 * it without waiting for the group commit delay or the fsync. Look-ups, file listings, durableSeq,
 * waitDurable() (semi-sync ACKs) and readers catching up from disk still go by the durable tip.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { badArgument, StorageError, writeFailed } from './errors.js';
import { containsGtid, coversStart, GtidTracker, parseGtidText, toGtidValue, type GtidValue } from './gtid-state.js';
import { checkpointKey, decodeLogKey, decodeMetaKey, fileKey, isCheckpointKey, isLogKey, logKey, logRange, MAX_CHUNK, metaKey, metaRange } from './keys.js';
import { lastChunkIndex, recordAt, searchUnits, type Db } from './log-io.js';
import { MetaSection } from './meta.js';
import { SharedReadCache, StoreReader, type CachedSegment, type ReaderHost } from './reader.js';
import {
  checkEventFraming,
  encodeCheckpoint,
  encodeFileRecord,
  encodePointer,
  eventSizeAt,
  gtidLength,
  recordSize,
  SEGMENT_FORMAT,
  singleRecordSegment,
  UuidCache,
  writeRecord,
  type AnyGtid,
  type CheckpointState,
  type FileRecord,
  type Flavor,
  type RecordMeta,
} from './records.js';
import { recover, type FileEntry, type RecoveryReport } from './recovery.js';
import { EXTERNAL_GROUP_BYTES, FILE_ROLL_BYTES, SegmentFiles } from './segment-files.js';
import { StreamedTransaction, type Prepared, type TransactionHost, type UnitHead } from './transaction.js';
import type {
  AppendResult,
  AppendUnit,
  FileInfo,
  Location,
  PurgeOptions,
  PurgeResult,
  ReadFrom,
  ReadItem,
  ReadOptions,
  StoreOptions,
  StoreState,
  TransactionMeta,
  TransactionWriter,
} from './types.js';
import { Mutex, SlabPool, TailCache, WriteGroup, type BatchOp, type Tip } from './write-path.js';

const U32_MAX = 0xffffffff;

interface ResolvedOptions {
  flavor: Flavor | undefined;
  externalGroupBytes: number;
  segmentFileBytes: number;
  create: boolean;
  durability: 'group' | 'fsync';
  groupCommitDelayMs: number;
  groupCommitBytes: number;
  maxPendingBytes: number;
  segmentBytes: number;
  chunkBytes: number;
  checkpointBytes: number;
  checkpointUnits: number;
  tailCacheBytes: number;
  readCacheBytes: number;
  onReadCacheEvict: ((bytes: number) => void) | undefined;
  onGroupWrite: ((seconds: number) => void) | undefined;
  readBatchBytes: number;
  leveldb: NonNullable<StoreOptions['leveldb']>;
  serveBeforeSync: boolean;
}

function positiveInt(v: number | undefined, dflt: number, name: string, min = 1): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < min) throw badArgument(`option ${name} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

function resolveOptions(o: StoreOptions): ResolvedOptions {
  if (o.flavor !== undefined && o.flavor !== 'mysql' && o.flavor !== 'mariadb') throw badArgument(`unknown flavor '${String(o.flavor)}'`);
  if (o.durability !== undefined && o.durability !== 'group' && o.durability !== 'fsync') {
    throw badArgument(`unknown durability '${String(o.durability)}'`);
  }
  const groupCommitBytes = positiveInt(o.groupCommitBytes, 512 << 10, 'groupCommitBytes');
  return {
    flavor: o.flavor,
    create: o.create ?? true,
    durability: o.durability ?? 'group',
    groupCommitDelayMs: positiveInt(o.groupCommitDelayMs, 2, 'groupCommitDelayMs', 0),
    groupCommitBytes,
    maxPendingBytes: positiveInt(o.maxPendingBytes, Math.max(16 << 20, 2 * groupCommitBytes), 'maxPendingBytes'),
    segmentBytes: positiveInt(o.segmentBytes, 64 << 10, 'segmentBytes', 1024),
    chunkBytes: positiveInt(o.chunkBytes, 1 << 20, 'chunkBytes', 1024),
    checkpointBytes: positiveInt(o.checkpointBytes, 4 << 20, 'checkpointBytes'),
    checkpointUnits: positiveInt(o.checkpointUnits, 4096, 'checkpointUnits'),
    tailCacheBytes: positiveInt(o.tailCacheBytes, 4 << 20, 'tailCacheBytes', 0),
    readCacheBytes: positiveInt(o.readCacheBytes, 16 << 20, 'readCacheBytes', 0),
    onReadCacheEvict: o.onReadCacheEvict,
    onGroupWrite: o.onGroupWrite,
    readBatchBytes: positiveInt(o.readBatchBytes, 1 << 20, 'readBatchBytes', 1024),
    // Not with LevelDB's compression: it would not see the bytes of segments kept outside.
    externalGroupBytes: o.leveldb?.compression === true ? 0 : positiveInt(o.externalGroupBytes, EXTERNAL_GROUP_BYTES, 'externalGroupBytes', 0),
    segmentFileBytes: positiveInt(o.segmentFileBytes, FILE_ROLL_BYTES, 'segmentFileBytes', 1),
    leveldb: o.leveldb ?? {},
    serveBeforeSync: o.serveBeforeSync === true,
  };
}

interface DurableWaiter {
  seq: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Copies segments (views into slabs) into one buffer of their exact total size. */
function copySegments(segs: readonly CachedSegment[]): CachedSegment[] {
  let total = 0;
  for (const s of segs) total += s.value.length;
  const buf = Buffer.allocUnsafeSlow(total);
  let off = 0;
  return segs.map((s) => {
    const value = buf.subarray(off, off + s.value.length);
    off += s.value.copy(buf, off);
    return { keySeq: s.keySeq, keySub: s.keySub, value, lastSeq: s.lastSeq };
  });
}

/**
 * LevelDB's max_open_files by default: its minimum, a table cache of 64 tables. LevelDB maps each open table
 * file into memory, and every page a reader touched counts in the daemon's RSS until the table is closed: with
 * classic-level's default (1000) a replica catching up through a long history left up to ~1000 tables of ~4 MB
 * mapped. With 64, at most 64 tables; a table closed early costs one open (footer and index) when read again.
 */
const DEFAULT_MAX_OPEN_FILES = 74;
/**
 * Table size by default: 1 MiB memtables (LevelDB's write_buffer_size) flushed into tables of at most 1 MiB
 * (max_file_size), so the 64 mapped tables hold at most ~64 MB of a long history instead of ~256 MB (4 MiB
 * memtables) or ~128 MB (compaction's 2 MiB). Fifty replicas catching up on the bench's 92 MB history: peak RSS
 * 286-322 -> 262-272 MB, the mapped tables' share 86-92 -> 61-66 MB; the ingest's CPU time did not change
 * (1.05-1.14 s both ways, bench/run.ts --only 1). The price is twice as many table files as with 2 MiB.
 */
const DEFAULT_TABLE_BYTES = 1 << 20;
/** The segment files' directory, inside the store's directory (LevelDB leaves names it does not know alone). */
const SEGMENTS_DIR = 'segments';

function mapOpenError(err: unknown, dir: string): StorageError {
  const codes = [(err as { code?: unknown })?.code, (err as { cause?: { code?: unknown } })?.cause?.code];
  if (codes.includes('LEVEL_LOCKED')) return new StorageError('ERR_STORAGE_LOCKED', `store ${dir} is in use by another process`, { cause: err });
  if (codes.includes('LEVEL_CORRUPTION')) return new StorageError('ERR_STORAGE_CORRUPT', `LevelDB reports corruption in ${dir}`, { cause: err });
  return new StorageError('ERR_STORAGE_IO', `cannot open LevelDB in ${dir}`, { cause: err });
}

/**
 * Opens (or creates) the store in `dir`, a directory dedicated to it. Checks the format version and the
 * consistency of data, indexes and state, removes orphan chunks and finishes an interrupted purge.
 */
export async function openStore(dir: string, options: StoreOptions = {}): Promise<BinlogStore> {
  const opts = resolveOptions(options);
  let entries: string[] | null = null;
  try {
    entries = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new StorageError('ERR_STORAGE_FORMAT', `not a binlog-proxy store: ${dir} is not a directory`, { cause: err });
    if (code !== 'ENOENT') throw new StorageError('ERR_STORAGE_IO', `cannot read ${dir}`, { cause: err });
  }
  if ((entries === null || entries.length === 0) && !opts.create) {
    throw new StorageError('ERR_STORAGE_FORMAT', `no store in ${dir} (and create is false)`);
  }
  if (entries !== null && entries.length > 0 && !entries.includes('CURRENT')) {
    throw new StorageError('ERR_STORAGE_FORMAT', `not a binlog-proxy store: ${dir} holds files but no LevelDB database (no CURRENT)`);
  }
  const ldb = opts.leveldb;
  const db: Db = new ClassicLevel<Buffer, Buffer>(dir, {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
    createIfMissing: opts.create,
    // Off unless asked for: snappy cost a catching-up reader ~25% more CPU (its blocks are decompressed on every
    // read) for the space of binlog events, which the primary keeps uncompressed too (bench/run.ts, 2b).
    compression: ldb.compression ?? false,
    writeBufferSize: ldb.writeBufferSize ?? DEFAULT_TABLE_BYTES,
    maxFileSize: ldb.maxFileSize ?? DEFAULT_TABLE_BYTES,
    ...(ldb.cacheSize !== undefined ? { cacheSize: ldb.cacheSize } : {}),
    maxOpenFiles: ldb.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES,
  });
  try {
    await db.open();
  } catch (err) {
    throw mapOpenError(err, dir);
  }
  const uuids = new UuidCache();
  let ok = false;
  let segs: SegmentFiles | null = null;
  try {
    segs = await SegmentFiles.open(path.join(dir, SEGMENTS_DIR), opts.segmentFileBytes);
    const rec = await recover(db, segs, opts.flavor, uuids);
    const store = new BinlogStore(dir, db, segs, opts, rec.state, rec.executed, rec.files, rec.report);
    ok = true;
    return store;
  } catch (err) {
    if (err instanceof StorageError) throw err;
    throw new StorageError('ERR_STORAGE_CORRUPT', `cannot open the store in ${dir}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  } finally {
    if (!ok) {
      await segs?.close();
      await db.close();
    }
  }
}

export class BinlogStore {
  /** What opening found and did. */
  readonly recovery: RecoveryReport;

  private readonly uuids = new UuidCache();
  // Set by adopt(), from the constructor and again after recoverWrites().
  private flavor!: Flavor | null;
  private firstSeq!: number;
  private lastSeq!: number;
  private lastFileNo!: number;
  private nextFileNo!: number;
  private lastPos!: bigint;
  private lastTimestamp!: number;
  private maxTimestamp!: number;
  private executed!: GtidTracker | null;
  private purgedText!: string;

  private files!: FileEntry[];
  private readonly byName = new Map<string, FileEntry>();
  private readonly byNo = new Map<number, FileEntry>();
  private startCache = new WeakMap<FileEntry, GtidValue>();

  private durable: Tip;
  /** The last unit readers may get: the durable tip, or (serveBeforeSync) a later unit in the tail cache. */
  private visibleSeq: number;
  private group = new WriteGroup();
  private inFlight: Promise<void> | null = null;
  /**
   * The idle group's pending write: a timer, or for a delay of 0 an immediate. setTimeout(fn, 0) waits 1 ms
   * (Node's minimum), which every live commit paid; setImmediate runs after the current I/O callbacks, so the
   * group still holds all the units of one socket read.
   */
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private readonly onFlushTimer = (): void => {
    this.timer = null;
    this.startFlush();
  };
  private readonly writeLock = new Mutex();
  private readonly purgeLock = new Mutex();
  private durableWaiters: DurableWaiter[] = [];
  private readonly changeWaiters = new Set<() => void>();
  private checkpointDue = false;
  private bytesSinceCheckpoint = 0;
  private unitsSinceCheckpoint = 0;
  private writeFailure: StorageError | null = null;
  /** Set while recoverWrites() has LevelDB closed and could not open it again. */
  private dbReopenPending = false;
  private recovering: Promise<void> | null = null;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private txn: StreamedTransaction | null = null;
  private readonly readers = new Set<StoreReader<ReadItem>>();
  private readonly tail: TailCache;
  private readonly slabs: SlabPool;
  private readonly host: ReaderHost;
  private readonly txnHost: TransactionHost;

  /** Use openStore(). */
  constructor(
    readonly dir: string,
    private readonly db: Db,
    private readonly segs: SegmentFiles,
    private readonly opts: ResolvedOptions,
    s: CheckpointState,
    executed: GtidTracker | null,
    files: FileEntry[],
    report: RecoveryReport,
  ) {
    this.recovery = report;
    this.durable = this.adopt(s, executed, files);
    this.visibleSeq = this.durable.seq;
    this.tail = new TailCache(opts.tailCacheBytes);
    const slabBytes = Math.max(256 << 10, 4 * opts.segmentBytes);
    // The pool keeps what a burst uses (maxPendingBytes queued behind a write, plus a group): a smaller pool
    // drops slabs after every large group, and that churn of 256 KiB buffers left ~60 MB of ArrayBuffers
    // waiting for a GC and a fragmented malloc heap after an ingest (measured: 165 MB anonymous RSS instead
    // of 125 MB).
    this.slabs = new SlabPool(slabBytes, Math.ceil((opts.maxPendingBytes + opts.groupCommitBytes) / slabBytes) + 4);
    // Replayed units are not covered by a checkpoint yet: count them towards the next one.
    this.unitsSinceCheckpoint = report.unitsReplayed;
    this.host = {
      db,
      segs,
      readCache: opts.readCacheBytes > 0 ? new SharedReadCache(opts.readCacheBytes, opts.onReadCacheEvict) : null,
      readerCount: () => this.readers.size,
      durableSeq: () => this.durable.seq,
      visibleSeq: () => this.visibleSeq,
      isClosed: () => this.state !== 'open',
      failure: () => this.writeFailure,
      fileName: (fileNo) => this.byNo.get(fileNo)?.rec.name ?? `#${fileNo}`,
      cachedFrom: (seq, maxBytes) => this.tail.from(seq, maxBytes),
      addWaiter: (seq, wake, durable) => this.addWaiter(seq, wake, durable === true),
      removeWaiter: (wake) => {
        this.changeWaiters.delete(wake);
      },
      unregister: (reader) => {
        this.readers.delete(reader);
      },
    };
    this.txnHost = {
      chunkBytes: opts.chunkBytes,
      uuids: this.uuids,
      maxTimestamp: () => this.maxTimestamp,
      writeStagedChunk: (seq, chunk, value) => this.writeStagedChunk(seq, chunk, value),
      commitStaged: (t, lastChunk, value, endPos, dataLength, maxTs) => this.commitStaged(t, lastChunk, value, endPos, dataLength, maxTs),
      abortStaged: (t, chunks) => this.abortStaged(t, chunks),
    };
  }

  /** Takes over a recovered state (at open, and after recoverWrites()); returns the durable tip. */
  private adopt(s: CheckpointState, executed: GtidTracker | null, files: FileEntry[]): Tip {
    this.host?.readCache?.clear();
    this.flavor = s.flavor;
    this.firstSeq = s.firstSeq;
    this.lastSeq = s.lastSeq;
    this.lastFileNo = s.lastFileNo;
    this.nextFileNo = s.nextFileNo;
    this.lastPos = s.lastPos;
    this.lastTimestamp = s.lastTimestamp;
    this.maxTimestamp = s.maxTimestamp;
    this.executed = executed;
    this.purgedText = s.purged;
    this.files = files;
    this.byName.clear();
    this.byNo.clear();
    for (const f of files) {
      this.byName.set(f.rec.name, f);
      this.byNo.set(f.rec.fileNo, f);
    }
    return { seq: s.lastSeq, fileNo: s.lastFileNo, pos: s.lastPos, timestamp: s.lastTimestamp };
  }

  // ---- state -------------------------------------------------------------------------------------------

  /** The state after the last append (durableSeq tells how much of it is on disk). */
  getState(): StoreState {
    const cur = this.byNo.get(this.lastFileNo);
    return {
      flavor: this.flavor,
      firstSeq: this.firstSeq,
      lastSeq: this.lastSeq,
      durableSeq: this.durable.seq,
      lastFile: cur?.rec.name ?? null,
      lastPos: this.lastPos,
      executedGtids: this.executed?.toString() ?? '',
      purgedGtids: this.purgedText,
    };
  }

  /**
   * Fixes the flavour of a store created without one: the daemon opens its store before it knows what
   * the primary is, and the syncer sets it when it first connects. Allowed once, before the first append;
   * the same flavour again is a no-op, another one is refused (ERR_STORAGE_FLAVOR).
   */
  async setFlavor(flavor: Flavor): Promise<void> {
    this.checkOpen();
    if (flavor !== 'mysql' && flavor !== 'mariadb') throw new StorageError('ERR_STORAGE_ARGUMENT', `unknown flavor '${String(flavor)}'`);
    if (this.flavor === flavor) return;
    if (this.flavor !== null) {
      throw new StorageError('ERR_STORAGE_FLAVOR', `the store holds ${this.flavor} binlogs; cannot switch it to ${flavor}`);
    }
    if (this.lastSeq !== 0) throw new StorageError('ERR_STORAGE_FLAVOR', 'the store has units but no flavour');
    this.flavor = flavor;
    this.executed = GtidTracker.fromStored(flavor, '', 'initial executed GTIDs');
    await this.db.put(checkpointKey(this.lastSeq), encodeCheckpoint(this.snapshot()), { sync: true });
  }

  /** The shared read cache's size (StoreOptions.readCacheBytes; 0: none). */
  get readCacheBytes(): number {
    return this.opts.readCacheBytes;
  }

  get durableSeq(): number {
    return this.durable.seq;
  }

  /** The last unit appended (getState().lastSeq without building the state). */
  get appendedSeq(): number {
    return this.lastSeq;
  }

  /**
   * The stored files, oldest first (only files with at least one durable unit; with serveBeforeSync, one that
   * readers can see: a dump that follows the stream into a new file looks its FDE up here).
   */
  listFiles(): FileInfo[] {
    return this.visibleFiles().map((f) => this.fileInfo(f));
  }

  getFile(name: string): FileInfo | undefined {
    const f = this.byName.get(name);
    return f === undefined || f.rec.firstSeq > this.visibleSeq ? undefined : this.fileInfo(f);
  }

  private visibleFiles(): FileEntry[] {
    return this.files.filter((f) => f.rec.firstSeq <= this.visibleSeq);
  }

  /**
   * Durable view of a file: its last unit and end, bounded by the durable tip. A file counts as closed once the
   * next file's first unit is durable (before that it is still the newest file readers can see).
   */
  private fileView(f: FileEntry): { lastSeq: number; endPos: bigint; lastTimestamp: number; closed: boolean } {
    // serveBeforeSync: a file whose first unit readers see but which is not durable yet has no durable part.
    if (f.rec.firstSeq > this.durable.seq) {
      return { lastSeq: f.rec.firstSeq - 1, endPos: f.rec.firstPos, lastTimestamp: f.rec.firstTimestamp, closed: false };
    }
    if (f.end !== null && f.end.lastSeq < this.durable.seq) {
      return { lastSeq: f.end.lastSeq, endPos: f.end.endPos, lastTimestamp: f.end.lastTimestamp, closed: true };
    }
    return { lastSeq: this.durable.seq, endPos: this.durable.pos, lastTimestamp: this.durable.timestamp, closed: false };
  }

  private fileInfo(f: FileEntry): FileInfo {
    const v = this.fileView(f);
    return {
      name: f.rec.name,
      fileNo: f.rec.fileNo,
      firstSeq: f.rec.firstSeq,
      lastSeq: v.lastSeq,
      firstPos: f.rec.firstPos,
      endPos: v.endPos,
      storedBytes: v.endPos - f.rec.firstPos,
      active: !v.closed,
      fde: f.rec.fde,
      startGtids: f.rec.startGtids,
      gtidsAtStart: this.gtidsAtStart(f).toString(),
      gtidsAtEnd: v.closed ? f.end!.gtids : null,
      firstTimestamp: f.rec.firstTimestamp,
      lastTimestamp: v.lastTimestamp,
    };
  }

  /** Executed GTIDs at the start of a file: the state before it ∪ its own start GTIDs. */
  private gtidsAtStart(f: FileEntry): GtidValue {
    const cached = this.startCache.get(f);
    if (cached !== undefined) return cached;
    const flavor = this.requireFlavor();
    const t = GtidTracker.fromStored(flavor, f.rec.gtidsBefore, `GTIDs before file ${f.rec.name}`);
    if (f.rec.startGtids !== null) t.mergeStart(parseGtidText(flavor, f.rec.startGtids, 'ERR_STORAGE_CORRUPT', `start GTIDs of file ${f.rec.name}`));
    this.startCache.set(f, t.current);
    return t.current;
  }

  private requireFlavor(): Flavor {
    if (this.flavor === null) throw new StorageError('ERR_STORAGE_FLAVOR', 'the store has no flavour yet: open it with { flavor }');
    return this.flavor;
  }

  private checkOpen(): void {
    if (this.state !== 'open') throw new StorageError('ERR_STORAGE_CLOSED', `store ${this.dir} is closed`);
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.writeFailure !== null) throw this.writeFailure;
  }

  // ---- append ------------------------------------------------------------------------------------------

  /**
   * Appends one unit. Resolves with its sequence once it is queued ('group': may wait when too much is queued)
   * or once it is durable ('fsync'). Throws ERR_STORAGE_APPEND / ERR_STORAGE_FLAVOR without changing anything
   * when the unit does not continue the log.
   */
  append(unit: AppendUnit): Promise<AppendResult> {
    // Not an async function: the usual append resolves with one promise and no extra ticks.
    let result: AppendResult;
    try {
      result = this.appendNow(unit);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.afterAppend(result);
  }

  /** The synchronous part of append(): validates, queues the records, updates the state. */
  private appendNow(unit: AppendUnit): AppendResult {
    this.checkWritable();
    if (this.txn !== null) throw new StorageError('ERR_STORAGE_BUSY', 'a streamed transaction is open');
    const prep = this.prepare(unit);
    if (!Array.isArray(unit.events) || unit.events.length === 0) throw new StorageError('ERR_STORAGE_APPEND', 'a unit needs at least one event');
    let dataLength = 0;
    for (let i = 0; i < unit.events.length; i++) {
      checkEventFraming(unit.events[i]!, i);
      dataLength += unit.events[i]!.length;
    }
    const seq = this.lastSeq + 1;
    // The usual unit is one chunk: no splitting (no arrays or objects for it).
    const chunks = dataLength <= this.opts.chunkBytes ? [{ events: unit.events, bytes: dataLength }] : this.splitChunks(unit.events);
    this.startUnit(unit, prep, seq);
    const maxTs = Math.max(this.maxTimestamp, unit.timestamp);
    let pos = unit.pos;
    let recordStart = -1;
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]!;
      const meta: RecordMeta = {
        kind: unit.kind,
        last: i === chunks.length - 1,
        gtid: prep.gtid,
        gtidLen: prep.gtidLen,
        fileNo: this.lastFileNo,
        pos,
        unitPos: unit.pos,
        chunk: i,
        timestamp: unit.timestamp,
        maxTimestamp: maxTs,
      };
      recordStart = this.addRecord(seq, i, chunks.length > 1, meta, c.events, c.bytes);
      pos += BigInt(c.bytes);
    }
    this.finishUnit(seq, pos, unit.timestamp, maxTs, prep.gtid, dataLength);
    if (this.opts.serveBeforeSync && recordStart >= 0) this.publishEarly(seq, recordStart);
    return { seq, endPos: pos };
  }

  /** Queues the write and applies backpressure / durability. */
  private afterAppend(result: AppendResult): Promise<AppendResult> {
    if (this.opts.durability === 'fsync') return this.waitDurable(result.seq).then(() => result);
    this.scheduleFlush();
    if ((this.group.dataBytes >= this.opts.maxPendingBytes && this.inFlight !== null) || this.writeFailure !== null) {
      return this.backpressure(result);
    }
    return Promise.resolve(result);
  }

  private async backpressure(result: AppendResult): Promise<AppendResult> {
    while (this.group.dataBytes >= this.opts.maxPendingBytes && this.inFlight !== null) await this.inFlight;
    if (this.writeFailure !== null) throw this.writeFailure;
    return result;
  }

  /** Validates a unit head against the log; throws before anything changes. */
  private prepare(u: UnitHead): Prepared {
    const flavor = this.requireFlavor();
    const bad = (msg: string): StorageError => new StorageError('ERR_STORAGE_APPEND', msg);
    if (typeof u.file !== 'string' || u.file.length === 0 || Buffer.byteLength(u.file) > 0xffff) throw bad(`invalid file name '${String(u.file)}'`);
    if (typeof u.pos !== 'bigint' || u.pos < 0n || u.pos > 0xffffffffffffffffn) throw bad(`invalid position ${String(u.pos)}`);
    if (u.kind !== 'transaction' && u.kind !== 'control') throw bad(`invalid kind '${String(u.kind)}'`);
    if (!Number.isInteger(u.timestamp) || u.timestamp < 0 || u.timestamp > U32_MAX) throw bad(`invalid timestamp ${String(u.timestamp)}`);
    const gtid = u.gtid ?? null;
    if (gtid !== null && u.kind !== 'transaction') throw bad('only transactions carry a GTID');
    const gtidLen = gtidLength(gtid, flavor, this.uuids);
    let startValue: GtidValue | null = null;
    if (u.newFile !== undefined) {
      if (!Buffer.isBuffer(u.newFile.fde) || u.newFile.fde.length < 19) throw bad(`newFile for ${u.file}: the FDE must be the event's bytes`);
      if (this.byName.has(u.file)) throw bad(`file ${u.file} is already stored; a new file needs a new name`);
      if (u.newFile.startGtids !== undefined) startValue = parseGtidText(flavor, u.newFile.startGtids, 'ERR_STORAGE_APPEND', `start GTIDs of ${u.file}`);
    } else {
      const cur = this.byNo.get(this.lastFileNo);
      if (cur === undefined) throw bad(`the first unit stored must carry newFile (got ${u.file}:${u.pos})`);
      if (cur.rec.name !== u.file) throw bad(`unit for file ${u.file} but the log is in ${cur.rec.name} (a new file needs newFile)`);
      if (u.pos !== this.lastPos) throw bad(`unit at ${u.file}:${u.pos} does not continue the log, which ends at ${this.lastPos}`);
    }
    let fileStartValue: GtidValue | null = null;
    if (u.fileStartGtids !== undefined) {
      if (u.kind !== 'control') throw bad('fileStartGtids belongs on the PREVIOUS_GTIDS / GTID_LIST control unit');
      fileStartValue = parseGtidText(flavor, u.fileStartGtids, 'ERR_STORAGE_APPEND', `fileStartGtids of ${u.file}`);
    }
    return { gtid, gtidLen, startValue, fileStartValue };
  }

  /** File bookkeeping of a unit about to get `seq` (after prepare() passed). */
  private startUnit(u: UnitHead, prep: Prepared, seq: number): void {
    if (u.newFile !== undefined) {
      this.sealOpenSegment();
      const prev = this.byNo.get(this.lastFileNo);
      const executedText = this.executed?.toString() ?? '';
      if (prev !== undefined) {
        prev.end = { lastSeq: this.lastSeq, endPos: this.lastPos, lastTimestamp: this.lastTimestamp, gtids: executedText };
        // The previous file's end state: the base of the new file, kept by purges.
        this.group.ops.push({ type: 'put', key: checkpointKey(this.lastSeq), value: encodeCheckpoint(this.snapshot()) });
      }
      const rec: FileRecord = {
        fileNo: this.nextFileNo++,
        name: u.file,
        firstSeq: seq,
        firstPos: u.pos,
        firstTimestamp: u.timestamp,
        startGtids: u.newFile.startGtids ?? null,
        gtidsBefore: executedText,
        fde: Buffer.from(u.newFile.fde),
      };
      const entry: FileEntry = { rec, end: null };
      this.files.push(entry);
      this.byName.set(rec.name, entry);
      this.byNo.set(rec.fileNo, entry);
      this.group.ops.push({ type: 'put', key: fileKey(rec.fileNo), value: encodeFileRecord(rec) });
      this.lastFileNo = rec.fileNo;
      this.lastPos = u.pos;
      if (prep.startValue !== null) this.executed!.mergeStart(prep.startValue);
      if (this.files.length === 1) this.refreshPurged();
      this.checkpointDue = true;
    }
    if (prep.fileStartValue !== null) {
      const cur = this.byNo.get(this.lastFileNo)!;
      cur.rec.startGtids = u.fileStartGtids!;
      this.startCache.delete(cur);
      this.group.ops.push({ type: 'put', key: fileKey(cur.rec.fileNo), value: encodeFileRecord(cur.rec) });
      this.executed!.mergeStart(prep.fileStartValue);
      if (cur === this.files[0]) this.refreshPurged();
      this.checkpointDue = true;
    }
  }

  private finishUnit(seq: number, endPos: bigint, timestamp: number, maxTs: number, gtid: AnyGtid | null, dataLength: number): void {
    this.lastSeq = seq;
    this.lastPos = endPos;
    this.lastTimestamp = timestamp;
    this.maxTimestamp = maxTs;
    if (gtid !== null) this.executed!.add(gtid);
    const g = this.group;
    if (g.units === 0) g.startedAt = performance.now();
    g.units++;
    g.dataBytes += dataLength;
    g.tip = { seq, fileNo: this.lastFileNo, pos: endPos, timestamp };
  }

  private refreshPurged(): void {
    const oldest = this.files[0];
    if (oldest !== undefined) this.purgedText = this.gtidsAtStart(oldest).toString();
  }

  private snapshot(): CheckpointState {
    return {
      flavor: this.flavor,
      lastSeq: this.lastSeq,
      firstSeq: this.firstSeq,
      lastFileNo: this.lastFileNo,
      nextFileNo: this.nextFileNo,
      lastPos: this.lastPos,
      lastTimestamp: this.lastTimestamp,
      maxTimestamp: this.maxTimestamp,
      executed: this.executed?.toString() ?? '',
      purged: this.purgedText,
    };
  }

  /** Groups whole events into chunks of at most chunkBytes (an event larger than that is a chunk alone). */
  private splitChunks(events: Buffer[]): Array<{ events: Buffer[]; bytes: number }> {
    const out: Array<{ events: Buffer[]; bytes: number }> = [];
    let cur: { events: Buffer[]; bytes: number } = { events: [], bytes: 0 };
    for (const ev of events) {
      if (cur.bytes > 0 && cur.bytes + ev.length > this.opts.chunkBytes) {
        out.push(cur);
        cur = { events: [], bytes: 0 };
      }
      cur.events.push(ev);
      cur.bytes += ev.length;
    }
    out.push(cur);
    if (out.length > MAX_CHUNK) throw new StorageError('ERR_STORAGE_APPEND', `unit of ${out.length} chunks`);
    return out;
  }

  /**
   * Queues one record (copying its events): into the open segment, or alone in its own value when the unit
   * is chunked. Segments are packed into pooled slabs; a record larger than a slab gets a buffer of its own.
   */
  private addRecord(seq: number, chunk: number, alone: boolean, meta: RecordMeta, events: readonly Buffer[], dataBytes: number): number {
    const g = this.group;
    if (alone) {
      this.sealOpenSegment();
      g.ops.push({ type: 'put', key: logKey(seq, chunk), value: singleRecordSegment(meta, events, dataBytes, this.uuids) });
      g.hasChunks = true;
      return -1;
    }
    const size = recordSize(meta, dataBytes);
    let o = g.open;
    if (o !== null && (o.end - o.start + size > this.opts.segmentBytes || o.end + size > o.slab.length)) {
      this.sealOpenSegment();
      o = null;
    }
    if (o === null) {
      const need = 1 + size;
      let slab = g.slab;
      let start = g.slabPos;
      if (slab === null || start + need > slab.length) {
        if (need <= this.slabs.slabBytes) {
          slab = this.slabs.take();
          g.slabs.push(slab);
        } else {
          slab = Buffer.allocUnsafeSlow(need);
        }
        g.slab = slab;
        start = 0;
      }
      slab[start] = SEGMENT_FORMAT;
      o = g.open = { keySeq: seq, slab, start, end: start + 1, lastSeq: seq };
    }
    const start = o.end;
    o.end = writeRecord(o.slab, o.end, meta, events, dataBytes, this.uuids);
    o.lastSeq = seq;
    g.slabPos = o.end;
    return start;
  }

  /**
   * serveBeforeSync: makes the unit just appended (one record at `start` in the open segment) visible to live
   * readers at once, through a one-unit segment in the tail cache. Only when it directly follows what is
   * visible (a chunked unit, or units appended while no reader was open, become visible once durable).
   */
  private publishEarly(seq: number, start: number): void {
    if (this.readers.size === 0 || this.opts.tailCacheBytes === 0 || this.visibleSeq !== seq - 1) return;
    const o = this.group.open!;
    const value = Buffer.allocUnsafe(1 + o.end - start);
    value[0] = SEGMENT_FORMAT;
    o.slab.copy(value, 1, start, o.end);
    this.tail.add([{ keySeq: seq, keySub: 0, value, lastSeq: seq }]);
    this.visibleSeq = seq;
    this.notifyChange();
  }

  private sealOpenSegment(): void {
    const g = this.group;
    const o = g.open;
    if (o === null) return;
    g.open = null;
    const value = o.slab.subarray(o.start, o.end);
    g.ops.push({ type: 'put', key: logKey(o.keySeq, 0), value });
    g.segments.push({ keySeq: o.keySeq, keySub: 0, value, lastSeq: o.lastSeq });
  }

  // ---- group commit ------------------------------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.inFlight !== null || this.group.empty) return; // the write in progress starts the next one
    if (this.group.dataBytes >= this.opts.groupCommitBytes) {
      this.startFlush();
      return;
    }
    if (this.timer === null) {
      const delay = this.opts.groupCommitDelayMs;
      this.timer = delay === 0 ? setImmediate(this.onFlushTimer) : setTimeout(this.onFlushTimer, delay);
    }
  }

  private cancelTimer(): void {
    const t = this.timer;
    if (t === null) return;
    this.timer = null;
    if ('refresh' in t) clearTimeout(t);
    else clearImmediate(t);
  }

  /** Writes the current group now, unless a write is in progress (then it follows that write). */
  private startFlush(): void {
    if (this.inFlight !== null || this.writeFailure !== null) return;
    this.cancelTimer();
    const g = this.group;
    if (g.empty && !this.checkpointDue) return;
    this.sealOpenSegment();
    this.bytesSinceCheckpoint += g.dataBytes;
    this.unitsSinceCheckpoint += g.units;
    if (
      this.checkpointDue ||
      g.hasChunks ||
      this.bytesSinceCheckpoint >= this.opts.checkpointBytes ||
      this.unitsSinceCheckpoint >= this.opts.checkpointUnits
    ) {
      g.ops.push({ type: 'put', key: checkpointKey(this.lastSeq), value: encodeCheckpoint(this.snapshot()) });
      this.checkpointDue = false;
      this.bytesSinceCheckpoint = 0;
      this.unitsSinceCheckpoint = 0;
    }
    this.group = new WriteGroup();
    const startedAt = performance.now();
    this.inFlight = this.writeLock
      .run(() => this.writeGroup(g))
      .then(
        () => {
          this.opts.onGroupWrite?.((performance.now() - startedAt) / 1000);
          this.groupDurable(g);
        },
        (err: unknown) => this.failWrites(err),
      )
      .finally(() => {
        this.inFlight = null;
        if (!this.group.empty || this.checkpointDue) this.startFlush();
      });
  }

  /**
   * The group's one synced LevelDB batch; first, for a big group, its segments go to the segment files and
   * their log values become pointers (segment-files.ts: LevelDB then writes 21 bytes per segment instead of
   * the segment twice).
   */
  private async writeGroup(g: WriteGroup): Promise<void> {
    const min = this.opts.externalGroupBytes;
    if (min > 0 && g.dataBytes >= min) await this.moveSegmentsOut(g.ops);
    await this.db.batch(g.ops, { sync: true });
  }

  /**
   * Writes the inline segments among `ops` to the segment files and puts their pointers in their place. The
   * segments of each binlog file start a segment file of their own (a purge removes whole binlog files).
   */
  private async moveSegmentsOut(ops: BatchOp[]): Promise<void> {
    const found: Array<{ at: number; seq: number; sub: number; value: Buffer }> = [];
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (op.type === 'put' && isLogKey(op.key) && !isCheckpointKey(op.key) && op.value[0] === SEGMENT_FORMAT) {
        const k = decodeLogKey(op.key);
        found.push({ at: i, seq: k.seq, sub: k.sub, value: op.value });
      }
    }
    if (found.length === 0) return;
    const fileStarts = new Set<number>();
    for (let i = this.files.length - 1; i >= 0 && this.files[i]!.rec.firstSeq >= found[0]!.seq; i--) fileStarts.add(this.files[i]!.rec.firstSeq);
    const startsFile = (f: { seq: number; sub: number }): boolean => f.sub === 0 && fileStarts.has(f.seq);
    for (let from = 0; from < found.length; ) {
      let to = from + 1;
      while (to < found.length && !startsFile(found[to]!)) to++;
      const run = found.slice(from, to);
      const pointers = await this.segs.append(run[0]!.seq, run.map((f) => f.value), startsFile(run[0]!));
      run.forEach((f, k) => (ops[f.at] = { type: 'put', key: ops[f.at]!.key, value: encodePointer(pointers[k]!) }));
      from = to;
    }
  }

  private groupDurable(g: WriteGroup): void {
    if (g.tip !== null) this.durable = g.tip;
    // With live readers the segments go to the tail cache, copied into one exact-size buffer (readers get
    // zero-copy views of it, so it is never reused, and the cache counts exactly what it holds). The slabs
    // themselves are free again: LevelDB has the batch.
    // With serveBeforeSync the cache holds the units as appended (and only a contiguous run up to visibleSeq).
    if (g.hasChunks) this.tail.reset();
    else if (!this.opts.serveBeforeSync && this.readers.size > 0 && this.opts.tailCacheBytes > 0) this.tail.add(copySegments(g.segments));
    if (this.visibleSeq < this.durable.seq) this.visibleSeq = this.durable.seq;
    this.slabs.give(g.slabs);
    const seq = this.durable.seq;
    if (this.durableWaiters.length > 0) {
      const still: DurableWaiter[] = [];
      for (const w of this.durableWaiters) {
        if (w.seq <= seq) w.resolve();
        else still.push(w);
      }
      this.durableWaiters = still;
    }
    if (g.tip !== null) this.notifyChange();
  }

  private failWrites(err: unknown): void {
    this.writeFailure = writeFailed(err);
    const waiters = this.durableWaiters;
    this.durableWaiters = [];
    for (const w of waiters) w.reject(this.writeFailure);
    this.notifyChange();
  }

  private notifyChange(): void {
    if (this.changeWaiters.size === 0) return;
    const ws = [...this.changeWaiters];
    this.changeWaiters.clear();
    for (const w of ws) w();
  }

  /** Calls `wake` once the visible / durable sequence passes `seq` (at once if it already has, or the store is done). */
  private addWaiter(seq: number, wake: () => void, durable: boolean): void {
    if ((durable ? this.durable.seq : this.visibleSeq) > seq || this.state !== 'open' || this.writeFailure !== null) wake();
    else this.changeWaiters.add(wake);
  }

  /**
   * Resolves once unit `seq` is durable (written with fsync). Writes a waiting group at once instead of after
   * the group commit delay: semi-sync acknowledgements should not wait for the timer.
   */
  waitDurable(seq: number): Promise<void> {
    if (seq <= this.durable.seq) return Promise.resolve();
    if (this.writeFailure !== null) return Promise.reject(this.writeFailure);
    if (seq > this.lastSeq) return Promise.reject(badArgument(`unit ${seq} was not appended (last is ${this.lastSeq})`));
    const p = new Promise<void>((resolve, reject) => this.durableWaiters.push({ seq, resolve, reject }));
    this.startFlush();
    return p;
  }

  /** Writes everything queued (units, file records, state) and waits until it is durable. */
  async flush(): Promise<void> {
    for (;;) {
      if (this.writeFailure !== null) throw this.writeFailure;
      if (!this.group.empty || this.checkpointDue) this.startFlush();
      if (this.inFlight !== null) {
        await this.inFlight;
        continue;
      }
      if (this.group.empty && !this.checkpointDue) return;
    }
  }

  // ---- streamed transactions ---------------------------------------------------------------------------

  /**
   * Starts a transaction whose events are written one by one in chunks of about chunkBytes, so its size is
   * not held in memory. Chunks go under the next sequence, which no reader or look-up reaches before the
   * commit (its last chunk, the file records and the state are one batch); a crash leaves orphan chunks that
   * the next open deletes. Other appends wait (ERR_STORAGE_BUSY) until commit() or abort().
   */
  async beginTransaction(meta: TransactionMeta): Promise<TransactionWriter> {
    this.checkWritable();
    if (this.txn !== null) throw new StorageError('ERR_STORAGE_BUSY', 'a streamed transaction is already open');
    const head: UnitHead = { ...meta, kind: meta.kind ?? 'transaction' };
    const prep = this.prepare(head);
    const txn = new StreamedTransaction(this.txnHost, head, prep, this.lastSeq + 1, meta.newFile !== undefined ? this.nextFileNo : this.lastFileNo);
    this.txn = txn;
    try {
      await this.flush();
    } catch (err) {
      this.txn = null;
      throw err;
    }
    return txn;
  }

  private writeStagedChunk(seq: number, chunk: number, value: Buffer): Promise<void> {
    return this.writeLock.run(() => this.db.batch([{ type: 'put', key: logKey(seq, chunk), value }], { sync: true }));
  }

  private commitStaged(t: StreamedTransaction, lastChunk: number, value: Buffer, endPos: bigint, dataLength: number, maxTs: number): Promise<AppendResult> {
    this.checkWritable();
    this.startUnit(t.head, t.prep, t.seq);
    this.sealOpenSegment();
    this.group.ops.push({ type: 'put', key: logKey(t.seq, lastChunk), value });
    this.group.hasChunks = true;
    this.finishUnit(t.seq, endPos, t.head.timestamp, maxTs, t.prep.gtid, dataLength);
    this.txn = null;
    return this.afterAppend({ seq: t.seq, endPos });
  }

  private async abortStaged(t: StreamedTransaction, chunks: number): Promise<void> {
    try {
      // Deleted key by key in one synced batch (not db.clear, which does not sync): the next unit reuses this
      // sequence, and stale chunks next to it after a power loss would look like an unfinished transaction.
      const ops: BatchOp[] = [];
      for (let c = 0; c < chunks; c++) ops.push({ type: 'del', key: logKey(t.seq, c) });
      if (ops.length > 0) await this.writeLock.run(() => this.db.batch(ops, { sync: true }));
    } finally {
      this.txn = null;
    }
  }

  // ---- look-ups ----------------------------------------------------------------------------------------

  /**
   * Resolves where a reader would start. Throws ERR_STORAGE_PURGED (before the oldest stored unit, or no
   * stored file starts inside the requested GTIDs), ERR_STORAGE_NOT_FOUND (unknown file) or
   * ERR_STORAGE_POSITION (outside the stored part of a file, or not at an event boundary).
   */
  async locate(from: ReadFrom): Promise<Location> {
    this.checkOpen();
    // serveBeforeSync: a replica may come back at a position readers got before it was durable; look-ups go
    // by the durable state, so let that catch up first (a group commit at most).
    if (this.visibleSeq > this.durable.seq) await this.waitDurable(this.visibleSeq);
    if (from === 'oldest') return this.locateSeq(Math.min(this.firstSeq, this.durable.seq + 1));
    if (from === 'end') return this.endLocation();
    if (typeof from !== 'object' || from === null) throw badArgument('invalid read start');
    if ('location' in from) return from.location;
    if ('seq' in from) return this.locateSeq(from.seq);
    if ('file' in from) return this.locatePosition(from.file, from.pos);
    if ('gtids' in from) return (await this.locateGtids(from.gtids)).fileStart;
    if ('timestamp' in from) return this.locateTimestamp(from.timestamp);
    throw badArgument('invalid read start');
  }

  private endLocation(): Location {
    return { seq: this.durable.seq + 1, chunk: 0, skip: 0, file: this.byNo.get(this.durable.fileNo)?.rec.name ?? null, pos: this.durable.pos };
  }

  private async locateSeq(seq: number): Promise<Location> {
    if (!Number.isSafeInteger(seq) || seq < 1) throw badArgument(`invalid sequence ${String(seq)}`);
    if (seq < this.firstSeq) throw new StorageError('ERR_STORAGE_PURGED', `unit ${seq} was purged (the oldest stored is ${this.firstSeq})`);
    if (seq > this.durable.seq + 1) throw new StorageError('ERR_STORAGE_POSITION', `unit ${seq} is not stored yet (the last durable is ${this.durable.seq})`);
    if (seq === this.durable.seq + 1) return this.endLocation();
    const r = await recordAt(this.db, this.segs, this.uuids, seq, 0);
    return { seq, chunk: 0, skip: 0, file: this.byNo.get(r.fileNo)?.rec.name ?? null, pos: r.unitPos };
  }

  private async locatePosition(file: string, pos: bigint): Promise<Location> {
    if (typeof pos !== 'bigint') throw badArgument(`position must be a bigint, got ${typeof pos}`);
    const f = this.byName.get(file);
    if (f === undefined || f.rec.firstSeq > this.durable.seq) {
      throw new StorageError('ERR_STORAGE_NOT_FOUND', `binlog file ${file} is not stored`);
    }
    const v = this.fileView(f);
    if (pos < f.rec.firstPos || pos > v.endPos) {
      throw new StorageError('ERR_STORAGE_POSITION', `position ${pos} of ${file} is outside the stored range ${f.rec.firstPos}..${v.endPos}`);
    }
    if (pos === v.endPos) return { seq: v.lastSeq + 1, chunk: 0, skip: 0, file, pos };
    // The unit holding pos is the one before the first unit that starts after it.
    const after = await searchUnits(this.db, this.segs, this.uuids, f.rec.firstSeq, v.lastSeq, (r) => r.unitPos > pos);
    const seq = after - 1;
    let rec = await recordAt(this.db, this.segs, this.uuids, seq, 0);
    if (pos >= rec.pos + BigInt(rec.data.length)) {
      // Inside a later chunk of a chunked unit: binary-search its chunks by position.
      let lo = 1;
      let hi = await lastChunkIndex(this.db, seq);
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        const r = await recordAt(this.db, this.segs, this.uuids, seq, mid);
        if (r.pos <= pos) lo = mid;
        else hi = mid - 1;
      }
      rec = await recordAt(this.db, this.segs, this.uuids, seq, lo);
    }
    const target = Number(pos - rec.pos);
    let off = 0;
    while (off < target) off += eventSizeAt(rec.data, off);
    if (off !== target) {
      throw new StorageError('ERR_STORAGE_POSITION', `position ${pos} of ${file} is inside an event (events there start at ${rec.pos + BigInt(off)})`);
    }
    return { seq, chunk: rec.chunk, skip: off, file, pos };
  }

  private async locateTimestamp(ts: number): Promise<Location> {
    if (!Number.isFinite(ts)) throw badArgument(`invalid timestamp ${String(ts)}`);
    const seq = await searchUnits(this.db, this.segs, this.uuids, this.firstSeq, this.durable.seq, (r) => r.maxTimestamp >= ts);
    return this.locateSeq(seq);
  }

  private async locateGtids(gtids: GtidValue | string): Promise<{ fileStart: Location; requested: GtidValue }> {
    const flavor = this.requireFlavor();
    const requested = toGtidValue(flavor, gtids, 'requested GTIDs');
    const files = this.visibleFiles();
    for (let i = files.length - 1; i >= 0; i--) {
      const f = files[i]!;
      if (coversStart(requested, this.gtidsAtStart(f))) {
        return { fileStart: { seq: f.rec.firstSeq, chunk: 0, skip: 0, file: f.rec.name, pos: f.rec.firstPos }, requested };
      }
    }
    throw new StorageError(
      'ERR_STORAGE_PURGED',
      files.length === 0
        ? 'no binlog is stored yet'
        : `no stored file starts within the requested GTIDs '${requested.toString()}' (purged: '${this.purgedText}')`,
    );
  }

  /**
   * The first transaction not contained in `gtids` (a MySQL set or a MariaDB position), searched from the
   * start of the newest file whose start GTIDs the request contains; the end of the log when every stored
   * transaction is contained. Anonymous transactions count as not contained. Cost: a scan of that file.
   */
  async findFirstNotContained(gtids: GtidValue | string): Promise<Location> {
    this.checkOpen();
    const { fileStart, requested } = await this.locateGtids(gtids);
    const reader = await this.openReader({ from: { location: fileStart }, follow: false });
    try {
      for await (const batch of reader) {
        for (const u of batch) {
          if (u.kind === 'transaction' && u.chunk === 0 && (u.gtid === null || !containsGtid(requested, u.gtid))) {
            return { seq: u.seq, chunk: 0, skip: 0, file: u.file, pos: u.unitPos };
          }
        }
      }
    } finally {
      await reader.return();
    }
    return this.endLocation();
  }

  // ---- readers -----------------------------------------------------------------------------------------

  /**
   * A reader from a start point: yields batches of units (see StoreReader), follows the tail unless
   * `follow: false`. Registered until it ends, so that purge never removes the file it is in.
   */
  async openReader(options: ReadOptions & { packed: true }): Promise<StoreReader<ReadItem>>;
  async openReader(options: ReadOptions): Promise<StoreReader>;
  async openReader(options: ReadOptions): Promise<StoreReader<ReadItem>> {
    this.checkOpen();
    const loc = await this.locate(options.from);
    this.checkOpen();
    if (loc.seq < this.firstSeq) throw new StorageError('ERR_STORAGE_PURGED', `unit ${loc.seq} was purged (the oldest stored is ${this.firstSeq})`);
    const batchBytes = positiveInt(options.batchBytes, this.opts.readBatchBytes, 'batchBytes', 1024);
    const reader = new StoreReader<ReadItem>(this.host, loc, new UuidCache(), options.follow ?? true, batchBytes, options.signal, options.packed === true);
    this.readers.add(reader);
    return reader;
  }

  /** Number of live readers (for metrics). */
  get readerCount(): number {
    return this.readers.size;
  }

  // ---- retention ---------------------------------------------------------------------------------------

  /**
   * Purges whole files from the oldest, like PURGE BINARY LOGS: the files before `beforeFile`, those whose
   * last event is older than `beforeTime` / `now - maxAge`, and the oldest ones while more than `maxSize`
   * bytes are stored (any criterion given selects). Never the active file, never the file of the oldest live
   * reader or a later one. Records the purged GTIDs, then deletes the data and compacts the range.
   */
  async purge(options: PurgeOptions): Promise<PurgeResult> {
    this.checkWritable();
    return this.purgeLock.run(async () => {
      await this.flush();
      this.checkWritable();
      const files = this.visibleFiles();
      let k = 0;
      if (options.beforeFile !== undefined) {
        const i = files.findIndex((f) => f.rec.name === options.beforeFile);
        if (i < 0) throw new StorageError('ERR_STORAGE_NOT_FOUND', `binlog file ${options.beforeFile} is not stored`);
        k = Math.max(k, i);
      }
      let cutoff: number | undefined = options.beforeTime;
      if (options.maxAge !== undefined) {
        const now = options.now ?? Math.floor(Date.now() / 1000);
        cutoff = Math.max(cutoff ?? -Infinity, now - options.maxAge);
      }
      if (cutoff !== undefined) {
        let i = 0;
        while (i < files.length && this.fileView(files[i]!).lastTimestamp < cutoff) i++;
        k = Math.max(k, i);
      }
      if (options.maxSize !== undefined) {
        if (!(options.maxSize >= 0)) throw badArgument(`invalid maxSize ${String(options.maxSize)}`);
        const sizes = files.map((f) => Number(this.fileView(f).endPos - f.rec.firstPos));
        let total = sizes.reduce((a, b) => a + b, 0);
        let i = 0;
        while (i < files.length && total > options.maxSize) total -= sizes[i++]!;
        k = Math.max(k, i);
      }
      const wanted = k;
      k = Math.min(k, files.length - 1); // never the active file
      for (const r of this.readers) {
        let j = files.length - 1;
        while (j > 0 && files[j]!.rec.firstSeq > r.holdSeq) j--;
        k = Math.min(k, j);
      }
      if (k <= 0) return { files: [], purgedGtids: this.purgedText, firstSeq: this.firstSeq, heldBack: wanted > 0 };
      const removed = files.slice(0, k);
      const newFirst = files[k]!.rec.firstSeq;
      this.files = this.files.slice(k);
      for (const f of removed) {
        this.byName.delete(f.rec.name);
        this.byNo.delete(f.rec.fileNo);
        this.group.ops.push({ type: 'del', key: fileKey(f.rec.fileNo) });
      }
      this.firstSeq = newFirst;
      this.refreshPurged();
      this.tail.evictBelow(newFirst);
      this.checkpointDue = true;
      await this.flush();
      // The state no longer refers to the purged units; delete them (a crash here is finished on open).
      const range = { gte: logRange().gte, lt: checkpointKey(newFirst - 1) };
      await this.db.clear(range);
      await this.db.compactRange(range.gte, range.lt);
      await this.segs.removeBefore(newFirst);
      return { files: removed.map((f) => f.rec.name), purgedGtids: this.purgedText, firstSeq: newFirst, heldBack: wanted > k };
    });
  }

  // ---- metadata of other components --------------------------------------------------------------------

  async getMeta(name: string): Promise<Buffer | undefined> {
    this.checkOpen();
    return this.db.get(metaKey(name));
  }

  async putMeta(name: string, value: Buffer | string): Promise<void> {
    this.checkOpen();
    await this.db.put(metaKey(name), Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'), { sync: true });
  }

  async deleteMeta(name: string): Promise<void> {
    this.checkOpen();
    await this.db.del(metaKey(name), { sync: true });
  }

  async listMeta(): Promise<string[]> {
    this.checkOpen();
    const r = metaRange();
    return (await this.db.keys({ gte: r.gte, lt: r.lt }).all()).map(decodeMetaKey);
  }

  /** A named key/value range for another component (e.g. 'discovery'): string keys, Buffer values. */
  section(name: string): MetaSection {
    return new MetaSection(this.db, name, () => this.checkOpen());
  }

  // ---- recovery after a failed write ------------------------------------------------------------------

  /** The error that stops writes (ERR_STORAGE_FULL / ERR_STORAGE_IO), or null while writes work. */
  get failure(): StorageError | null {
    return this.writeFailure;
  }

  /**
   * After a failed write (disk full, I/O error), LevelDB refuses every further write until it is reopened,
   * and the in-memory state is ahead of what is on disk. This closes LevelDB, opens it again and rebuilds the
   * state from what is durable (the same recovery as openStore), so the writer resumes from the last durable
   * unit: nothing half-written is kept, nothing durable is lost. Live readers are ended (their replicas
   * reconnect). A no-op while writes work; throws (and stays failed) when LevelDB cannot be opened again yet,
   * e.g. while the disk is still full, so the caller retries later.
   */
  recoverWrites(): Promise<void> {
    if (this.writeFailure === null) return Promise.resolve();
    this.recovering ??= this.reopen().finally(() => {
      this.recovering = null;
    });
    return this.recovering;
  }

  private async reopen(): Promise<void> {
    this.checkOpen();
    if (this.inFlight !== null) await this.inFlight.catch(() => undefined);
    this.cancelTimer();
    await Promise.all([...this.readers].map((r) => r.return()));
    if (!this.dbReopenPending) {
      this.dbReopenPending = true;
      await this.db.close();
    }
    try {
      await this.db.open();
    } catch (err) {
      this.writeFailure = writeFailed(err);
      throw this.writeFailure;
    }
    this.dbReopenPending = false;
    let rec;
    try {
      rec = await recover(this.db, this.segs, this.flavor ?? undefined, this.uuids);
    } catch (err) {
      this.writeFailure = writeFailed(err);
      throw this.writeFailure;
    }
    this.startCache = new WeakMap();
    this.durable = this.adopt(rec.state, rec.executed, rec.files);
    this.visibleSeq = this.durable.seq;
    this.group = new WriteGroup();
    this.tail.reset();
    this.txn = null;
    this.checkpointDue = false;
    this.bytesSinceCheckpoint = 0;
    this.unitsSinceCheckpoint = rec.report.unitsReplayed;
    this.writeFailure = null;
    this.notifyChange();
  }

  // ---- close -------------------------------------------------------------------------------------------

  /** Writes what is queued (with a final checkpoint), ends the readers and closes LevelDB. */
  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    try {
      if (this.txn !== null) await this.txn.abort();
      if (this.writeFailure === null) {
        if (this.unitsSinceCheckpoint > 0 || !this.group.empty) this.checkpointDue = true;
        await this.flush();
      }
    } finally {
      this.cancelTimer();
      this.state = 'closed';
      this.notifyChange();
      await Promise.all([...this.readers].map((r) => r.return()));
      for (const w of this.durableWaiters) w.reject(new StorageError('ERR_STORAGE_CLOSED', 'store closed'));
      this.durableWaiters = [];
      await this.segs.close();
      await this.db.close();
    }
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }
}
