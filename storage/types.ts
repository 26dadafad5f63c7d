/**
 * Public types of the storage interface (documented in storage/index.ts).
 */
import type { MariadbGtid, MariadbGtidPosition } from '../protocol/gtid/mariadb.js';
import type { MysqlGtid, MysqlGtidSet } from '../protocol/gtid/mysql.js';
import type { Flavor, UnitKind } from './records.js';

export type { Flavor, UnitKind } from './records.js';

/** What the syncer appends: one whole transaction, or one control event between transactions. */
export interface AppendUnit {
  /** The primary's file name, e.g. 'bin.000001'. */
  file: string;
  /** Offset in that file of the first event; equal to the end of the previous unit of the same file. */
  pos: bigint;
  /** Verbatim raw events (with CRC), contiguous in the file. Copied by append(); not kept. */
  events: Buffer[];
  kind: UnitKind;
  /** Transactions only; null (or absent) for anonymous / no-GTID transactions. */
  gtid?: MysqlGtid | MariadbGtid | null;
  /** Header timestamp (s) of the first event. */
  timestamp: number;
  /** On the first unit stored for a file (a new file, or the first file after a mid-file start). */
  newFile?: {
    /** The file's FDE bytes as in the file. */
    fde: Buffer;
    /** PREVIOUS_GTIDS text (MySQL) or GTID_LIST position text (MariaDB), if known. */
    startGtids?: string;
  };
  /** On the PREVIOUS_GTIDS / GTID_LIST control unit: the file's starting GTID state. */
  fileStartGtids?: string;
}

/** The metadata of a transaction streamed with `beginTransaction` (its events come one by one). */
export type TransactionMeta = Omit<AppendUnit, 'events' | 'kind' | 'fileStartGtids'> & { kind?: UnitKind };

export interface AppendResult {
  /** The unit's sequence number (1, 2, 3, ...). */
  seq: number;
  /** End position of the unit in its file. */
  endPos: bigint;
}

/** A streamed (huge) transaction: bounded memory, still atomic. */
export interface TransactionWriter {
  readonly seq: number;
  /** Adds one whole event (copied). Waits while the previous chunk is being written (backpressure). */
  write(event: Buffer): Promise<void>;
  /** Makes the transaction part of the log, atomically with its state. */
  commit(): Promise<AppendResult>;
  /** Drops everything written so far; the log is unchanged. */
  abort(): Promise<void>;
}

export interface StoreState {
  flavor: Flavor | null;
  /** Oldest stored unit (after purges); lastSeq + 1 when nothing is stored. */
  firstSeq: number;
  /** Last appended unit (0 before the first append). */
  lastSeq: number;
  /** Last unit on disk (fsync'd); readers see units up to here. */
  durableSeq: number;
  /** Primary's file of the last appended unit, and its end position there. */
  lastFile: string | null;
  lastPos: bigint;
  /** MySQL GTID set text / MariaDB GTID position text. */
  executedGtids: string;
  purgedGtids: string;
}

export interface FileInfo {
  name: string;
  /** Internal file number (stable, increasing). */
  fileNo: number;
  firstSeq: number;
  lastSeq: number;
  /** First stored position (4 when stored from the start of the file). */
  firstPos: bigint;
  /** End of the last stored event: the file's size as far as it is stored. */
  endPos: bigint;
  /** Bytes stored for this file: endPos - firstPos. */
  storedBytes: bigint;
  /** True for the newest file, which is still being written. */
  active: boolean;
  fde: Buffer;
  /** The file's own PREVIOUS_GTIDS / GTID_LIST text, when known. */
  startGtids: string | null;
  /** Executed GTIDs at the start of the file (state before it ∪ its start GTIDs). */
  gtidsAtStart: string;
  /** Executed GTIDs at the end of the file; null for the active file (see StoreState.executedGtids). */
  gtidsAtEnd: string | null;
  firstTimestamp: number;
  lastTimestamp: number;
}

/**
 * One stored unit, or a piece of one, as a reader yields it. `data` holds whole events, verbatim,
 * concatenated (split them with `splitEvents`). A piece is either a chunk of a huge transaction
 * (chunk > 0 or !lastChunk) or the tail of a unit when a reader started at a position inside it
 * (pos > unitPos on the first piece).
 */
export interface StoredUnit {
  readonly seq: number;
  readonly kind: UnitKind;
  readonly file: string;
  readonly fileNo: number;
  /** Position in `file` of data[0]. */
  readonly pos: bigint;
  /** pos + data.length. */
  readonly endPos: bigint;
  /** Position of the unit's first event. */
  readonly unitPos: bigint;
  /** 0 for the first chunk of the unit. */
  readonly chunk: number;
  /** True when data ends the unit. */
  readonly lastChunk: boolean;
  readonly gtid: MysqlGtid | MariadbGtid | null;
  readonly timestamp: number;
  readonly data: Buffer;
}

/**
 * A run of whole transactions stored next to each other in one segment, as a reader opened with
 * `packed: true` yields them instead of one StoredUnit each: no object per unit, for consumers that mostly
 * pass the bytes on (the binlog sender). Record `i` (unit `firstSeq + i`) starts at `records[i]` of `value`;
 * read it with the field readers of storage/records.ts (`recordField`, `recordGtid`), or expand it with `unpackUnit()`.
 * Every unit of a run is a whole transaction (chunk 0, last) of the same file, from its first byte.
 */
export interface PackedUnits {
  readonly packed: true;
  readonly firstSeq: number;
  readonly file: string;
  readonly fileNo: number;
  /** The segment value (shared, read-only). */
  readonly value: Buffer;
  /** Offsets of the records in `value`, in log order. */
  readonly records: readonly number[];
  /** `value` is in the store's shared read cache: other readers may get the very same buffer. */
  readonly shared: boolean;
}

