/**
 * The fatal errors of a binlog dump and their wording. A source reports every one of them as ERR 1236
 * (ER_MASTER_FATAL_ERROR_READING_BINLOG, SQLSTATE HY000) carrying only the message text; replicas print it as
 * "Got fatal error 1236 from source when reading data from binary log: '<text>'" and stop their IO thread.
 *
 * The texts are the primaries' own (protocol brief §3.5, §3.7; MySQL `Binlog_sender`, MariaDB `sql_repl.cc`),
 * so that operators and scripts that grep replica error logs see what they know. MySQL changed
 * "master/slave" to "source/replica" in 8.0.26; the wording follows the server version of the stored binlog.
 * Once a file is open, both servers append the location suffix
 * `; the first event '<file>' at <pos>, the last event read from '<file>' at <pos>, the last byte read from
 * '<file>' at <pos>.` (see `withLocation`).
 */
import { BinlogProxyError } from '../../../protocol/errors.js';
import { ER_MASTER_FATAL_ERROR_READING_BINLOG } from '../../../protocol/constants.js';
import { serverVersionSplit } from '../../../protocol/binlog/fde.js';
import type { MariadbGtid } from '../../../protocol/gtid/mariadb.js';
import type { Flavor } from './types.js';

export type DumpErrorCode =
  | 'ERR_DUMP_NO_BINLOG' // nothing stored yet (the "binary log is not open" case)
  | 'ERR_DUMP_FILE_NOT_FOUND' // requested file not stored (never stored, or purged)
  | 'ERR_DUMP_POSITION' // position < 4, past the end, or not at an event boundary
  | 'ERR_DUMP_CHECKSUM' // the replica never declared its checksum and the binlog has CRC32
  | 'ERR_DUMP_GTID_MODE' // MySQL GTID dump while the stored binlog has no GTIDs
  | 'ERR_DUMP_GTID_AHEAD' // the replica has GTIDs of our source that we do not have
  | 'ERR_DUMP_GTID_PURGED' // GTIDs the replica needs were purged
  | 'ERR_DUMP_ANONYMOUS' // ANONYMOUS_GTID in a GTID dump
  | 'ERR_DUMP_GTID_NOT_FOUND' // MariaDB: requested GTID not in the binlog
  | 'ERR_DUMP_GTID_HOLE' // MariaDB strict mode: requested GTID missing between existing ones
  | 'ERR_DUMP_GTID_STATE' // MariaDB: no file holds the requested state / malformed state
  | 'ERR_DUMP_EVENT' // a stored event the sender cannot serve (rewrite failed, corrupt framing)
  | 'ERR_DUMP_STORAGE' // the store failed while reading
  | 'ERR_DUMP_SHUTDOWN' // the store closed under a blocking dump (the proxy is stopping)
  | 'ERR_DUMP_UNKNOWN_COMMAND'; // COM_BINLOG_DUMP_GTID on a MariaDB listener

/** A dump failure to report to the replica as ERR `errno` with `message` (already in the primary's words). */
export class DumpError extends BinlogProxyError {
  declare readonly code: DumpErrorCode;
  readonly errno: number;
  readonly sqlState: string;

  constructor(code: DumpErrorCode, message: string, options?: { cause?: unknown; errno?: number; sqlState?: string }) {
    super(code, message, options);
    this.errno = options?.errno ?? ER_MASTER_FATAL_ERROR_READING_BINLOG;
    this.sqlState = options?.sqlState ?? 'HY000';
  }
}

/**
 * ER_SERVER_SHUTDOWN: what a replica gets when the source stops under it. Replicas count it as a network
 * error and reconnect (a 1236 would stop their IO thread for good).
 */
export function shutdownError(cause?: unknown): DumpError {
  return new DumpError('ERR_DUMP_SHUTDOWN', 'Server shutdown in progress', { cause, errno: 1053, sqlState: '08S01' });
}

/**
 * Storage failures that heal without the replica doing anything: the store closing, or writes stopped by a
 * full disk / an I/O error while it reopens (LevelDB briefly closed). The replica must reconnect, not stop.
 */
export function isTransientStorageError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    code === 'ERR_STORAGE_CLOSED' ||
    code === 'ERR_STORAGE_FULL' ||
    code === 'ERR_STORAGE_IO' ||
    code === 'LEVEL_DATABASE_NOT_OPEN' ||
    code === 'LEVEL_ITERATOR_NOT_OPEN'
  );
}

/** Words that differ between MySQL releases and MariaDB. */
export interface Wording {
  flavor: Flavor;
  /** 'source' (MySQL >= 8.0.26) or 'master'. */
  source: string;
  /** 'replica' (MySQL >= 8.0.26) or 'slave'. */
  replica: string;
  /** MySQL major.minor.patch of the stored binlog's FDE (0.0.0 for MariaDB or unknown). */
  version: [number, number, number];
}

export function wordingFor(flavor: Flavor, serverVersion: string | null): Wording {
  const version = serverVersionSplit(serverVersion ?? '');
  const modern = flavor === 'mysql' && compareVersion(version, [8, 0, 26]) >= 0;
  return { flavor, source: modern ? 'source' : 'master', replica: modern ? 'replica' : 'slave', version };
}

function compareVersion(a: [number, number, number], b: [number, number, number]): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

