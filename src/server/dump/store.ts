/**
 * What the binlog sender needs from storage: the file list, the replication state, and readers that yield
 * stored units in batches and follow the live tail. The store (storage/index.ts) provides exactly this; the
 * interface is kept here, small, so that the sender's rules can be tested against any implementation and the
 * dependency on storage stays one-way.
 */
import type { FileInfo, ReadItem, ReadOptions, StoreState, StoredUnit } from '../../../storage/types.js';

export type { FileInfo, PackedUnits, ReadItem, ReadOptions, StoreState, StoredUnit } from '../../../storage/types.js';
export { recordField, recordGtid, UuidCache } from '../../../storage/records.js';
export { unpackUnit } from '../../../storage/reader.js';

/** The part of `BinlogStore` (storage/store.ts) the sender uses; the store satisfies it as is. */
export interface DumpStore {
  /** The replication state now (flavour, executed and purged GTIDs, durable sequence). Builds GTID texts. */
  getState(): StoreState;
  /** The last durable unit (what readers can see); cheap, unlike getState(). */
  readonly durableSeq: number;
  /** Bytes of segments the store keeps for readers at nearby positions (StoreOptions.readCacheBytes). */
  readonly readCacheBytes: number;
  /** Stored files with at least one durable unit, oldest first. */
  listFiles(): FileInfo[];
  /**
   * A reader from a point of the log: batches of units in log order, then (unless `follow` is false) the live
   * tail, until `return()` or the AbortSignal. Rejects with StorageError ERR_STORAGE_POSITION for a position
   * that is not an event boundary of the stored part of a file, ERR_STORAGE_NOT_FOUND for a file not stored,
   * ERR_STORAGE_PURGED for a purged point. Registered with the store until it ends, so purge never passes it.
   * With `packed: true`, runs of whole transactions of a segment come as one PackedUnits each (see ReadItem).
   */
  openReader(opts: ReadOptions & { packed: true }): Promise<AsyncIterableIterator<ReadItem[]>>;
  openReader(opts: ReadOptions): Promise<AsyncIterableIterator<StoredUnit[]>>;
}

/** The file named `name`, or undefined. Files are few (hundreds at most): a scan is fine. */
export function findFile(files: readonly FileInfo[], name: string): FileInfo | undefined {
  for (const f of files) if (f.name === name) return f;
  return undefined;
}
