/**
 * storage/: the proxy's memory of the primary's binlog — everything received, in order, byte for byte, and
 * fast to position into. LevelDB (classic-level) in a directory of its own inside the data dir; the segments
 * of big groups (a catch-up) in plain files of its `segments/` subdirectory, LevelDB holding pointers to them
 * (storage/segment-files.ts).
 *
 * The interface (BinlogStore, storage/store.ts):
 *
 *   openStore(dir, { flavor, durability, ... })      create or open; checks format, consistency; recovers
 *   store.getState()                                  flavor, first/last/durable seq, last file + end pos,
 *                                                     executed and purged GTIDs (text)
 *   store.listFiles() / getFile(name)                 the primary's files: first/end position, FDE, start GTIDs,
 *                                                     GTIDs at start/end, timestamps, first/last seq
 *
 *   Writer (one: the syncer)
 *   store.append(unit)                                a whole transaction or a control event, atomically with
 *                                                     its indexes and the new state → { seq, endPos }
 *   store.beginTransaction(meta) → write(ev)… commit() / abort()   a huge transaction in bounded memory
 *   store.waitDurable(seq) / flush() / durableSeq     group commit ('group', default) or one fsync per append
 *
 *   Readers (many: the replica-facing server)
 *   store.openReader({ from, follow, signal })        async iterator of StoredUnit[] batches: stored history,
 *                                                     then the live tail (no polling), until return()/abort;
 *                                                     with `packed: true`, runs of whole transactions come as
 *                                                     PackedUnits (no object per unit; unpackUnit() expands)
 *   store.locate(from)                                where a reader would start: { seq } | { file, pos } (any
 *                                                     event boundary) | { gtids } | { timestamp } | 'oldest' | 'end'
 *   store.findFirstNotContained(gtids)                first transaction not in a MySQL set / MariaDB position
 *
 *   Retention:  store.purge({ beforeFile, beforeTime, maxAge, maxSize })   whole files, never past a reader
 *   Metadata:   store.getMeta/putMeta/deleteMeta/listMeta(name); store.section('discovery') → get/put/del/entries
 *   store.close()
 *
 * Units are what the syncer groups: a whole transaction (its events verbatim, with CRC) or one control event
 * between transactions (FDE, PREVIOUS_GTIDS, GTID_LIST, BINLOG_CHECKPOINT, the real ROTATE, STOP). Artificial
 * events (fake ROTATE, heartbeats) are never stored. Storage does not decode events: the caller passes the
 * file/position, GTID and timestamp it already decoded. A reader yields each unit with its file, positions,
 * GTID and raw bytes; a huge transaction comes as its chunks (chunk 0 … lastChunk), and only once committed.
 *
 * Errors are StorageError with stable codes (storage/errors.ts). Layout: storage/keys.ts and records.ts.
 */
export { openStore, BinlogStore } from './store.js';
export { MetaSection } from './meta.js';
export { StoreReader, unpackUnit } from './reader.js';
export { StorageError, type StorageErrorCode } from './errors.js';
export { splitEvents } from './records.js';
export { FORMAT_VERSION, MIGRATIONS, migrate, type Migration } from './migrations.js';
export type { RecoveryReport } from './recovery.js';
export type {
  AppendResult,
  AppendUnit,
  FileInfo,
  Flavor,
  Location,
  PackedUnits,
  PurgeOptions,
  PurgeResult,
  ReadFrom,
  ReadItem,
  ReadOptions,
  StoredUnit,
  StoreOptions,
  StoreState,
  TransactionMeta,
  TransactionWriter,
  UnitKind,
} from './types.js';