function cap(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** Where the dump was when it failed: the location suffix both servers add once a file is open. */
export interface DumpLocation {
  startFile: string;
  startPos: bigint | number;
  lastFile: string;
  /** Start of the last event read. */
  lastEventPos: bigint | number;
  /** End of the last byte read. */
  lastBytePos: bigint | number;
}

export function withLocation(message: string, loc: DumpLocation): string {
  return (
    `${message}; the first event '${loc.startFile}' at ${loc.startPos}, ` +
    `the last event read from '${loc.lastFile}' at ${loc.lastEventPos}, ` +
    `the last byte read from '${loc.lastFile}' at ${loc.lastBytePos}.`
  );
}

// ---- the catalogue ---------------------------------------------------------------------------------------

export const messages = {
  /** Nothing stored: the servers' "binlog disabled" case. */
  binlogNotOpen(): string {
    return 'Binary log is not open';
  },

  fileNotFound(): string {
    return 'Could not find first log file name in binary log index file';
  },

  positionBelow4(w: Wording): string {
    return w.flavor === 'mariadb'
      ? 'Client requested master to start replication from impossible position'
      : `Client requested ${w.source} to start replication from position < 4.`;
  },

  positionPastEnd(w: Wording): string {
    return w.flavor === 'mariadb'
      ? 'Client requested master to start replication from impossible position'
      : `Client requested ${w.source} to start replication from position > file size`;
  },

  /**
   * A position inside an event. Neither server checks this up front: MariaDB's sender reports the
   * impossible-position text for any position it cannot serve, MySQL's reads garbage at that offset and fails
   * with its read error "bogus data in log event".
   */
  positionNotAtEvent(w: Wording): string {
    return w.flavor === 'mariadb' ? 'Client requested master to start replication from impossible position' : 'bogus data in log event';
  },

  checksumUnknown(w: Wording): string {
    return `${cap(w.replica)} can not handle replication events with the checksum that ${w.source} is configured to log`;
  },

  gtidModeOff(): string {
    return 'Request to dump GTID when @@GLOBAL.GTID_MODE <> ON.';
  },

  replicaAhead(w: Wording): string {
    const s = w.source;
    const r = w.replica;
    return (
      `${cap(r)} has more GTIDs than the ${s} has, using the ${s}'s SERVER_UUID. This may indicate that the end ` +
      `of the binary log was truncated or that the last binary log file was lost, e.g., after a power or disk ` +
      `failure when sync_binlog != 1. The ${s} may or may not have rolled back transactions that were already ` +
      `replicated to the ${r}. Suggest to replicate any transactions that ${r} has, but ${s} has not, back to the ` +
      `${s}, and then restart replication.`
    );
  },

  purgedGtids(w: Wording, replicaSet: string, missing: string): string {
    if (compareVersion(w.version, [8, 0, 0]) < 0) {
      return (
        'The slave is connecting using CHANGE MASTER TO MASTER_AUTO_POSITION = 1, but the master has purged ' +
        'binary logs containing GTIDs that the slave requires.'
      );
    }
    const s = w.source;
    const r = w.replica;
    return (
      `Cannot replicate because the ${s} purged required binary logs. Replicate the missing transactions from ` +
      `elsewhere, or provision a new ${r} from backup. Consider increasing the ${s}'s binary log expiration ` +
      `period. The GTID set sent by the ${r} is '${replicaSet}', and the missing transactions are '${missing}'.`
    );
  },

  anonymousInGtidDump(file: string, pos: bigint | number): string {
    return `Cannot replicate anonymous transaction when AUTO_POSITION = 1, at file ${file}, position ${pos}.`;
  },

  mariadbGtidNotFound(g: MariadbGtid, diverged: boolean): string {
    const base = `Error: connecting slave requested to start from GTID ${gtidText(g)}, which is not in the master's binlog`;
    return diverged
      ? `${base}. Since the master's binlog contains GTIDs with higher sequence numbers, it probably means that ` +
          'the slave has diverged due to executing extra erroneous transactions'
      : base;
  },

  mariadbGtidHole(g: MariadbGtid): string {
    return (
      `The binlog on the master is missing the GTID ${gtidText(g)} requested by the slave (even though both a ` +
      'prior and a subsequent sequence number does exist), and GTID strict mode is enabled'
    );
  },

  mariadbNoFileForState(): string {
    return (
      'Could not find GTID state requested by slave in any binlog files. Probably the slave state is too old and ' +
      'required binlog files have been purged.'
    );
  },

  mariadbBadConnectState(): string {
    return 'Out of memory or malformed slave request when obtaining start position from GTID state';
  },

  mariadbBadUntilState(): string {
    return 'Out of memory or malformed slave request when obtaining UNTIL position sent from slave';
  },

  mariadbGtidRewriteFailed(): string {
    return 'Failed to replace GTID event with backwards-compatible event: corrupt event.';
  },

  mariadbDummyFailed(what: 'annotate' | 'checkpoint'): string {
    return what === 'annotate'
      ? 'Failed to replace row annotate event with dummy: too small event.'
      : 'Failed to replace binlog checkpoint or gtid list event with dummy: too small event.';
  },

  /** A stored event that does not frame (should never happen: storage checks framing on append). */
  bogusData(): string {
    return 'bogus data in log event';
  },

  storageRead(w: Wording): string {
    return `unknown error reading log event on the ${w.source}`;
  },
};

function gtidText(g: MariadbGtid): string {
  return `${g.domainId}-${g.serverId}-${g.seqNo}`;
}