/** What a packed reader yields: StoredUnits where a unit needs its own (control events, chunks, a cut unit). */
export type ReadItem = StoredUnit | PackedUnits;

/** A point in the log where a reader can start: chunk `chunk` of unit `seq`, `skip` bytes into its data. */
export interface Location {
  seq: number;
  chunk: number;
  skip: number;
  /** The primary's file and position of that point (the last file and its end for the end of the log). */
  file: string | null;
  pos: bigint;
}

export type ReadFrom =
  | 'oldest'
  | 'end'
  | { seq: number }
  | { file: string; pos: bigint }
  /** Start of the newest file whose start GTIDs are contained in the set / position (the sender skips). */
  | { gtids: MysqlGtidSet | MariadbGtidPosition | string }
  /** First unit whose timestamp is >= this (s). */
  | { timestamp: number }
  | { location: Location };

export interface ReadOptions {
  from: ReadFrom;
  /** Keep following the live tail after the stored history (default true). */
  follow?: boolean;
  /** Ends the reader (next() resolves done). */
  signal?: AbortSignal;
  /** Target bytes per yielded batch (default: the store's readBatchBytes). */
  batchBytes?: number;
  /** Yield runs of whole transactions as PackedUnits (see ReadItem); default false. */
  packed?: boolean;
}

export interface PurgeOptions {
  /** Purge files before this one (PURGE BINARY LOGS TO). */
  beforeFile?: string;
  /** Purge files whose last event is older than this unix time (s) (PURGE BINARY LOGS BEFORE). */
  beforeTime?: number;
  /** Purge files whose last event is older than now - maxAge (s). */
  maxAge?: number;
  /** Purge the oldest files until the stored bytes are at most this. */
  maxSize?: number;
  /** "now" for maxAge, unix seconds (default: the clock). */
  now?: number;
}

export interface PurgeResult {
  files: string[];
  /** Purged GTIDs after the purge. */
  purgedGtids: string;
  firstSeq: number;
  /** True when a criterion selected files that were kept: the active file, or files a live reader is in (or after). */
  heldBack: boolean;
}

export interface StoreOptions {
  /** Flavour of a new store (required to create one; checked against an existing one). */
  flavor?: Flavor;
  /** Create the store if the directory has none (default true). */
  create?: boolean;
  /** 'group' (default): several appends per fsync'd write within groupCommitDelayMs; 'fsync': one per append. */
  durability?: 'group' | 'fsync';
  /** Longest wait before an idle group is written (default 2 ms). waitDurable() writes at once. */
  groupCommitDelayMs?: number;
  /**
   * Opt-in (default false): live readers see a unit as soon as it is appended and queued for its LevelDB
   * write, without waiting for the fsync. Lowers commit-to-replica latency by the group commit delay and the
   * fsync, at a durability cost: a crash of the proxy (process or machine) can lose units that replicas
   * already received, which then are ahead of the proxy's log. waitDurable() (semi-sync ACKs), look-ups,
   * getState().durableSeq and readers catching up from disk still go by what is durable.
   */
  serveBeforeSync?: boolean;
  /** A group is written at once when it reaches this many bytes (default 512 KiB). */
  groupCommitBytes?: number;
  /**
   * append() waits for the disk when this many bytes are queued (default 16 MiB, at least 2 groups). Queued
   * units are bytes in slabs; below this limit a writer never holds units (JS objects) back waiting for the disk.
   */
  maxPendingBytes?: number;
  /** Target size of a log segment value (default 64 KiB; measured, see bench/storage.ts). */
  segmentBytes?: number;
  /** Units larger than this are stored as chunks of at most this size (default 1 MiB). */
  chunkBytes?: number;
  /** A checkpoint of the state is written after this many bytes ... (default 4 MiB) */
  checkpointBytes?: number;
  /** ... or this many units (default 4096): bounds the replay on open. */
  checkpointUnits?: number;
  /** Recently written segments kept in memory for readers following the tail (default 4 MiB). */
  tailCacheBytes?: number;
  /**
   * Segments read from disk kept for other readers (default 16 MiB; 0: none): readers at nearby positions,
   * e.g. many replicas catching up at once, then read each segment from LevelDB once.
   */
  readCacheBytes?: number;
  /**
   * Called with the bytes of the segments the shared read cache lets go. They are garbage from then on, in
   * V8's old generation (they were kept for a while), which V8 frees only at a full collection: a host that
   * wants the memory back sooner can ask for one here.
   */
  onReadCacheEvict?: (bytes: number) => void;
  /**
   * Called after each synced group write of the log (the write a durable commit waits for) with its duration
   * in seconds, LevelDB's queue and the fsync included. Its tail is the tail of what replicas wait for.
   */
  onGroupWrite?: (seconds: number) => void;
  /** Bytes per reader batch (default 1 MiB). */
  readBatchBytes?: number;
  /**
   * A group with at least this many bytes of events writes its segments to the segment files next to LevelDB,
   * with pointers in LevelDB (default 1 MiB: the groups of a catch-up; 0: never). See segment-files.ts.
   */
  externalGroupBytes?: number;
  /** A new segment file starts once the current one holds this many bytes (default 256 MiB). */
  segmentFileBytes?: number;
  /**
   * LevelDB knobs. `compression` (snappy) is off by default: a store takes about the space of the binlog files.
   * `maxOpenFiles` defaults to 74 (LevelDB's minimum, 64 tables open and memory-mapped at most);
   * `writeBufferSize` and `maxFileSize` to 1 MiB (tables of at most 1 MiB: ~64 MB of them mapped at most).
   */
  leveldb?: { writeBufferSize?: number; maxFileSize?: number; cacheSize?: number; compression?: boolean; maxOpenFiles?: number };
}
