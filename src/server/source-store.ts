/**
 * SourceView over the LevelDB store: the file list, the end of the log, the GTID state, and the server
 * version and checksum of the newest stored FDE. `binlog_gtid_pos(file, pos)` (MariaDB) reads the file's
 * units from its start up to the position, as MariaDB itself scans the binlog file.
 */
import { BINLOG_CHECKSUM_ALG_CRC32 } from '../../protocol/binlog/constants.js';
import { decodeFormatDescription } from '../../protocol/binlog/fde.js';
import { MariadbGtidPosition, type MariadbGtid } from '../../protocol/gtid/mariadb.js';
import { BinlogProxyError } from '../../protocol/errors.js';
import type { DumpStore, FileInfo } from './dump/store.js';
import type { Flavor } from './dump/types.js';
import type { BinlogFileSummary, SourceView } from './source.js';

interface FdeFacts {
  version: string;
  checksum: 'CRC32' | 'NONE';
}

export class StoreSourceView implements SourceView {
  /** FDE facts by file name (FDEs never change once stored). */
  private readonly fdeCache = new Map<string, FdeFacts | null>();

  constructor(private readonly store: DumpStore) {}

  private newestFile(): FileInfo | undefined {
    const files = this.store.listFiles();
    return files[files.length - 1];
  }

  private fdeFacts(): FdeFacts | null {
    const f = this.newestFile();
    if (!f) return null;
    let facts = this.fdeCache.get(f.name);
    if (facts === undefined) {
      try {
        const fde = decodeFormatDescription(f.fde);
        facts = { version: fde.serverVersion, checksum: fde.checksumAlg === BINLOG_CHECKSUM_ALG_CRC32 ? 'CRC32' : 'NONE' };
      } catch (err) {
        if (!(err instanceof BinlogProxyError)) throw err;
        facts = null; // an FDE we cannot read: fall back to defaults, the sender reports the real problem
      }
      if (this.fdeCache.size > 1000) this.fdeCache.clear();
      this.fdeCache.set(f.name, facts);
    }
    return facts;
  }

  flavor(): Flavor | null {
    return this.store.getState().flavor;
  }

  serverVersion(): string | null {
    return this.fdeFacts()?.version ?? null;
  }

  binlogChecksum(): 'CRC32' | 'NONE' | null {
    return this.fdeFacts()?.checksum ?? null;
  }

  files(): BinlogFileSummary[] {
    return this.store.listFiles().map((f) => ({ name: f.name, size: Number(f.endPos) }));
  }

  masterStatus(): { file: string; position: number } | null {
    const f = this.newestFile();
    return f ? { file: f.name, position: Number(f.endPos) } : null;
  }

  gtidExecuted(): string {
    const s = this.store.getState();
    return s.flavor === 'mysql' ? s.executedGtids : '';
  }

  gtidPurged(): string {
    const s = this.store.getState();
    return s.flavor === 'mysql' ? s.purgedGtids : '';
  }

  mariadbGtidBinlogPos(): string {
    const s = this.store.getState();
    return s.flavor === 'mariadb' ? s.executedGtids : '';
  }

  hasGtids(): boolean {
    const s = this.store.getState();
    return s.flavor === 'mysql' && s.executedGtids !== '';
  }

  newestEventTimestamp(): number | null {
    return this.newestFile()?.lastTimestamp ?? null;
  }

  async binlogGtidPos(file: string, position: number): Promise<string | null> {
    if (this.store.getState().flavor !== 'mariadb') return null;
    const f = this.store.listFiles().find((x) => x.name === file);
    if (!f) return null;
    const pos = BigInt(position);
    if (pos < 4n || pos > f.endPos || pos < f.firstPos) return null;
    let state: MariadbGtidPosition;
    try {
      state = MariadbGtidPosition.parse(f.gtidsAtStart);
    } catch (err) {
      if (err instanceof BinlogProxyError) return null;
      throw err;
    }
    if (pos <= f.firstPos) return state.toString();
    const ac = new AbortController();
    const reader = await this.store.openReader({ from: { file, pos: f.firstPos }, follow: false, signal: ac.signal });
    try {
      for (;;) {
        const r = await reader.next();
        if (r.done) break;
        for (const unit of r.value) {
          if (unit.file !== file || unit.unitPos >= pos) return state.toString();
          if (unit.gtid && unit.chunk === 0) state.advance(unit.gtid as MariadbGtid);
        }
      }
      return state.toString();
    } finally {
      ac.abort();
      await reader.return?.();
    }
  }
}
