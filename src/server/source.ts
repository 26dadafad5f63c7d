/**
 * What the server needs to know about the stored binlog to answer SQL and greet clients: the small,
 * read-only view of storage behind `SHOW BINARY LOGS`, `SHOW MASTER STATUS`, `@@gtid_executed`, the greeting
 * version string and the flavour. `storeSourceView` (source-store.ts) implements it over the LevelDB store;
 * tests use `StaticSourceView`.
 */
import type { Flavor } from './dump/types.js';

export interface BinlogFileSummary {
  /** The primary's file name, e.g. 'bin.000003'. */
  name: string;
  /** End of the last stored event in the file (its size as far as it is stored). */
  size: number;
}

export interface SourceView {
  /** Flavour of the stored binlog; null while the store is empty. */
  flavor(): Flavor | null;
  /** Server version from the newest stored FDE, e.g. '10.11.6-MariaDB-log' or '8.0.45'; null when empty. */
  serverVersion(): string | null;
  /** Checksum algorithm of the newest stored FDE; null when empty. */
  binlogChecksum(): 'CRC32' | 'NONE' | null;
  /** Stored files, oldest first. */
  files(): BinlogFileSummary[];
  /** The end of the stored binlog (SHOW MASTER STATUS), or null when empty. */
  masterStatus(): { file: string; position: number } | null;
  /** MySQL: executed GTID set text ('' when none or MariaDB). */
  gtidExecuted(): string;
  /** MySQL: purged GTID set text. */
  gtidPurged(): string;
  /** MariaDB: last GTID per domain ('' when none or MySQL). */
  mariadbGtidBinlogPos(): string;
  /** True when the stored MySQL binlog carries GTIDs (then @@gtid_mode is ON). */
  hasGtids(): boolean;
  /** Header timestamp (s) of the newest stored event, for replica lag; null when empty. */
  newestEventTimestamp(): number | null;
  /**
   * MariaDB `binlog_gtid_pos(file, pos)`: the GTID position at that point of the binlog, or null when the
   * point is not in the stored binlog.
   */
  binlogGtidPos(file: string, position: number): Promise<string | null>;
}

/** A fixed view, for tests and for a server started before storage has anything. */
export interface StaticSourceInit {
  flavor: Flavor | null;
  serverVersion?: string | null;
  binlogChecksum?: 'CRC32' | 'NONE' | null;
  files?: BinlogFileSummary[];
  gtidExecuted?: string;
  gtidPurged?: string;
  mariadbGtidBinlogPos?: string;
  hasGtids?: boolean;
  newestEventTimestamp?: number | null;
  /** Answers for binlog_gtid_pos, keyed 'file:pos'. */
  gtidPositions?: Record<string, string>;
}

export class StaticSourceView implements SourceView {
  constructor(private readonly init: StaticSourceInit) {}

  flavor(): Flavor | null {
    return this.init.flavor;
  }

  serverVersion(): string | null {
    return this.init.serverVersion ?? null;
  }

  binlogChecksum(): 'CRC32' | 'NONE' | null {
    return this.init.binlogChecksum ?? null;
  }

  files(): BinlogFileSummary[] {
    return this.init.files ?? [];
  }

  masterStatus(): { file: string; position: number } | null {
    const files = this.files();
    const last = files[files.length - 1];
    return last ? { file: last.name, position: last.size } : null;
  }

  gtidExecuted(): string {
    return this.init.gtidExecuted ?? '';
  }

  gtidPurged(): string {
    return this.init.gtidPurged ?? '';
  }

  mariadbGtidBinlogPos(): string {
    return this.init.mariadbGtidBinlogPos ?? '';
  }

  hasGtids(): boolean {
    return this.init.hasGtids ?? this.gtidExecuted() !== '';
  }

  newestEventTimestamp(): number | null {
    return this.init.newestEventTimestamp ?? null;
  }

  async binlogGtidPos(file: string, position: number): Promise<string | null> {
    return this.init.gtidPositions?.[`${file}:${position}`] ?? null;
  }
}
