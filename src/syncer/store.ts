/**
 * What the syncer needs from storage (storage/store.ts `BinlogStore` satisfies it structurally). Keeping the
 * syncer on this narrow port lets its tests run against an in-memory fake and documents exactly which parts
 * of the store the single writer uses.
 */
import type {
  AppendResult,
  AppendUnit,
  Flavor,
  StoreState,
  TransactionMeta,
  TransactionWriter,
} from '../../storage/index.js';

export type { AppendResult, AppendUnit, Flavor, StoreState, TransactionMeta, TransactionWriter };

export interface SyncerStore {
  /** State after the last append: flavour, last file and end position, executed and purged GTIDs. */
  getState(): StoreState;
  /** Appends one whole unit (in order; storage checks contiguity). */
  append(unit: AppendUnit): Promise<AppendResult>;
  /** Streams one huge transaction in bounded memory; atomic on commit. */
  beginTransaction(meta: TransactionMeta): Promise<TransactionWriter>;
  /** Resolves once unit `seq` is durable (semi-sync acknowledgements wait for it). */
  waitDurable(seq: number): Promise<void>;
  /** Writes everything queued and waits until it is durable. */
  flush(): Promise<void>;
  getMeta(name: string): Promise<Buffer | undefined>;
  putMeta(name: string, value: Buffer | string): Promise<void>;
  /**
   * Fixes the flavour of a store created without one (the first primary decides). Optional: a store opened
   * with a flavour does not need it.
   */
  setFlavor?(flavor: Flavor): Promise<void> | void;
  /**
   * After a failed write (disk full, I/O error) the store refuses writes until this reopens it from what is
   * durable; a no-op while writes work, throws while the cause persists. Optional for in-memory fakes.
   */
  recoverWrites?(): Promise<void>;
}
